// Identity: users, tenants and members, roles, API keys (the secret shown once) and quotas.
import { all, get, post, put, patch, del, id } from '../api.js';
import { h, field, replace, section, table, confirmAction } from '../dom.js';
import { time, ago } from '../format.js';
import { quotaBars } from './overview.js';

const TABS = [
  { path: 'users', title: 'Users', needs: 'iam:read' },
  { path: 'members', title: 'Tenants & members' },
  { path: 'roles', title: 'Roles', needs: 'iam:read' },
  { path: 'keys', title: 'API keys' },
  { path: 'quotas', title: 'Quotas', needs: 'quota:read' },
];

export const title = ([tab]) => { const t = TABS.find((x) => x.path === tab); return t ? `Identity · ${t.title}` : 'Identity'; };

export async function render(ctx, [tab]) {
  const tabs = TABS.filter((t) => !t.needs || ctx.can(t.needs));
  const active = tabs.find((t) => t.path === tab) || tabs.find((t) => t.path === 'users') || tabs[0];
  const body = h('div', { id: 'identity-body' });
  ctx.main.append(h('h1', {}, 'Identity'),
    h('nav', { class: 'tabs', 'aria-label': 'Identity sections' }, h('ul', {}, tabs.map((t) =>
      h('li', {}, h('a', { href: `#/identity/${t.path}`, 'aria-current': t === active ? 'page' : undefined }, t.title))))),
    body);
  await ({ users, members, roles, keys, quotas })[active.path](ctx, body);
}

const formStatus = () => h('div', { class: 'form-status', 'aria-live': 'polite' });

async function roleOptions(selected = 'viewer') {
  const roles = (await get('roles')).roles || [];
  return roles.map((r) => h('option', { value: r.name, selected: r.name === selected }, r.name));
}

// ── users ──

async function users(ctx, body) {
  const box = h('div', { id: 'user-list' });
  const refresh = async () => {
    const list = await all('users', 'users');
    replace(box, table('Users', ['Email', 'Name', 'Active', 'Created', ''], list.map((u) => ({
      attrs: { 'data-user': u.id, 'data-email': u.email },
      cells: [u.email, u.name || '—', u.isActive ? 'Yes' : 'No', time(u.createTime),
        ctx.can('iam:manage') && u.id !== ctx.me.user?.id ? h('div', { class: 'row-actions' },
          u.isActive ? h('button', {
            type: 'button', class: 'secondary small', 'aria-label': `Deactivate ${u.email}`,
            async onclick() {
              if (!await confirmAction(`Deactivate ${u.email}?`, 'They cannot sign in and their keys stop working at once.', 'Deactivate')) return;
              try { await post(`users/${id(u.id)}:deactivate`, { version: u.version }); ctx.toast(`${u.email} is deactivated.`); } catch (error) { ctx.showError(error); }
              await refresh();
            },
          }, 'Deactivate') : null,
          h('button', {
            type: 'button', class: 'danger small', 'aria-label': `Delete ${u.email}`,
            async onclick() {
              if (!await confirmAction(`Delete ${u.email}?`, 'The user and their keys are removed.', 'Delete')) return;
              try { await del(`users/${id(u.id)}`); ctx.toast(`${u.email} is deleted.`); } catch (error) { ctx.showError(error); }
              await refresh();
            },
          }, 'Delete')) : '',
      ],
    }))));
  };
  if (ctx.can('iam:manage')) {
    const email = h('input', { id: 'user-email', type: 'email', required: true, autocomplete: 'off' });
    const name = h('input', { id: 'user-name', autocomplete: 'off' });
    const password = h('input', { id: 'user-password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' });
    const role = h('select', { id: 'user-role' }, await roleOptions());
    const status = formStatus();
    body.append(section('Create a user', h('form', {
      class: 'grid-form', id: 'user-form',
      async onsubmit(event) {
        event.preventDefault();
        replace(status);
        try {
          const user = await post('users', { email: email.value.trim(), name: name.value.trim(), password: password.value, role: role.value });
          replace(status, h('p', { class: 'notice' }, `Created ${user.email} as ${role.value}.`));
          event.target.reset();
          await refresh();
        } catch (error) { ctx.showError(error, status); }
      },
    }, field('Email', email), field('Name', name), field('Password', password, 'At least 8 characters.'), field('Role', role),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'create-user' }, 'Create user')), status)));
  }
  body.append(section('Members of this tenant', box));
  await refresh();
}

// ── tenants and members ──

async function members(ctx, body) {
  const tenantID = ctx.me.principal?.tenantId;
  const tenantsBox = h('div', { id: 'tenant-list' });
  const membersBox = h('div', { id: 'member-list' });
  const refreshTenants = async () => {
    const tenants = await all('tenants', 'tenants');
    replace(tenantsBox, table('Tenants', ['Name', 'Slug', 'Id', 'Created', ''], tenants.map((t) => ({
      attrs: { 'data-tenant': t.id },
      cells: [t.name, t.slug, h('code', {}, t.id), time(t.createTime),
        t.id === tenantID ? h('span', { class: 'muted' }, 'Current') : h('button', {
          type: 'button', class: 'secondary small', 'aria-label': `Make ${t.name} my default tenant`,
          async onclick() {
            try { await post(`tenants/${id(t.id)}:setDefault`); ctx.toast(`${t.name} is your default tenant at the next sign-in.`); } catch (error) { ctx.showError(error); }
          },
        }, 'Make default')],
    }))));
  };
  const refreshMembers = async () => {
    if (!ctx.can('iam:read')) { replace(membersBox, h('p', { class: 'muted' }, 'Your role cannot see the members.')); return; }
    const list = await all(`tenants/${id(tenantID)}/members`, 'members');
    const roles = ctx.can('iam:manage') ? (await get('roles')).roles || [] : [];
    replace(membersBox, table('Members', ['Email', 'Role', 'Since', ''], list.map((m) => ({
      attrs: { 'data-member': m.userId },
      cells: [m.email, ctx.can('iam:manage') && m.userId !== ctx.me.user?.id
        ? h('select', {
          'aria-label': `Role of ${m.email}`,
          async onchange(event) {
            try { await patch(`tenants/${id(tenantID)}/members/${id(m.userId)}`, { role: event.target.value }); ctx.toast(`${m.email} is now ${event.target.value}.`); } catch (error) { ctx.showError(error); }
            await refreshMembers();
          },
        }, roles.map((r) => h('option', { value: r.name, selected: r.name === m.role }, r.name)))
        : m.role,
      time(m.createTime),
      ctx.can('iam:manage') && m.userId !== ctx.me.user?.id ? h('button', {
        type: 'button', class: 'danger small', 'aria-label': `Remove ${m.email} from the tenant`,
        async onclick() {
          if (!await confirmAction(`Remove ${m.email}?`, 'They lose access to this tenant.', 'Remove')) return;
          try { await del(`tenants/${id(tenantID)}/members/${id(m.userId)}`); } catch (error) { ctx.showError(error); }
          await refreshMembers();
        },
      }, 'Remove') : ''],
    }))));
  };

  const name = h('input', { id: 'tenant-name', required: true, autocomplete: 'off' });
  const slug = h('input', { id: 'tenant-slug', required: true, autocomplete: 'off', pattern: '[a-z0-9-]+' });
  const tenantStatus = formStatus();
  const tenantForm = h('form', {
    class: 'grid-form', id: 'tenant-form',
    async onsubmit(event) {
      event.preventDefault();
      replace(tenantStatus);
      try {
        const t = await post('tenants', { name: name.value.trim(), slug: slug.value.trim() });
        replace(tenantStatus, h('p', { class: 'notice' }, `Created ${t.name}; you are its admin. Sign in with its id to work in it.`));
        event.target.reset();
        await refreshTenants();
      } catch (error) { ctx.showError(error, tenantStatus); }
    },
  }, field('Name', name), field('Slug', slug, 'Lower-case letters, digits and “-”; unique.'),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create tenant')), tenantStatus);

  let addForm = null;
  if (ctx.can('iam:manage')) {
    const user = h('input', { id: 'member-user', required: true, autocomplete: 'off', placeholder: 'user id' });
    const role = h('select', { id: 'member-role' }, await roleOptions());
    const status = formStatus();
    addForm = h('form', {
      class: 'grid-form', id: 'member-form',
      async onsubmit(event) {
        event.preventDefault();
        replace(status);
        try {
          await post(`tenants/${id(tenantID)}/members`, { userId: user.value.trim(), role: role.value });
          event.target.reset();
          await refreshMembers();
        } catch (error) { ctx.showError(error, status); }
      },
    }, field('User id', user), field('Role', role), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add member')), status);
  }
  body.append(section('Your tenants', tenantsBox, h('h3', {}, 'Create a tenant'), tenantForm),
    section(`Members of ${ctx.me.tenant?.name ?? 'this tenant'}`, addForm, membersBox));
  await Promise.all([refreshTenants(), refreshMembers()]);
}

// ── roles ──

async function roles(ctx, body) {
  const box = h('div', { id: 'role-list' });
  const refresh = async () => {
    const list = (await get('roles')).roles || [];
    replace(box, table('Roles', ['Name', 'Description', 'Permissions', ''], list.map((r) => ({
      attrs: { 'data-role': r.name },
      cells: [h('span', {}, r.name, r.builtin ? h('small', { class: 'muted' }, ' built-in') : null), r.description || '—',
        h('ul', { class: 'chips' }, (r.permissions || []).map((p) => h('li', {}, p))),
        !r.builtin && ctx.can('iam:manage') ? h('button', {
          type: 'button', class: 'danger small', 'aria-label': `Delete role ${r.name}`,
          async onclick() {
            if (!await confirmAction(`Delete the role ${r.name}?`, 'Refused while members hold it.', 'Delete')) return;
            try { await del(`roles/${id(r.id)}`); } catch (error) { ctx.showError(error); }
            await refresh();
          },
        }, 'Delete') : ''],
    }))));
  };
  if (ctx.can('iam:manage')) {
    const permissions = (await get('permissions')).permissions || [];
    const name = h('input', { id: 'role-name', required: true, autocomplete: 'off' });
    const description = h('input', { id: 'role-description', autocomplete: 'off' });
    const checks = permissions.map((p) => h('input', { type: 'checkbox', value: p, id: `perm-${p.replace(/[^a-z0-9]/g, '-')}` }));
    const status = formStatus();
    body.append(section('Create a custom role', h('form', {
      class: 'grid-form', id: 'role-form',
      async onsubmit(event) {
        event.preventDefault();
        replace(status);
        try {
          await post('roles', { name: name.value.trim(), description: description.value.trim(), permissions: checks.filter((c) => c.checked).map((c) => c.value) });
          event.target.reset();
          await refresh();
        } catch (error) { ctx.showError(error, status); }
      },
    }, field('Name', name), field('Description', description),
    h('fieldset', { class: 'wide' }, h('legend', {}, 'Permissions'), h('div', { class: 'checks' },
      checks.map((c) => h('label', { class: 'inline', for: c.id }, c, ` ${c.value}`)))),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create role')), status)));
  }
  body.append(section('Roles', box));
  await refresh();
}

// ── API keys ──

async function keys(ctx, body) {
  const canManage = ctx.can('iam:manage');
  const box = h('div', { id: 'key-list' });
  const secretBox = h('div', { id: 'new-secret', 'aria-live': 'polite' });
  let owners = [];
  if (canManage) owners = await all('users', 'users').catch(() => []);
  const owner = h('select', { id: 'key-owner' },
    h('option', { value: '' }, `Me (${ctx.me.user?.email ?? 'you'})`),
    owners.filter((u) => u.id !== ctx.me.user?.id).map((u) => h('option', { value: u.id }, u.email)));

  const refresh = async () => {
    const list = await all('api-keys', 'keys', { user_id: owner.value });
    replace(box, table('API keys', ['Name', 'Prefix', 'Created', 'Last used', 'Expires', 'Status', ''], list.map((k) => {
      const revoked = Boolean(k.revokeTime);
      const current = k.id === ctx.me.principal?.keyId;
      return {
        attrs: { 'data-key': k.id, 'data-name': k.name },
        cells: [k.name || '—', h('code', {}, k.prefix), time(k.createTime), ago(k.lastUsedTime), k.expireTime ? time(k.expireTime) : 'Never',
          revoked ? 'Revoked' : current ? 'In use by this console' : 'Active',
          revoked ? '' : h('button', {
            type: 'button', class: 'danger small', 'aria-label': `Revoke key ${k.name || k.prefix}`,
            async onclick() {
              const note = current ? ' This console uses it: you will be signed out.' : '';
              if (!await confirmAction(`Revoke ${k.name || k.prefix}?`, `It stops working on its next request.${note}`, 'Revoke')) return;
              try { await post(`api-keys/${id(k.id)}:revoke`); ctx.toast(`Revoked ${k.name || k.prefix}.`); } catch (error) { ctx.showError(error); }
              await refresh();
            },
          }, 'Revoke')],
      };
    }), 'No API keys.'));
  };
  owner.addEventListener('change', () => refresh().catch(ctx.showError));

  const name = h('input', { id: 'key-name', required: true, autocomplete: 'off' });
  const expires = h('input', { id: 'key-expires', type: 'date' });
  const status = formStatus();
  const form = h('form', {
    class: 'grid-form', id: 'key-form-create',
    async onsubmit(event) {
      event.preventDefault();
      replace(status);
      replace(secretBox);
      try {
        const request = { name: name.value.trim(), userId: owner.value };
        if (expires.value) request.expireTime = new Date(`${expires.value}T23:59:59Z`).toISOString();
        const created = await post('api-keys', request);
        showSecret(secretBox, created);
        name.value = '';
        await refresh();
      } catch (error) { ctx.showError(error, status); }
    },
  }, canManage ? field('For', owner) : null, field('Name', name, 'What uses it, e.g. ci or laptop.'),
  field('Expires (optional)', expires), h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'create-key' }, 'Create key')), status);
  body.append(section('Create an API key', form, secretBox), section('Keys', box));
  await refresh();
}

/** The one time the secret exists outside the caller's hands: show it, offer a copy, say so. */
function showSecret(box, created) {
  const secret = h('input', { id: 'secret-value', readonly: true, value: created.secret, 'aria-label': 'The new API key', spellcheck: 'false' });
  const copy = h('button', {
    type: 'button', class: 'secondary small',
    async onclick() {
      secret.select();
      try { await navigator.clipboard.writeText(created.secret); replace(copy, 'Copied'); } catch { replace(copy, 'Select and copy'); }
    },
  }, 'Copy');
  replace(box, h('div', { class: 'secret', role: 'alert' },
    h('p', {}, h('strong', {}, `Key “${created.key?.name}” created.`), ' Copy it now: it is shown this once and cannot be retrieved again.'),
    h('div', { class: 'secret-row' }, secret, copy),
    h('button', { type: 'button', class: 'link', onclick: () => box.replaceChildren() }, 'I have stored it — hide')));
  secret.focus();
  secret.select();
}

// ── quotas ──

async function quotas(ctx, body) {
  const tenantID = ctx.me.principal?.tenantId;
  const box = h('div', { id: 'quota-detail' });
  const status = formStatus();
  let quota = await get(`tenants/${id(tenantID)}/quota`);
  replace(box, quotaBars(quota));
  body.append(section(`Quota of ${ctx.me.tenant?.name ?? 'this tenant'}`, box));
  if (ctx.can('platform:admin')) {
    const fields = ['instances', 'vcpus', 'memoryMb', 'storageGb', 'buckets', 'databases'];
    const labels = { instances: 'Instances', vcpus: 'vCPUs', memoryMb: 'Memory (MiB)', storageGb: 'Storage (GB)', buckets: 'Buckets', databases: 'Databases' };
    const inputs = Object.fromEntries(fields.map((f) => [f, h('input', { type: 'number', min: 0, id: `limit-${f}`, value: quota.limits?.[f] ?? 0 })]));
    body.append(section('Change limits (platform admin)', h('form', {
      class: 'grid-form', id: 'quota-form',
      async onsubmit(event) {
        event.preventDefault();
        replace(status);
        try {
          quota = await put(`tenants/${id(tenantID)}/quota`, { limits: Object.fromEntries(fields.map((f) => [f, inputs[f].value || '0'])) });
          replace(box, quotaBars(quota));
          replace(status, h('p', { class: 'notice' }, 'Limits saved.'));
        } catch (error) { ctx.showError(error, status); }
      },
    }, fields.map((f) => field(labels[f], inputs[f])), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save limits')), status)));
  }
}
