// Instances: the list with states that update themselves, actions, and the launch form.
import { all, get, post, del, id } from '../api.js';
import { h, field, replace, section, table, confirmAction } from '../dom.js';
import { stateName, isTransitional, ports, parsePorts, parseEnv, parseCommand, ago } from '../format.js';

export const title = () => 'Instances';

export const ACTIONS = {
  stop: { label: 'Stop', states: ['INSTANCE_STATE_RUNNING'] },
  start: { label: 'Start', states: ['INSTANCE_STATE_STOPPED', 'INSTANCE_STATE_ERROR'] },
  reboot: { label: 'Reboot', states: ['INSTANCE_STATE_RUNNING'] },
  terminate: { label: 'Terminate', states: ['INSTANCE_STATE_PENDING', 'INSTANCE_STATE_RUNNING', 'INSTANCE_STATE_STOPPED', 'INSTANCE_STATE_ERROR', 'INSTANCE_STATE_STARTING', 'INSTANCE_STATE_STOPPING', 'INSTANCE_STATE_REBOOTING'] },
};

export function stateBadge(state) {
  const name = stateName(state);
  return h('span', { class: ['state', `state-${name.toLowerCase()}`], 'data-state': name.toUpperCase() }, name);
}

/** Runs an instance action; `after` refreshes whatever shows the instance. */
export async function runAction(ctx, instance, action, after) {
  if (action === 'terminate') {
    const ok = await confirmAction(`Terminate ${instance.name}?`,
      'The container is removed and its quota released. This cannot be undone.', 'Terminate');
    if (!ok) return;
  }
  try {
    if (action === 'terminate') await del(`instances/${id(instance.id)}`);
    else await post(`instances/${id(instance.id)}:${action}`, {});
    ctx.toast(`${ACTIONS[action].label}: ${instance.name} is on its way.`);
  } catch (error) {
    ctx.showError(error);
  }
  await after();
}

export function actionButtons(ctx, instance, after) {
  if (!ctx.can('instance:manage')) return null;
  return h('div', { class: 'row-actions' }, Object.entries(ACTIONS)
    .filter(([, action]) => action.states.includes(instance.state))
    .map(([name, action]) => h('button', {
      type: 'button', class: name === 'terminate' ? 'danger small' : 'secondary small',
      'data-action': name, 'aria-label': `${action.label} ${instance.name}`,
      onclick: (event) => { event.currentTarget.disabled = true; runAction(ctx, instance, name, after); },
    }, action.label)));
}

export async function render(ctx) {
  const listBox = h('div', { id: 'instance-list', 'aria-live': 'polite', 'aria-busy': 'true' });
  const showTerminated = h('input', { type: 'checkbox', id: 'show-terminated' });
  let instances = [];

  const refresh = async () => {
    instances = await all('instances', 'instances', { include_terminated: showTerminated.checked });
    listBox.setAttribute('aria-busy', 'false');
    replace(listBox, table('Instances', ['Name', 'State', 'Type', 'Image', 'Ports', 'Private IP', 'Created', ''],
      instances.map((i) => ({
        attrs: { 'data-instance': i.id, 'data-name': i.name },
        cells: [
          h('a', { href: `#/instances/${encodeURIComponent(i.id)}` }, i.name),
          h('span', {}, stateBadge(i.state), i.stateReason ? h('small', { class: 'reason' }, ` ${i.stateReason}`) : null),
          i.instanceType, i.image, ports(i) || '—', i.privateIp || '—', ago(i.createTime),
          actionButtons(ctx, i, refresh) || '',
        ],
      })), 'No instances yet.'));
  };
  showTerminated.addEventListener('change', () => refresh().catch(ctx.showError));

  ctx.main.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Instances'),
      h('label', { class: 'inline' }, showTerminated, ' Show terminated')),
    ctx.can('instance:launch') ? await launchForm(ctx, refresh) : null,
    section('Your instances', listBox));
  // Quickly while something is on its way, slowly otherwise.
  await refresh();
  ctx.every(() => (instances.some((i) => isTransitional(i.state)) ? 1000 : 5000), refresh, { later: true });
}

async function launchForm(ctx, refresh) {
  const [images, types, vpcs] = await Promise.all([
    all('images', 'images').catch(() => []),
    get('instance-types').then((r) => r.instanceTypes || []).catch(() => []),
    ctx.can('vpc:read') ? all('vpcs', 'vpcs').catch(() => []) : [],
  ]);
  const name = h('input', { id: 'launch-name', name: 'name', required: true, autocomplete: 'off', maxlength: 63 });
  const image = h('select', { id: 'launch-image', name: 'image', required: true },
    images.map((i) => h('option', { value: i.name }, i.name + (i.tenantId ? '' : ' (platform)'))));
  const type = h('select', { id: 'launch-type', name: 'type' },
    types.map((t) => h('option', { value: t.id, selected: t.id === 'basic-1' },
      `${t.id} — ${t.vcpus} vCPU, ${t.memoryMb} MiB${t.pricePerHour ? `, ${t.pricePerHour}/h` : ''}`)));
  const vpc = h('select', { id: 'launch-vpc', name: 'vpc' }, h('option', { value: '' }, 'Default network'),
    vpcs.map((v) => h('option', { value: v.id }, `${v.name} (${v.cidr})`)));
  const portsInput = h('input', { id: 'launch-ports', name: 'ports', autocomplete: 'off', placeholder: '8080, 53/udp' });
  const command = h('input', { id: 'launch-command', name: 'command', autocomplete: 'off', placeholder: 'httpd -f -p 8080' });
  const env = h('textarea', { id: 'launch-env', name: 'env', rows: 3, placeholder: 'KEY=value', spellcheck: 'false' });
  const status = h('div', { id: 'launch-status', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', id: 'launch' }, 'Launch');

  const form = h('form', {
    id: 'launch-form', class: 'grid-form',
    async onsubmit(event) {
      event.preventDefault();
      replace(status);
      let body;
      try {
        body = {
          name: name.value.trim(), image: image.value, instanceType: type.value, vpcId: vpc.value,
          ports: parsePorts(portsInput.value), env: parseEnv(env.value), command: parseCommand(command.value),
          clientToken: crypto.randomUUID(),
        };
      } catch (error) {
        replace(status, h('p', { class: 'error', role: 'alert' }, error.message));
        return;
      }
      submit.disabled = true;
      try {
        const instance = await post('instances', body);
        replace(status, h('p', { class: 'notice' }, `Launching ${instance.name}… it shows as Running below when it is up.`));
        form.reset();
        await refresh();
        watchUntilSettled(ctx, instance, status);
      } catch (error) {
        ctx.showError(error, status);
      } finally {
        submit.disabled = false;
      }
    },
  },
  field('Name', name, 'Lower-case letters, digits and “-”.'), field('Image', image), field('Type', type), field('VPC', vpc),
  field('Ports (optional)', portsInput, 'Container ports, published on 127.0.0.1.'),
  field('Command (optional)', command, "Empty: the image's own command."),
  field('Environment (optional)', env, 'One KEY=value a line; stored sealed.'),
  h('div', { class: 'actions' }, submit), status);
  // Open on a laptop; folded on a phone, where the list matters first.
  return h('details', { class: 'card', open: matchMedia('(min-width: 700px)').matches }, h('summary', {}, h('h2', {}, 'Launch an instance')), form);
}

/** Asks about a new instance until it is RUNNING or failed, then says so. */
function watchUntilSettled(ctx, instance, status) {
  const started = Date.now();
  ctx.every(1000, async () => {
    if (!status.isConnected) return false;
    const now = await get(`instances/${id(instance.id)}`);
    if (isTransitional(now.state) && Date.now() - started < 300000) return;
    if (now.state === 'INSTANCE_STATE_RUNNING') {
      replace(status, h('p', { class: 'notice' }, `${now.name} is running.`));
      ctx.toast(`${now.name} is running.`);
    } else {
      replace(status, h('p', { class: 'error', role: 'alert' }, `${now.name} is ${stateName(now.state)}${now.stateReason ? `: ${now.stateReason}` : ''}.`));
    }
    return false;
  });
}
