// The gateway's REST API, as any client uses it: an API key as a bearer token, JSON in and out,
// problem+json errors. The key lives in sessionStorage (this tab only, gone when it closes),
// never in a cookie: no other origin's page can make the browser send it.

const KEY = 'nimbus.console.key';
const KEY_ID = 'nimbus.console.keyId';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  /** The id of a key this console created at sign-in (revoked at sign-out); null for a pasted key. */
  issuedKeyID: () => sessionStorage.getItem(KEY_ID),
  set(key, issuedKeyID) {
    sessionStorage.setItem(KEY, key);
    if (issuedKeyID) sessionStorage.setItem(KEY_ID, issuedKeyID); else sessionStorage.removeItem(KEY_ID);
  },
  clear() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(KEY_ID);
  },
};

/** A failed call: `message` is for people, the rest for code. */
export class ApiError extends Error {
  constructor(message, { status = 0, code = '', detail = '', requestId = '' } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.requestId = requestId;
  }
}

function sentence(text) {
  const t = String(text || '').trim();
  if (!t) return '';
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** What a problem+json answer means to a person. */
export function humanMessage(problem, status, retryAfter) {
  const detail = sentence(problem.detail);
  switch (problem.code) {
    case 'UNAUTHENTICATED':
      return 'Your session has ended or the API key is no longer valid. Please sign in again.';
    case 'PERMISSION_DENIED':
      return `You are not allowed to do this. ${detail}`.trim();
    case 'NOT_FOUND':
      return `Not found. ${detail}`.trim();
    case 'ALREADY_EXISTS':
      return `That already exists. ${detail}`.trim();
    case 'ABORTED':
      return 'Someone changed this at the same time. The page has the latest version now; try again.';
    case 'RESOURCE_EXHAUSTED':
      return retryAfter ? `Too many requests. Try again in ${retryAfter} s.` : `Over a limit. ${detail}`.trim();
    case 'UNAVAILABLE':
      return `The service is not available right now. Try again in a moment. ${detail}`.trim();
    case 'DEADLINE_EXCEEDED':
      return 'The service took too long to answer. Try again in a moment.';
    case 'INVALID_ARGUMENT':
    case 'FAILED_PRECONDITION':
    case 'OUT_OF_RANGE':
      return detail || 'The request was not accepted.';
    default:
      return detail || `The gateway answered ${status}.`;
  }
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/**
 * Calls the API. A 401 ends the session (the app shows sign-in); other failures throw an
 * ApiError whose message a person understands.
 */
export async function call(method, path, { body, params, signal, anonymous = false, keepSession = false } = {}) {
  const headers = { accept: 'application/json' };
  const key = session.key();
  if (key && !anonymous) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(`/v1/${path}${query(params)}`, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', cache: 'no-store', redirect: 'error',
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError('Cannot reach the Nimbus gateway. Check that it is running and try again.');
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : {}; } catch { data = null; }
  if (response.ok) return data ?? {};
  const problem = data && typeof data === 'object' ? data : { detail: text.slice(0, 200) };
  const error = new ApiError(humanMessage(problem, response.status, response.headers.get('retry-after')), {
    status: response.status, code: problem.code, detail: problem.detail, requestId: problem.requestId,
  });
  if (response.status === 401 && !anonymous && !keepSession) {
    session.clear();
    window.dispatchEvent(new CustomEvent('nimbus:signed-out', { detail: error.message }));
  }
  throw error;
}

export const get = (path, params, options) => call('GET', path, { ...options, params });
export const post = (path, body = {}, options) => call('POST', path, { ...options, body });
export const patch = (path, body = {}) => call('PATCH', path, { body });
export const put = (path, body = {}) => call('PUT', path, { body });
export const del = (path, params) => call('DELETE', path, { params });

/** Every page of a list, up to `limit` items. */
export async function all(path, field, params = {}, limit = 2000) {
  const items = [];
  let pageToken = '';
  do {
    const page = await get(path, { ...params, page_size: 500, page_token: pageToken });
    items.push(...(page[field] || []));
    pageToken = page.nextPageToken || '';
  } while (pageToken && items.length < limit);
  return items;
}

/** Path segment of an id: encoded, never able to step out of its place in the path. */
export const id = (value) => encodeURIComponent(String(value));
