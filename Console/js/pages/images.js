// Images: the platform's and the tenant's own; delete the tenant's.
import { all, del, id } from '../api.js';
import { h, replace, section, table, confirmAction } from '../dom.js';
import { bytes, time } from '../format.js';

export const title = () => 'Images';

export async function render(ctx) {
  const box = h('div', { id: 'image-list' });
  const refresh = async () => {
    const images = await all('images', 'images');
    replace(box, table('Images', ['Name', 'Description', 'Size', 'Owner', 'Created', ''], images.map((image) => ({
      attrs: { 'data-image': image.id },
      cells: [image.name, image.description || '—', bytes(image.sizeBytes), image.tenantId ? 'This tenant' : 'Platform',
        time(image.createTime),
        image.tenantId && ctx.can('instance:manage') ? h('button', {
          type: 'button', class: 'danger small', 'aria-label': `Delete image ${image.name}`,
          async onclick() {
            if (!await confirmAction(`Delete ${image.name}?`, 'Instances can no longer be launched from it.', 'Delete')) return;
            try { await del(`images/${id(image.id)}`); ctx.toast(`Deleted ${image.name}.`); } catch (error) { ctx.showError(error); }
            await refresh();
          },
        }, 'Delete') : '',
      ],
    })), 'No images.'));
  };
  ctx.main.append(h('h1', {}, 'Images'),
    section('Images you can launch', box,
      h('p', { class: 'muted hint' }, 'Import your own root filesystem with ',
        h('code', {}, 'nimbus images import rootfs.tar --name tools'), ' (uploads stream over gRPC).')));
  await refresh();
}
