// Single sign-on: OpenID Connect authorization code with PKCE (S256), for a public client (the
// console has no secret). GET /admin/sso says whether the gateway trusts an identity provider and
// where its endpoints are; the sign-in is a top-level navigation to its authorization endpoint,
// and the code that comes back to /ui/ is exchanged for an access token at its token endpoint
// (the CSP's connect-src allows that origin). The access token is then used like a static admin
// token: kept in sessionStorage, sent as a bearer header, checked by the gateway on every call.
// The verifier, state and nonce live in sessionStorage from the click to the exchange, then are
// removed; no token is ever put in a URL.
import { ROOT } from './api.js';

const K = {
  verifier: 'ditto.console.sso.verifier',
  state: 'ditto.console.sso.state',
  nonce: 'ditto.console.sso.nonce',
};

export class SsoError extends Error {}

// GET /admin/sso → {issuer, client_id, authorization_endpoint, token_endpoint,
// end_session_endpoint, scopes}, or null when the gateway has no SSO (404). 503: configured but
// the provider's discovery document is not loaded yet (SsoError with the gateway's message).
// Anything else (a gateway without the endpoint, no answer) is "no SSO": the token form remains.
// Not through api.js: no token is sent, and no answer here signs anyone out.
export async function discover() {
  let res;
  let j = null;
  try {
    res = await fetch(ROOT + 'admin/sso', { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' });
  } catch {
    return null;
  }
  try {
    j = await res.json();
  } catch {
    /* empty (the 404) or not JSON */
  }
  if (res.status === 503) {
    throw new SsoError('Single sign-on is configured but not available yet' + (j?.error?.message ? ' (' + j.error.message + ')' : '') + ': use a break-glass token, or reload in a moment.');
  }
  const ok = res.status === 200 && j && typeof j.authorization_endpoint === 'string' && typeof j.token_endpoint === 'string' && typeof j.client_id === 'string';
  return ok ? j : null;
}

export const redirectUri = () => location.origin + ROOT + 'ui/';

function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

// BASE64URL(SHA-256(ASCII(verifier))). crypto.subtle exists only in secure contexts (https, or
// http to localhost); elsewhere our own SHA-256 (js/sha256.js, loaded only then).
export async function pkceChallenge(verifier, { subtle = globalThis.crypto?.subtle } = {}) {
  const bytes = new TextEncoder().encode(verifier);
  if (subtle) return b64url(new Uint8Array(await subtle.digest('SHA-256', bytes)));
  const { sha256 } = await import('./sha256.js');
  return b64url(sha256(bytes));
}

// The click on "Sign in with SSO": a fresh verifier (32 random bytes → 43 characters), state
// and nonce, kept in this tab, then off to the provider.
export async function begin(config) {
  const verifier = random(32);
  const state = random(16);
  const nonce = random(16);
  const challenge = await pkceChallenge(verifier);
  sessionStorage.setItem(K.verifier, verifier);
  sessionStorage.setItem(K.state, state);
  sessionStorage.setItem(K.nonce, nonce);
  const u = new URL(config.authorization_endpoint);
  const q = {
    response_type: 'code', client_id: config.client_id, redirect_uri: redirectUri(),
    scope: config.scopes || 'openid', state, code_challenge: challenge, code_challenge_method: 'S256', nonce,
  };
  for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
  location.assign(u.href);
}

// Is this load the provider's answer (/ui/?code=…&state=… or ?error=…)?
export function isCallback() {
  const q = new URLSearchParams(location.search);
  return q.has('code') || q.has('error');
}

function takePending() {
  const p = {};
  for (const [name, key] of Object.entries(K)) {
    p[name] = sessionStorage.getItem(key);
    sessionStorage.removeItem(key);
  }
  return p;
}

export function clearPending() {
  for (const key of Object.values(K)) sessionStorage.removeItem(key);
}

// A JWT's claims, unverified (only the nonce is read from it).
function jwtPayload(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(part + '='.repeat((4 - (part.length % 4)) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

// The provider's answer: the query is removed from the address bar first (the code is single
// use, and must not stay in the history), the state compared with this tab's, then the code
// exchanged with the verifier. Resolves with the access token; throws SsoError with a message
// for the sign-in page. The gateway checks the token itself (signature, issuer, audience, expiry).
export async function complete(config) {
  const q = new URLSearchParams(location.search);
  history.replaceState(null, '', location.pathname + location.hash);
  const pending = takePending();
  if (!config) throw new SsoError('The sign-in came back from an identity provider, but this gateway has no single sign-on configured.');
  if (q.has('error')) {
    const d = q.get('error_description');
    throw new SsoError(`The identity provider did not sign you in (${q.get('error')})${d ? ': ' + d : '.'}`);
  }
  if (!pending.state || !pending.verifier) {
    throw new SsoError('This sign-in was not started from this tab (no sign-in pending): sign in again.');
  }
  if (q.get('state') !== pending.state) {
    throw new SsoError('The identity provider\'s answer does not match the sign-in this tab started (state mismatch): nothing was exchanged. Sign in again.');
  }
  // RFC 9207: the provider names itself in its answer (a mix-up of providers is refused).
  const bare = (u) => String(u).replace(/\/+$/, '');
  if (q.has('iss') && bare(q.get('iss')) !== bare(config.issuer)) {
    throw new SsoError('The answer came from another identity provider (' + q.get('iss') + '): sign in again.');
  }
  const body = new URLSearchParams({
    grant_type: 'authorization_code', code: q.get('code') || '', redirect_uri: redirectUri(),
    client_id: config.client_id, code_verifier: pending.verifier,
  });
  let res;
  try {
    res = await fetch(config.token_endpoint, {
      method: 'POST', body: body.toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer',
    });
  } catch (e) {
    throw new SsoError('The identity provider\'s token endpoint did not answer (' + e.message + ').');
  }
  let j = null;
  try {
    j = await res.json();
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const what = j?.error ? j.error + (j.error_description ? ': ' + j.error_description : '') : 'HTTP ' + res.status;
    throw new SsoError('The identity provider refused the code (' + what + '): sign in again.');
  }
  if (typeof j?.access_token !== 'string' || !j.access_token) throw new SsoError('The identity provider answered without an access token.');
  if (j.token_type && String(j.token_type).toLowerCase() !== 'bearer') throw new SsoError('The identity provider\'s token is not a bearer token (' + j.token_type + ').');
  // The ID token is not needed (the gateway reads the access token), but its nonce, when the
  // provider sends one, must be ours: a code injected from another sign-in is refused.
  if (typeof j.id_token === 'string' && pending.nonce) {
    const claims = jwtPayload(j.id_token);
    if (claims && claims.nonce !== undefined && claims.nonce !== pending.nonce) {
      throw new SsoError('The identity provider\'s ID token is for another sign-in (nonce mismatch): sign in again.');
    }
  }
  return j.access_token;
}

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), with the client id rather than
// the ID token as the hint: no token in a URL.
export function endSession(config) {
  const u = new URL(config.end_session_endpoint);
  u.searchParams.set('client_id', config.client_id);
  u.searchParams.set('post_logout_redirect_uri', redirectUri());
  location.assign(u.href);
}
