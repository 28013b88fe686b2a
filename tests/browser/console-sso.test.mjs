// The console's single sign-on (docs/console.md, "Single sign-on") in a real browser, against
// the gateway of scripts/console-check.sh configured with "access.operators" whose issuer is
// tests/browser/oidc-idp.mjs (a fake OpenID provider: authorization code + PKCE S256, RS256
// access tokens with a "groups" claim). Run after console.test.mjs, on the same gateway.
//   GET /admin/sso and the CSP → the SSO button above the break-glass token → an admin signs in
//   (the authorize request and the token request checked here: S256, the verifier's hash is the
//   challenge) and lands in the console with no code or state left in the address, creates and
//   edits a key, and the audit records name them → a tampered state, a callback this tab did not
//   start, the provider's refusal, an identity without a role, an expired token: each refused
//   with a message, nothing stored → a viewer sees no change button, an auditor only Audit and
//   Spend, a tenant admin only its tenant's keys → a token the gateway stops accepting signs out
//   with "Your session expired; sign in again" → sign-out goes through the provider's
//   end-session endpoint and back → the PKCE challenge of crypto.subtle and of our SHA-256 →
//   no CSP violation, no page error, no token in any URL or console line.
//
// Environment: DITTO_IDP (the fake provider's URL; without it every step is skipped),
// DITTO_GATEWAY, DITTO_ADMIN_TOKEN (the static write token: the API is checked with it),
// DITTO_TENANT (the tenant mapped from "acme-admins", default acme), optional DITTO_UI (default
// $DITTO_GATEWAY/ui/), CHROMIUM (default /usr/bin/chromium), DITTO_SSO_SHOTS (a directory for
// screenshots of the sign-in page, an SSO session and a refusal; none without it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { envReader, fill, gotoPage, launchBrowser, shot, sleep, waitText, watch } from './page-helpers.mjs';

const IDP = (process.env.DITTO_IDP || '').replace(/\/$/, '');
const env = envReader('console SSO test');
const GATEWAY = IDP ? env('DITTO_GATEWAY').replace(/\/$/, '') : '';
const UI = IDP ? env('DITTO_UI', GATEWAY + '/ui/') : '';
const ADMIN = IDP ? env('DITTO_ADMIN_TOKEN') : '';
const TENANT = env('DITTO_TENANT', 'acme');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const SHOTS = process.env.DITTO_SSO_SHOTS || '';
const STEP = { timeout: 60_000, skip: IDP ? false : 'DITTO_IDP is not set (no identity provider)' };
const KEY_ID = 'console-sso-' + crypto.randomBytes(3).toString('hex');
const RUN = crypto.randomBytes(3).toString('hex');
const ADMIN_USER = { sub: 'ana-' + RUN, email: `ana.${RUN}@example.test`, groups: ['ditto-admins'] };

setTimeout(() => {
  console.error('console SSO test: still running after 200 s, giving up');
  process.exit(1);
}, 200_000).unref();

let browser;
let page;
let profile;
const problems = [];
const requestUrls = [];
const tokenRequests = []; // the POST bodies the page sent to the token endpoint
const consoleText = [];
const accessTokens = new Set();
// Every page's record (see watch): also the POST bodies the page sends to the token endpoint.
const watched = {
  problems,
  consoleText,
  requestUrls,
  onRequest: (r) => {
    if (r.method() === 'POST' && r.url() === IDP + '/token') tokenRequests.push(r.postData() || '');
  },
};

// The members of an answer the contract names (a later gateway may add others).
const pick = (o, keys) => Object.fromEntries(keys.map((k) => [k, o?.[k]]));
const WHO = ['role', 'can_write', 'tenant_id', 'via', 'subject', 'email'];

async function idp(p, body) {
  const res = await fetch(IDP + p, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  assert.equal(res.status, 200, `${p} at the fake provider`);
  return res.json();
}
const setUser = (u) => idp('/_test/user', u);
const idpLog = () => idp('/_test/log');

async function api(p, token, init = {}) {
  const res = await fetch(GATEWAY + p, { ...init, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json', ...init.headers } });
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* empty or not JSON */
  }
  return { status: res.status, body };
}

async function adminGet(p) {
  const r = await api(p, ADMIN);
  assert.equal(r.status, 200, `GET ${p}`);
  return r.body;
}

// A new start: nothing in the tab's storage, the sign-in page loaded.
async function fresh() {
  await page.evaluate(() => sessionStorage.clear()).catch(() => {});
  await page.goto(UI, { waitUntil: 'load' });
  await page.waitForSelector('html[data-ready="1"]');
  await page.waitForSelector('#sso-signin:not([disabled])', { visible: true });
}

// SSO as USER: the button (or Enter on it, keyboard), the provider's redirect back to /ui/, the
// exchange. Resolves when the console is entered or the sign-in page shows an error.
async function ssoSignIn(user, { keyboard = false } = {}) {
  await setUser(user);
  await fresh();
  const back = page.waitForNavigation({ waitUntil: 'load' });
  if (keyboard) {
    await page.waitForFunction(() => document.activeElement?.id === 'sso-signin');
    await page.keyboard.press('Enter');
  } else {
    await page.click('#sso-signin');
  }
  await back;
  await page.waitForSelector('html[data-ready="1"]');
  await page.waitForFunction(() => !document.querySelector('#app').hidden || !document.querySelector('#sso-error').hidden);
  const t = await page.evaluate(() => sessionStorage.getItem('ditto.console.token'));
  if (t) accessTokens.add(t);
  return t;
}

async function signedIn() {
  await page.waitForSelector('#main .page-head');
  return page.evaluate(() => ({
    who: document.querySelector('#who').textContent,
    role: document.querySelector('#who').dataset.role,
    user: document.querySelector('#user').hidden ? null : document.querySelector('#user').textContent,
    tabs: [...document.querySelectorAll('[role="tab"]')].filter((t) => !t.hidden).map((t) => t.dataset.page),
  }));
}

async function ssoError() {
  return waitText(page, '#sso-error', (t) => t.length > 0, 'an SSO error', { skipHidden: true });
}

async function storage() {
  return page.evaluate(() => ({ session: Object.keys(sessionStorage).sort(), local: localStorage.length, href: location.href, search: location.search }));
}

before(async () => {
  if (!IDP) return;
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ditto-console-sso-profile-'));
  browser = await launchBrowser(CHROMIUM, profile);
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  await watch(page, watched);
  // The console's redirect URI is its own /ui/ (served by the gateway, or by serve-source.mjs).
  await idp('/_test/client', { redirect_uri: UI });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

test('GET /admin/sso describes the provider; the CSP lets the page reach its token endpoint only', STEP, async () => {
  const discovery = await (await fetch(IDP + '/.well-known/openid-configuration')).json();
  const res = await fetch(GATEWAY + '/admin/sso');
  assert.equal(res.status, 200);
  const sso = pick(await res.json(), ['issuer', 'client_id', 'authorization_endpoint', 'token_endpoint', 'end_session_endpoint', 'scopes']);
  assert.deepEqual(sso, {
    issuer: IDP, client_id: 'ditto-console', authorization_endpoint: discovery.authorization_endpoint,
    token_endpoint: discovery.token_endpoint, end_session_endpoint: discovery.end_session_endpoint,
    scopes: 'openid profile email',
  });
  const ui = await fetch(UI);
  const csp = ui.headers.get('content-security-policy');
  assert.match(csp, new RegExp(`(^|; )connect-src 'self' ${new URL(discovery.token_endpoint).origin.replace(/[.]/g, '\\.')}(;|$)`), csp);
  assert.match(csp, /script-src 'self';/);
});

test('the sign-in page: Sign in with SSO first (focused), the break-glass token below', STEP, async () => {
  await fresh();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'sso-signin');
  assert.equal(await page.$eval('#sso-signin', (e) => e.textContent.trim()), 'Sign in with SSO');
  assert.equal(await page.$eval('#breakglass-title', (e) => e.textContent.trim()), 'Break-glass token');
  assert.ok(await page.$('#token'), 'the token field is still there');
  // SSO button, then (Tab) the token field: keyboard order.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'token');
  assert.equal((await storage()).session.length, 0, 'nothing stored before a sign-in');
  await shot(page, SHOTS, 'signin-sso.png');
});

test('a gateway without SSO (404): the token form alone; SSO not ready yet (503): said, and asked again on click', STEP, async () => {
  const p = await browser.newPage();
  await watch(p, watched);
  let sso = { status: 404, body: '' };
  await p.setRequestInterception(true);
  p.on('request', (r) => {
    if (new URL(r.url()).pathname.endsWith('/admin/sso')) r.respond({ status: sso.status, contentType: 'application/json', body: sso.body });
    else r.continue();
  });
  try {
    await p.goto(UI, { waitUntil: 'load' });
    await p.waitForSelector('html[data-ready="1"]');
    assert.equal(await p.$eval('#sso', (e) => e.hidden), true, 'no SSO button');
    assert.equal(await p.evaluate(() => document.activeElement?.id), 'token');
    assert.equal(await p.$eval('#signin-form button[type="submit"]', (e) => e.classList.contains('primary')), true);
    sso = { status: 503, body: JSON.stringify({ error: { code: 'sso_unavailable', message: 'the identity provider\'s discovery document is not loaded yet' } }) };
    await p.reload({ waitUntil: 'load' });
    await p.waitForSelector('html[data-ready="1"]');
    assert.equal(await p.$eval('#sso', (e) => e.hidden), false);
    assert.match(await p.$eval('#sso-error', (e) => e.textContent), /not available yet.*discovery document/);
    // Clicked while still unavailable: asked again, still said.
    await p.click('#sso-signin');
    await p.waitForFunction(() => !document.querySelector('#sso-signin').disabled);
    assert.match(await p.$eval('#sso-error', (e) => e.textContent), /not available yet/);
    assert.equal(await p.evaluate(() => sessionStorage.length), 0, 'nothing pending');
  } finally {
    await p.close();
  }
});

let adminToken = null;
test('an admin signs in with PKCE (S256) and lands in the console, no code or state left in the address', STEP, async () => {
  const before = await idpLog();
  const from = requestUrls.length;
  const fromToken = tokenRequests.length;
  adminToken = await ssoSignIn(ADMIN_USER);
  const me = await signedIn();
  assert.deepEqual(me, { who: 'Admin · write', role: 'write', user: ADMIN_USER.email, tabs: ['keys', 'spend', 'live', 'audit', 'config', 'backends'] });
  await page.waitForSelector('#main tr[data-key]');
  assert.ok(await page.$('#new-key'), 'an admin has New key');
  await shot(page, SHOTS, 'keys-sso.png');

  // The authorize request: the registered client and redirect URI, S256, a state and a nonce.
  const authorize = requestUrls.slice(from).map((u) => new URL(u)).find((u) => u.href.startsWith(IDP + '/authorize'));
  assert.ok(authorize, 'the page went to the authorization endpoint');
  const q = Object.fromEntries(authorize.searchParams);
  assert.equal(q.response_type, 'code');
  assert.equal(q.client_id, 'ditto-console');
  assert.equal(q.redirect_uri, UI);
  assert.equal(q.scope, 'openid profile email');
  assert.equal(q.code_challenge_method, 'S256');
  assert.match(q.code_challenge, /^[A-Za-z0-9_-]{43}$/);
  assert.match(q.state, /^[A-Za-z0-9_-]{16,}$/);
  assert.match(q.nonce, /^[A-Za-z0-9_-]{16,}$/);
  // The token request: form-encoded, with a verifier whose SHA-256 is that challenge (checked
  // here with node:crypto, and by the provider, which refuses otherwise).
  const sent = tokenRequests.slice(fromToken);
  assert.equal(sent.length, 1, 'one token request');
  const t = Object.fromEntries(new URLSearchParams(sent[0]));
  assert.equal(t.grant_type, 'authorization_code');
  assert.equal(t.client_id, 'ditto-console');
  assert.equal(t.redirect_uri, UI);
  assert.match(t.code_verifier, /^[A-Za-z0-9._~-]{43,128}$/);
  assert.equal(crypto.createHash('sha256').update(t.code_verifier).digest('base64url'), q.code_challenge);
  const log = await idpLog();
  assert.deepEqual(log.token.slice(before.token.length).map((e) => [e.outcome, e.origin]), [['ok', new URL(UI).origin]]);

  // Where things are: the access token in sessionStorage (where a pasted token goes), nothing
  // of the exchange left, nothing in localStorage, no code or state in the address.
  const s = await storage();
  assert.deepEqual(s.session, ['ditto.console.token', 'ditto.console.via']);
  assert.equal(s.local, 0);
  assert.equal(s.search, '', 'no query left: ' + s.href);
  for (const v of [q.state, q.code_challenge, t.code, t.code_verifier, adminToken]) assert.ok(!s.href.includes(v), 'left in the address: ' + s.href);
  assert.match(adminToken, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
  // The gateway says who that is.
  const w = await api('/admin/whoami', adminToken);
  assert.equal(w.status, 200);
  assert.deepEqual(pick(w.body, WHO), { role: 'write', can_write: true, tenant_id: null, via: 'oidc', subject: ADMIN_USER.sub, email: ADMIN_USER.email });
});

test('the admin creates and edits a key: the audit records name the person', STEP, async () => {
  await page.click('#new-key');
  await page.waitForSelector('dialog form.key-form');
  await fill(page, 'dialog [name="id"]', KEY_ID);
  await fill(page, 'dialog [name="tenant_id"]', TENANT);
  await fill(page, 'dialog [name="limits.rpm"]', '600');
  await page.click('#key-save');
  await page.waitForSelector('#new-token');
  await page.click('dialog .dialog-actions button');
  await page.waitForFunction(() => !document.querySelector('dialog'));
  await page.waitForSelector(`tr[data-key="${KEY_ID}"] button[aria-label^="Edit"]`);
  await page.click(`tr[data-key="${KEY_ID}"] button[aria-label^="Edit"]`);
  await page.waitForSelector('dialog form.key-form');
  await fill(page, 'dialog [name="limits.rpm"]', '700');
  await page.click('#key-save');
  await page.waitForFunction(() => !document.querySelector('dialog'));
  const listed = (await adminGet('/admin/keys?id_prefix=' + KEY_ID))[0];
  assert.equal(listed.limits.rpm, 700);
  const records = (await adminGet('/admin/audit?kind=admin.key.upsert&limit=50')).filter((r) => r.payload.key_id === KEY_ID);
  assert.equal(records.length, 2, 'created, then edited');
  for (const r of records) {
    assert.deepEqual(pick(r.payload.actor, ['via', 'sub', 'email', 'role']), { via: 'oidc', sub: ADMIN_USER.sub, email: ADMIN_USER.email, role: 'admin' }, JSON.stringify(r.payload));
  }
  // The audit page shows who.
  await gotoPage(page, 'audit');
  const row = `tr[data-id="${records[0].id}"]`;
  await page.waitForSelector(row);
  assert.ok((await page.$eval(row, (e) => e.textContent)).includes(ADMIN_USER.email));
});

test('a tampered state is refused: nothing exchanged, nothing stored', STEP, async () => {
  const before = await idpLog();
  await ssoSignIn({ ...ADMIN_USER, tamper_state: true });
  assert.match(await ssoError(), /state mismatch/);
  await shot(page, SHOTS, 'signin-sso-refused.png');
  const after = await idpLog();
  assert.equal(after.authorize.length, before.authorize.length + 1, 'the provider issued a code');
  assert.equal(after.token.length, before.token.length, 'the code was not exchanged');
  const s = await storage();
  assert.deepEqual(s.session, [], 'no token, no verifier left');
  assert.equal(s.search, '', 'the code is not left in the address');
  assert.equal(await page.$eval('#app', (e) => e.hidden), true);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'sso-signin', 'the button has the focus again');

  // A callback this tab never started (a code pushed by someone else): refused the same way.
  await page.goto(UI + '?code=forged-code&state=forged-state', { waitUntil: 'load' });
  await page.waitForSelector('html[data-ready="1"]');
  assert.match(await ssoError(), /not started from this tab/);
  assert.equal((await idpLog()).token.length, before.token.length, 'nothing exchanged');
  assert.equal((await storage()).search, '');
});

test('the provider\'s refusal (access_denied) is shown on the sign-in page', STEP, async () => {
  await ssoSignIn({ ...ADMIN_USER, deny: true });
  const text = await ssoError();
  assert.match(text, /access_denied/);
  assert.match(text, /refused to sign in/);
  const s = await storage();
  assert.deepEqual(s.session, []);
  assert.equal(s.search, '');
});

test('an identity the gateway maps to no role, and an expired token, are refused with a message', STEP, async () => {
  await ssoSignIn({ sub: 'nobody-' + RUN, email: `nobody.${RUN}@example.test`, groups: ['nobody'] });
  assert.match(await ssoError(), /no role/);
  assert.deepEqual((await storage()).session, [], 'the refused token is not kept');
  await ssoSignIn({ ...ADMIN_USER, ttl_seconds: -300 });
  assert.match(await ssoError(), /401/);
  assert.deepEqual((await storage()).session, []);
});

test('a viewer (ditto-viewers), signed in with the keyboard, sees no change button', STEP, async () => {
  const token = await ssoSignIn({ sub: 'vic-' + RUN, email: `vic.${RUN}@example.test`, groups: ['ditto-viewers'] }, { keyboard: true });
  const me = await signedIn();
  assert.equal(me.role, 'read');
  assert.equal(me.who, 'Admin · read-only');
  assert.equal(me.user, `vic.${RUN}@example.test`);
  await page.waitForSelector('#main tr[data-key]');
  assert.equal(await page.$('#new-key'), null, 'no New key');
  assert.equal(await page.$$eval('#main tr[data-key] button', (b) => b.length), 0, 'no row action');
  await gotoPage(page, 'config');
  await page.waitForSelector('tr[data-version]');
  assert.equal((await page.$$('[data-rollback]')).length, 0, 'no Roll back');
  await gotoPage(page, 'backends');
  await page.waitForSelector('tr[data-backend]');
  assert.equal((await page.$$('[data-reset]')).length, 0, 'no Reset');
  const put = await api('/admin/keys/' + KEY_ID, token, { method: 'PUT', body: JSON.stringify({ id: KEY_ID, enabled: false }) });
  assert.ok(put.status === 401 || put.status === 403, 'the API refuses a viewer\'s PUT: ' + put.status);
});

test('an auditor (finance) sees only Audit and Spend, and nothing that writes', STEP, async () => {
  const token = await ssoSignIn({ sub: 'fay-' + RUN, email: `fay.${RUN}@example.test`, groups: ['finance'] });
  const me = await signedIn();
  assert.deepEqual(me, { who: 'Auditor · read-only', role: 'auditor', user: `fay.${RUN}@example.test`, tabs: ['spend', 'audit'] });
  assert.equal(await page.$eval('[role="tab"][aria-selected="true"]', (e) => e.dataset.page), 'spend', 'the first page the role has');
  await page.waitForSelector('#ledgers tr[data-ledger], #ledgers .notice');
  await gotoPage(page, 'audit');
  await page.waitForSelector('tr[data-kind]');
  assert.ok(await page.$('#export-audit'), 'the export is a read');
  await shot(page, SHOTS, 'audit-auditor.png');
  // A page the role does not have, asked for by its address: the first page it has instead.
  await page.evaluate(() => { location.hash = 'keys'; });
  await page.waitForFunction(() => document.querySelector('#tab-spend').getAttribute('aria-selected') === 'true');
  assert.equal(await page.$('#new-key'), null);
  assert.equal(await page.$('[data-rollback], [data-reset], [data-action="toggle"]'), null);
  assert.equal((await api('/admin/keys', token)).status, 403);
  assert.equal((await api('/admin/audit?limit=1', token)).status, 200);
  const w = await api('/admin/whoami', token);
  assert.deepEqual(pick(w.body, WHO), { role: 'auditor', can_write: false, tenant_id: null, via: 'oidc', subject: 'fay-' + RUN, email: `fay.${RUN}@example.test` });
});

test('a tenant admin (acme-admins) sees only its tenant\'s keys', STEP, async () => {
  await ssoSignIn({ sub: 'tom-' + RUN, email: `tom.${RUN}@example.test`, groups: ['acme-admins'] });
  const me = await signedIn();
  assert.deepEqual(me, { who: `Tenant ${TENANT} · write`, role: 'tenant_write', user: `tom.${RUN}@example.test`, tabs: ['keys', 'spend', 'live', 'audit'] });
  await page.waitForSelector('#main tr[data-key]');
  const all = await adminGet('/admin/keys');
  const mine = all.filter((k) => k.tenant_id === TENANT).map((k) => k.id).sort();
  assert.ok(all.some((k) => k.tenant_id !== TENANT), 'the gateway has keys of another tenant');
  assert.ok(mine.includes(KEY_ID));
  const shown = (await page.$$eval('#main tr[data-key]', (r) => r.map((e) => e.dataset.key))).sort();
  assert.deepEqual(shown, mine);
  assert.ok(await page.$('#new-key'), 'a tenant admin may create keys');
  // The header with the person's email still fits a phone.
  await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  await sleep(300);
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  await page.setViewport({ width: 1280, height: 800 });
  assert.ok(w <= 392, `${w} px wide at a 390 px viewport`);
});

test('a token the gateway stops accepting signs out: "Your session expired; sign in again"', STEP, async () => {
  await ssoSignIn({ sub: 'vic-' + RUN, email: `vic.${RUN}@example.test`, groups: ['ditto-viewers'] });
  await signedIn();
  // What an expired token looks like to the console: the next read answers 401. (Waiting for
  // a real expiry would take the gateway's 60 s leeway; a token with a broken signature gets
  // the same 401.)
  await page.evaluate(() => {
    const t = sessionStorage.getItem('ditto.console.token');
    const [h, p, s] = t.split('.');
    const mid = Math.floor(s.length / 2);
    sessionStorage.setItem('ditto.console.token', `${h}.${p}.${s.slice(0, mid)}${s[mid] === 'A' ? 'B' : 'A'}${s.slice(mid + 1)}`);
  });
  await page.click('#tab-audit');
  assert.equal(await ssoError(), 'Your session expired; sign in again.');
  assert.equal(await page.$eval('#app', (e) => e.hidden), true);
  assert.deepEqual((await storage()).session, [], 'the token is forgotten');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'sso-signin');
});

test('sign-out forgets the token and goes through the provider\'s end-session endpoint', STEP, async () => {
  await ssoSignIn(ADMIN_USER);
  await signedIn();
  const before = await idpLog();
  const back = page.waitForNavigation({ waitUntil: 'load' });
  await page.click('#signout');
  await back;
  await page.waitForSelector('html[data-ready="1"]');
  await page.waitForSelector('#sso-signin', { visible: true });
  assert.equal((await idpLog()).logout, before.logout + 1);
  const s = await storage();
  assert.deepEqual(s.session, []);
  assert.equal(new URL(s.href).pathname, new URL(UI).pathname);
  assert.equal(s.search, '');
  const logout = requestUrls.map((u) => new URL(u)).filter((u) => u.href.startsWith(IDP + '/logout')).pop();
  assert.equal(logout.searchParams.get('client_id'), 'ditto-console');
  assert.equal(logout.searchParams.get('post_logout_redirect_uri'), UI);
  assert.equal(logout.searchParams.get('id_token_hint'), null, 'no token in the URL');
});

test('the PKCE challenge: crypto.subtle and our SHA-256 agree (RFC 7636 appendix B, node:crypto)', STEP, async () => {
  const verifiers = ['dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
    ...Array.from({ length: 20 }, (_, i) => crypto.randomBytes(32 + i * 3).toString('base64url').slice(0, 43 + i * 4))];
  const r = await page.evaluate(async (vs) => {
    const { pkceChallenge } = await import(new URL('js/sso.js', location.href).href);
    return {
      subtle: await Promise.all(vs.map((v) => pkceChallenge(v))),
      ours: await Promise.all(vs.map((v) => pkceChallenge(v, { subtle: null }))),
    };
  }, verifiers);
  const expected = verifiers.map((v) => crypto.createHash('sha256').update(v).digest('base64url'));
  assert.equal(expected[0], 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  assert.deepEqual(r.subtle, expected);
  assert.deepEqual(r.ours, expected);
});

test('no CSP violation, no page error, no token in any URL or console line', STEP, async () => {
  assert.deepEqual(problems, []);
  assert.ok(accessTokens.size >= 4, 'tokens collected: ' + accessTokens.size);
  for (const t of [...accessTokens, ADMIN]) {
    assert.ok(!requestUrls.some((u) => u.includes(t)), 'a token in a request URL');
    assert.ok(!consoleText.some((c) => c.includes(t)), 'a token in the console');
  }
  for (const body of tokenRequests) {
    const v = new URLSearchParams(body).get('code_verifier');
    assert.ok(!requestUrls.some((u) => u.includes(v)), 'a verifier in a request URL');
  }
});
