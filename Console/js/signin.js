// Sign in with email and password (identity's login issues a session key that expires) or
// with an API key pasted from `nimbus keys create`.
import { ApiError, call, post, session } from './api.js';
import { h, field, replace } from './dom.js';

export function signInPage(main, message, done) {
  const status = h('div', { id: 'sign-in-status', 'aria-live': 'assertive' },
    message ? h('p', { class: message.startsWith('You are signed out') ? 'notice' : 'error', role: 'alert' }, message) : null);
  const email = h('input', { id: 'email', type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { id: 'password', type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const tenant = h('input', { id: 'tenant', type: 'text', name: 'tenant', autocomplete: 'off', placeholder: 'default tenant' });
  const key = h('input', { id: 'api-key', type: 'password', name: 'api-key', autocomplete: 'off', required: true, placeholder: 'nmb_…', spellcheck: 'false' });

  const fail = (error) => replace(status, h('p', { class: 'error', role: 'alert' },
    error instanceof ApiError && error.code === 'UNAUTHENTICATED' ? 'Wrong email, password or key.' : error.message));

  const login = h('form', {
    class: 'card', id: 'login-form', 'aria-labelledby': 'login-title',
    async onsubmit(event) {
      event.preventDefault();
      replace(status);
      const button = login.querySelector('button');
      button.disabled = true;
      try {
        const answer = await post('auth/login', { email: email.value.trim(), password: password.value, tenantId: tenant.value.trim() }, { anonymous: true });
        session.set(answer.secret, answer.key?.id);
        password.value = '';
        done();
      } catch (error) { fail(error); } finally { button.disabled = false; }
    },
  },
  h('h2', { id: 'login-title' }, 'Sign in'),
  field('Email', email), field('Password', password),
  field('Tenant id (optional)', tenant, 'Leave empty for your default tenant.'),
  h('button', { type: 'submit', id: 'sign-in' }, 'Sign in'));

  const pasted = h('form', {
    class: 'card', id: 'key-form', 'aria-labelledby': 'key-title',
    async onsubmit(event) {
      event.preventDefault();
      replace(status);
      session.set(key.value.trim(), null);
      try {
        await call('GET', 'auth/whoami', { keepSession: true });
        key.value = '';
        done();
      } catch (error) { session.clear(); fail(error); }
    },
  },
  h('h2', { id: 'key-title' }, 'Or use an API key'),
  field('API key', key, 'Kept in this tab only; closing the tab forgets it.'),
  h('button', { type: 'submit', class: 'secondary', id: 'use-key' }, 'Use key'));

  replace(main, h('div', { class: 'sign-in' },
    h('h1', {}, 'Nimbus console'), status, login, pasted));
  email.focus();
  performance.mark('nimbus:sign-in-ready');  // read by the browser suite, for the record
}
