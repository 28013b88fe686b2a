// The one way the console talks to the gateway: the Admin API and /metrics/prometheus, same
// origin, the token in an Authorization header (never in a URL), kept in sessionStorage only.

const STORE = 'ditto.console.token';
const VIA = 'ditto.console.via'; // "oidc" for a token from single sign-on (js/sso.js); absent for a pasted one

// The gateway's root: the console is served at <root>ui/, the API at <root>admin/….
export const ROOT = location.pathname.replace(/ui(\/.*)?$/, '');

export const session = {
  get token() {
    try {
      return sessionStorage.getItem(STORE);
    } catch {
      return null;
    }
  },
  get via() {
    try {
      return sessionStorage.getItem(VIA) || 'token';
    } catch {
      return 'token';
    }
  },
  set(token, via = 'token') {
    sessionStorage.setItem(STORE, token);
    if (via === 'oidc') sessionStorage.setItem(VIA, via);
    else sessionStorage.removeItem(VIA);
  },
  clear() {
    try {
      sessionStorage.removeItem(STORE);
      sessionStorage.removeItem(VIA);
    } catch {
      /* storage disabled: nothing was kept */
    }
  },
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
  }
}

// Called on a 401 to a read: the token is no longer valid (removed, or the gateway restarted
// with other tokens). app.js signs out.
let onExpired = null;
export function onSessionExpired(fn) {
  onExpired = fn;
}

function url(path, query) {
  let u = ROOT + path.replace(/^\//, '');
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    const s = q.toString();
    if (s) u += '?' + s;
  }
  return u;
}

// request('GET', '/admin/keys', {query, body, text: true, token}) → parsed JSON, text, or null
// (204). Throws ApiError with the API's own code and message.
export async function request(method, path, opts = {}) {
  const token = opts.token ?? session.token;
  const headers = { Accept: opts.text ? '*/*' : 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  if (opts.signal) init.signal = opts.signal;
  let res;
  try {
    res = await fetch(url(path, opts.query), init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'the gateway did not answer (' + e.message + ')');
  }
  if (res.status === 204) return null;
  const body = await res.text();
  if (!res.ok) {
    let code = '';
    let message = '';
    try {
      const j = JSON.parse(body);
      code = j?.error?.code || '';
      message = j?.error?.message || '';
    } catch {
      /* not JSON: an empty 404 or 405 */
    }
    if (!message) {
      message =
        res.status === 404 ? 'not available on this gateway' :
        res.status === 405 ? 'not allowed with this gateway\'s tokens' : `HTTP ${res.status}`;
    }
    if (res.status === 401) {
      if (method === 'GET' && !opts.token && onExpired) onExpired();
      if (method !== 'GET') message = 'this token cannot make changes (read-only), or it is no longer valid';
    }
    throw new ApiError(res.status, code, message);
  }
  if (opts.text) return body;
  return body ? JSON.parse(body) : null;
}

export const get = (path, query, opts = {}) => request('GET', path, { ...opts, query });
export const post = (path, body, opts = {}) => request('POST', path, { ...opts, body });
export const put = (path, body, opts = {}) => request('PUT', path, { ...opts, body });
export const del = (path, opts = {}) => request('DELETE', path, opts);

// The signed-in token, as GET /admin/whoami describes it: its role (write, read, tenant_write,
// tenant_read, auditor), whether it may change anything, its tenant (null for a global token),
// and how it was obtained (via "token" or "oidc", with the identity's subject and email). The
// pages show change buttons only when canWrite; the gateway authorises every call regardless.
export const who = { role: 'read', canWrite: false, scope: 'global', tenant: null, via: 'token', subject: null, email: null };

export function setWho(w) {
  who.role = String(w?.role || '');
  who.canWrite = w?.can_write === true;
  who.tenant = w?.tenant_id ?? null;
  who.scope = who.tenant === null ? 'global' : 'tenant';
  who.via = w?.via === 'oidc' ? 'oidc' : 'token';
  who.subject = typeof w?.subject === 'string' ? w.subject : null;
  who.email = typeof w?.email === 'string' ? w.email : null;
}
