// Turning API values into what a person reads.

export function stateName(state) {
  if (!state) return 'Unknown';
  const word = String(state).replace(/^INSTANCE_STATE_|^AUDIT_OUTCOME_|^LOG_STREAM_/, '').toLowerCase();
  return word.charAt(0).toUpperCase() + word.slice(1);
}

const TRANSITIONAL = new Set(['INSTANCE_STATE_PENDING', 'INSTANCE_STATE_STOPPING', 'INSTANCE_STATE_STARTING',
  'INSTANCE_STATE_REBOOTING', 'INSTANCE_STATE_TERMINATING']);

/** The instance is on its way somewhere: worth asking again soon. */
export function isTransitional(state) {
  return TRANSITIONAL.has(state) || !state;
}

export function time(value) {
  if (!value) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function ago(value) {
  if (!value) return '—';
  const seconds = Math.round((Date.now() - new Date(value).getTime()) / 1000);
  if (Number.isNaN(seconds)) return String(value);
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function bytes(value) {
  let n = Number(value || 0);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) { n /= 1024; unit += 1; }
  return `${n < 10 && unit > 0 ? n.toFixed(1) : Math.round(n)} ${units[unit]}`;
}

export function ports(instance) {
  const published = instance.published || [];
  const requested = instance.ports || [];
  const list = published.length ? published : requested;
  return list.map((p) => {
    const protocol = p.protocol && p.protocol !== 'tcp' ? `/${p.protocol}` : '';
    return p.hostPort ? `${p.hostIp || '127.0.0.1'}:${p.hostPort}→${p.containerPort}${protocol}` : `${p.containerPort}${protocol}`;
  }).join(', ');
}

/** "8080, 53/udp, 9000:80" → PortMapping list; throws with a message a person understands. */
export function parsePorts(text) {
  return text.split(/[\s,]+/).filter(Boolean).map((part) => {
    const match = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(part);
    if (!match) throw new Error(`"${part}" is not a port; write 8080, 53/udp or 9000:80 (host:container)`);
    const mapping = { containerPort: Number(match[2]), protocol: match[3] || 'tcp' };
    if (match[1]) mapping.hostPort = Number(match[1]);
    for (const n of [mapping.containerPort, mapping.hostPort]) {
      if (n !== undefined && (n < 1 || n > 65535)) throw new Error(`port ${n} is outside 1–65535`);
    }
    return mapping;
  });
}

/** KEY=VALUE lines → an object. */
export function parseEnv(text) {
  const env = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`environment line ${index + 1} is not KEY=VALUE`);
    env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return env;
}

/** A command line split like a shell would for simple quoting: sh -c "echo hi". */
export function parseCommand(text) {
  const words = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let match;
  while ((match = re.exec(text)) !== null) {
    words.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2] !== undefined ? match[2] : match[3]);
  }
  return words;
}

/** Base64 (protobuf bytes in JSON) → text. */
export function decodeBytes(base64) {
  if (!base64) return '';
  const binary = atob(base64.replace(/-/g, '+').replace(/_/g, '/'));
  const data = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(data);
}

export function shortID(id) {
  return id ? String(id).slice(0, 8) : '';
}
