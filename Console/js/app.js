// The console's shell: sign-in, navigation, the page in view, messages. Pages are modules
// loaded when first visited; each gets a context whose timers and requests stop when the
// reader leaves the page.
import { ApiError, get, post, session, id } from './api.js';
import { h, replace } from './dom.js';
import { signInPage } from './signin.js';

const NAV = [
  { path: 'overview', title: 'Overview' },
  { path: 'instances', title: 'Instances', needs: 'instance:read' },
  { path: 'images', title: 'Images', needs: 'instance:read' },
  { path: 'vpcs', title: 'VPCs', needs: 'vpc:read' },
  { path: 'identity', title: 'Identity' },
  { path: 'audit', title: 'Audit log', needs: 'audit:read' },
];

const PAGES = {
  overview: () => import('./pages/overview.js'),
  instances: () => import('./pages/instances.js'),
  instance: () => import('./pages/instance.js'),
  images: () => import('./pages/images.js'),
  vpcs: () => import('./pages/vpcs.js'),
  identity: () => import('./pages/identity.js'),
  audit: () => import('./pages/audit.js'),
};

const main = document.getElementById('main');
let me = null;          // WhoAmI: principal, user, tenant
let current = null;     // the page in view: { controller, timers }

/** Messages: polite for news, assertive (role=alert) for failures. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const item = h('div', { class: ['toast', kind], role: kind === 'error' ? 'alert' : undefined },
    h('span', {}, message),
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss message', onclick: () => item.remove() }, '×'));
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 15000 : 6000);
}

/** Shows an error next to the thing that failed (and as a message when there is no place). */
export function showError(error, where) {
  const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  if (error?.status === 401) return;  // the sign-in page says it
  if (where) {
    replace(where, h('p', { class: 'error', role: 'alert' }, message));
  } else {
    toast(message, 'error');
  }
}

function can(permission) {
  const permissions = me?.principal?.permissions || [];
  return permissions.includes(permission);
}

function leavePage() {
  if (!current) return;
  current.controller.abort();
  for (const timer of current.timers) clearTimeout(timer);
  current = null;
}

function context() {
  const page = { controller: new AbortController(), timers: new Set() };
  current = page;
  return {
    main, me, can, toast, showError,  // main: replaced by the page's own box once it loads
    signal: page.controller.signal,
    get active() { return current === page; },
    /**
     * Runs `fn` now (or after `ms` when `later`) and again `ms` after each run finishes, while the
     * page is in view and until `fn` returns false.
     */
    every(ms, fn, { later = false } = {}) {
      const tick = async () => {
        if (current !== page) return;
        let again = true;
        try { again = (await fn()) !== false; } catch (error) { if (error.name !== 'AbortError') showError(error); }
        if (current !== page || !again) return;
        const delay = typeof ms === 'function' ? ms() : ms;
        const timer = setTimeout(() => { page.timers.delete(timer); tick(); }, delay);
        page.timers.add(timer);
      };
      if (!later) return tick();
      const timer = setTimeout(() => { page.timers.delete(timer); tick(); }, typeof ms === 'function' ? ms() : ms);
      page.timers.add(timer);
      return undefined;
    },
    navigate(hash) { location.hash = hash; },
    /** Reloads who I am (after changing my own tenant, role …). */
    async refreshMe() { me = await get('auth/whoami'); renderChrome(); },
  };
}

function renderChrome() {
  document.getElementById('top').hidden = false;
  const nav = document.getElementById('nav');
  const active = (location.hash.replace(/^#\/?/, '').split('/')[0]) || 'overview';
  replace(nav, h('ul', {}, NAV.filter((item) => !item.needs || can(item.needs)).map((item) =>
    h('li', {}, h('a', {
      href: `#/${item.path}`,
      'aria-current': (item.path === active || (item.path === 'instances' && active === 'instance')) ? 'page' : undefined,
    }, item.title)))));
  const who = [me.user?.email || me.principal?.userId, me.tenant?.name && `in ${me.tenant.name}`, me.principal?.role && `(${me.principal.role})`];
  replace(document.getElementById('who'), who.filter(Boolean).join(' '));
}

async function route() {
  leavePage();
  if (!session.key()) { showSignIn(); return; }
  if (!me) {
    try {
      me = await get('auth/whoami');
    } catch (error) {
      if (error.status !== 401) { showSignIn(error.message); }
      return;  // 401: the signed-out event shows the sign-in page
    }
  }
  const [name, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  let page = name || 'overview';
  if (page === 'instances' && rest[0]) page = 'instance';
  if (!PAGES[page]) page = 'overview';
  renderChrome();
  const ctx = context();
  replace(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    const module = await PAGES[page]();
    if (!ctx.active) return;
    document.title = `${module.title(rest)} · Nimbus console`;
    // The page draws into its own box: if the session ends meanwhile, it draws into a detached one.
    ctx.main = h('div', { class: 'page' });
    main.replaceChildren(ctx.main);
    await module.render(ctx, rest.map(decodeURIComponent));
  } catch (error) {
    if (error.name === 'AbortError' || !ctx.active) return;
    showError(error, ctx.main);
  }
  if (ctx.active && document.activeElement === document.body) main.focus({ preventScroll: true });
}

function showSignIn(message) {
  leavePage();
  me = null;
  document.getElementById('top').hidden = true;
  document.title = 'Sign in · Nimbus console';
  signInPage(main, message, () => { route(); });
}

async function signOut() {
  const issued = session.issuedKeyID();
  if (issued) {
    try { await post(`api-keys/${id(issued)}:revoke`); } catch { /* expired or revoked already */ }
  }
  session.clear();
  showSignIn('You are signed out.');
}

window.addEventListener('nimbus:signed-out', (event) => showSignIn(event.detail));
window.addEventListener('hashchange', route);
document.getElementById('sign-out').addEventListener('click', signOut);
route();
