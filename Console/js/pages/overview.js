// Overview: how many of everything, quota use, the latest audit events.
import { all, get, id } from '../api.js';
import { h, replace, section, table } from '../dom.js';
import { usage } from '../charts.js';
import { stateName, ago } from '../format.js';

export const title = () => 'Overview';

export async function render(ctx) {
  const tenantID = ctx.me.principal?.tenantId || ctx.me.tenant?.id;
  const counts = h('div', { class: 'tiles', id: 'counts' });
  const quota = h('div', { id: 'quota' });
  const audit = h('div', { id: 'recent-audit' });
  ctx.main.append(h('h1', {}, 'Overview'),
    h('p', { class: 'muted' }, `Signed in as ${ctx.me.user?.email ?? ctx.me.principal?.userId} in ${ctx.me.tenant?.name ?? tenantID}.`),
    section('Resources', counts),
    ctx.can('quota:read') ? section('Quota', quota) : null,
    ctx.can('audit:read') ? section('Recent activity', audit, h('p', {}, h('a', { href: '#/audit' }, 'The whole audit log →'))) : null);

  const tile = (label, value, href) => h('a', { class: 'tile', href }, h('span', { class: 'tile-value' }, String(value)), h('span', { class: 'tile-label' }, label));
  const jobs = [];
  if (ctx.can('instance:read')) {
    jobs.push(Promise.all([all('instances', 'instances'), get('instance-types')]).then(([instances, types]) => {
      const running = instances.filter((i) => i.state === 'INSTANCE_STATE_RUNNING');
      // What the running instances cost at their types' list prices.
      const price = Object.fromEntries((types.instanceTypes || []).map((t) => [t.id, Number(t.pricePerHour || 0)]));
      const perHour = running.reduce((sum, i) => sum + (price[i.instanceType] || 0), 0);
      return [tile('Instances', instances.length, '#/instances'), tile('Running', running.length, '#/instances'),
        tile('Cost per hour, running', perHour.toFixed(4), '#/instances')];
    }));
    jobs.push(all('images', 'images').then((images) => [tile('Images', images.length, '#/images')]));
  }
  if (ctx.can('vpc:read')) jobs.push(all('vpcs', 'vpcs').then((vpcs) => [tile('VPCs', vpcs.length, '#/vpcs')]));
  if (ctx.can('iam:read')) jobs.push(all('users', 'users').then((users) => [tile('Users', users.length, '#/identity/users')]));
  jobs.push(all('api-keys', 'keys').then((keys) => [tile('My API keys', keys.filter((k) => !k.revokeTime).length, '#/identity/keys')]));
  const tiles = await Promise.allSettled(jobs);
  replace(counts, tiles.flatMap((t) => (t.status === 'fulfilled' ? t.value : [])));

  if (ctx.can('quota:read') && tenantID) {
    try {
      const q = await get(`tenants/${id(tenantID)}/quota`);
      replace(quota, quotaBars(q));
    } catch (error) { ctx.showError(error, quota); }
  }
  if (ctx.can('audit:read')) {
    try {
      const page = await get('audit-events', { page_size: 8 });
      replace(audit, auditTable(page.events || [], 'No activity yet.'));
    } catch (error) { ctx.showError(error, audit); }
  }
}

export function quotaBars(q) {
  const limits = q.limits || {};
  const used = q.used || {};
  return h('div', { class: 'usages' },
    usage('Instances', used.instances, limits.instances),
    usage('vCPUs', used.vcpus, limits.vcpus),
    usage('Memory', used.memoryMb, limits.memoryMb, ' MiB'),
    usage('Storage', used.storageGb, limits.storageGb, ' GB'),
    usage('Buckets', used.buckets, limits.buckets),
    usage('Databases', used.databases, limits.databases));
}

export function auditTable(events, empty) {
  return table('Audit events', ['#', 'When', 'Action', 'Resource', 'Outcome', 'Source'], events.map((e) => ({
    attrs: { 'data-action': e.action },
    cells: [e.seq, ago(e.occurTime), h('code', {}, e.action), `${e.resourceType || ''} ${e.resourceId ? e.resourceId.slice(0, 8) : ''}`.trim() || '—',
      h('span', { class: ['outcome', `outcome-${stateName(e.outcome).toLowerCase()}`] }, stateName(e.outcome)), e.source || '—'],
  })), empty);
}
