// The tenant's audit log, newest first, with filters and hash-chain verification.
import { get } from '../api.js';
import { h, field, replace, section } from '../dom.js';
import { auditTable } from './overview.js';

export const title = () => 'Audit log';

export async function render(ctx) {
  const action = h('input', { id: 'audit-action', autocomplete: 'off', placeholder: 'instance.launch' });
  const resourceType = h('input', { id: 'audit-resource-type', autocomplete: 'off', placeholder: 'instance' });
  const list = h('div', { id: 'audit-list', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Older events');
  const verification = h('div', { id: 'verify-result', 'aria-live': 'polite' });
  let events = [];
  let next = '';

  const load = async (reset) => {
    if (reset) { events = []; next = ''; }
    const page = await get('audit-events', { page_size: 50, page_token: next, action: action.value.trim(), resource_type: resourceType.value.trim() });
    events = events.concat(page.events || []);
    next = page.nextPageToken || '';
    more.hidden = !next;
    replace(list, auditTable(events, 'No events match.'));
  };
  more.addEventListener('click', () => load(false).catch(ctx.showError));

  const verify = h('button', {
    type: 'button', id: 'verify-chain', class: 'secondary',
    async onclick() {
      replace(verification, h('p', { class: 'muted' }, 'Verifying…'));
      try {
        const result = await get('audit-events:verify');
        replace(verification, result.ok
          ? h('p', { class: 'notice' }, `The chain verifies: ${result.checked ?? 0} events, none altered, deleted or reordered.`)
          : h('p', { class: 'error', role: 'alert' }, `The chain is broken at event ${result.firstBadSeq}: ${result.problem}`));
      } catch (error) { ctx.showError(error, verification); }
    },
  }, 'Verify the chain');

  ctx.main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Audit log'), verify), verification,
    section('Events',
      h('form', { class: 'grid-form filters', onsubmit(event) { event.preventDefault(); load(true).catch(ctx.showError); } },
        field('Action', action), field('Resource type', resourceType),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'secondary' }, 'Filter'))),
      list, more));
  await load(true);
  // New events appear without a reload (only the first page, and only when not paging back).
  ctx.every(5000, async () => { if (events.length <= 50) await load(true); }, { later: true });
}
