// One instance: what it is, actions, its logs (following while it runs) and CPU/memory charts.
import { get, id } from '../api.js';
import { h, replace, section } from '../dom.js';
import { lineChart } from '../charts.js';
import { stateName, isTransitional, ports, time, decodeBytes } from '../format.js';
import { stateBadge, actionButtons } from './instances.js';

export const title = ([instanceID]) => `Instance ${instanceID?.slice(0, 8) ?? ''}`;

const SAMPLES = 60;

export async function render(ctx, [instanceID]) {
  let instance = await get(`instances/${id(instanceID)}`);
  const head = h('div', { class: 'page-head' });
  const summary = h('div', { id: 'instance-summary' });
  const logBox = h('pre', { id: 'logs', class: 'logs', tabindex: 0, 'aria-label': 'Instance logs' });
  const follow = h('input', { type: 'checkbox', id: 'follow-logs', checked: true });
  const charts = h('div', { class: 'charts', id: 'charts' });
  const cpu = [];
  const memory = [];
  let memoryLimitMb;

  const showSummary = () => {
    replace(head, h('h1', {}, instance.name), stateBadge(instance.state), actionButtons(ctx, instance, reload));
    const env = Object.keys(instance.env || {});
    const labels = Object.entries(instance.labels || {});
    replace(summary, h('dl', { class: 'facts' },
      fact('State', [stateName(instance.state), instance.stateReason ? ` — ${instance.stateReason}` : '',
        instance.hasExitCode ? ` (exit code ${instance.exitCode})` : '']),
      fact('Id', h('code', {}, instance.id)),
      fact('Image', instance.image), fact('Type', `${instance.instanceType} (${instance.vcpus} vCPU, ${instance.memoryMb} MiB)`),
      fact('VPC', instance.vpcId || 'Default network'), fact('Private IP', instance.privateIp || '—'),
      fact('Ports', ports(instance) || '—'),
      fact('Command', instance.command?.length ? h('code', {}, instance.command.map(quoteWord).join(' ')) : "Image's default"),
      fact('Environment', env.length ? env.join(', ') : '—'),
      fact('Labels', labels.length ? h('ul', { class: 'plain', id: 'labels' }, labels.map(([k, v]) => h('li', {}, h('code', {}, k), ' = ', v))) : '—'),
      fact('Created', time(instance.createTime)), fact('Launched', time(instance.launchTime))));
  };

  async function reload() {
    instance = await get(`instances/${id(instanceID)}`);
    showSummary();
  }

  ctx.main.append(head,
    h('p', {}, h('a', { href: '#/instances' }, '← All instances')),
    section('Details', summary),
    section('Metrics', h('p', { class: 'muted hint' }, 'Sampled every two seconds while the instance runs.'), charts),
    section('Logs', h('label', { class: 'inline' }, follow, ' Follow new output'), logBox));
  showSummary();

  const drawCharts = () => replace(charts,
    lineChart({ title: 'CPU', samples: cpu, max: 100 * Math.max(instance.vcpus || 1, 1), format: (v) => `${v.toFixed(1)} %` }),
    lineChart({ title: 'Memory', samples: memory, limit: memoryLimitMb, format: (v) => `${v.toFixed(1)} MiB` }));
  drawCharts();

  ctx.every(() => (isTransitional(instance.state) ? 1000 : 4000), reload, { later: true });

  ctx.every(2000, async () => {
    if (instance.state !== 'INSTANCE_STATE_RUNNING') return;
    const stats = await get(`instances/${id(instanceID)}/stats`, {}, { signal: ctx.signal });
    const t = stats.readTime ? new Date(stats.readTime).getTime() : Date.now();
    cpu.push({ t, v: Number(stats.cpuPercent || 0) });
    memory.push({ t, v: Number(stats.memoryUsageBytes || 0) / 1048576 });
    memoryLimitMb = Number(stats.memoryLimitBytes || 0) / 1048576 || undefined;
    if (cpu.length > SAMPLES) cpu.shift();
    if (memory.length > SAMPLES) memory.shift();
    drawCharts();
  });

  // The REST face answers a log request once it is complete, so following is asking again for
  // the last lines every two seconds.
  let lastText = null;
  const readLogs = async () => {
    let text;
    try {
      const chunks = await get(`instances/${id(instanceID)}/logs`, { tail_lines: 500 }, { signal: ctx.signal });
      text = (Array.isArray(chunks) ? chunks : []).map((c) => decodeBytes(c.data)).join('') || '(no output yet)';
    } catch (error) {
      if (error.name === 'AbortError' || error.status === 401) throw error;
      // No container yet (pending) or any more (terminated): say so where the logs go.
      text = `(no logs now: ${error.message})`;
    }
    if (text === lastText) return;
    lastText = text;
    const atBottom = logBox.scrollHeight - logBox.scrollTop - logBox.clientHeight < 24;
    logBox.textContent = text;
    if (atBottom) logBox.scrollTop = logBox.scrollHeight;
  };
  ctx.every(2000, async () => {
    if (lastText !== null && (!follow.checked || instance.state === 'INSTANCE_STATE_TERMINATED')) return;
    await readLogs();
  });
}

/** A command word as a shell would need it written: quoted when it holds spaces or quotes. */
function quoteWord(word) {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

function fact(term, value) {
  return [h('dt', {}, term), h('dd', {}, value)];
}

