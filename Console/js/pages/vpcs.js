// VPCs: isolated networks for instances.
import { all, post, del, id } from '../api.js';
import { h, field, replace, section, table, confirmAction } from '../dom.js';
import { time } from '../format.js';

export const title = () => 'VPCs';

export async function render(ctx) {
  const box = h('div', { id: 'vpc-list' });
  const refresh = async () => {
    const vpcs = await all('vpcs', 'vpcs');
    replace(box, table('VPCs', ['Name', 'CIDR', 'Id', 'Created', ''], vpcs.map((vpc) => ({
      attrs: { 'data-vpc': vpc.id, 'data-name': vpc.name },
      cells: [vpc.name, h('code', {}, vpc.cidr), h('code', {}, vpc.id), time(vpc.createTime),
        ctx.can('vpc:manage') ? h('button', {
          type: 'button', class: 'danger small', 'aria-label': `Delete VPC ${vpc.name}`,
          async onclick() {
            if (!await confirmAction(`Delete ${vpc.name}?`, 'Its network is removed.', 'Delete')) return;
            try { await del(`vpcs/${id(vpc.id)}`); ctx.toast(`Deleted ${vpc.name}.`); } catch (error) { ctx.showError(error); }
            await refresh();
          },
        }, 'Delete') : '',
      ],
    })), 'No VPCs yet: instances use the default network.'));
  };
  const form = () => {
    const name = h('input', { id: 'vpc-name', required: true, autocomplete: 'off', maxlength: 63 });
    const cidr = h('input', { id: 'vpc-cidr', required: true, autocomplete: 'off', placeholder: '10.20.0.0/24' });
    const status = h('div', { 'aria-live': 'polite' });
    return h('form', {
      class: 'grid-form', id: 'vpc-form',
      async onsubmit(event) {
        event.preventDefault();
        replace(status);
        try {
          const vpc = await post('vpcs', { name: name.value.trim(), cidr: cidr.value.trim() });
          ctx.toast(`Created ${vpc.name}.`);
          event.target.reset();
          await refresh();
        } catch (error) { ctx.showError(error, status); }
      },
    }, field('Name', name), field('CIDR', cidr, 'IPv4 /16 to /28, not overlapping your other VPCs.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create VPC')), status);
  };
  ctx.main.append(h('h1', {}, 'VPCs'),
    ctx.can('vpc:manage') ? section('Create a VPC', form()) : null,
    section('Your VPCs', box));
  await refresh();
}
