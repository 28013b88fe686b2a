// The console's shell: sign-in (a pasted token, or single sign-on through js/sso.js), the tabs,
// and which page is shown. Pages are modules with render(main) and an optional leave().
import { get, session, who, setWho, onSessionExpired, ApiError } from './api.js';
import { $, toast } from './dom.js';
import * as sso from './sso.js';
// Pages are loaded when first shown: the sign-in page needs only this module, api.js, dom.js and
// sso.js.
const loaders = {
  keys: () => import('./keys.js'),
  spend: () => import('./spend.js'),
  live: () => import('./live.js'),
  audit: () => import('./audit.js'),
  config: () => import('./config.js'),
  backends: () => import('./backends.js'),
};
const pages = {};
let current = null;
let ssoConfig = null; // GET /admin/sso's answer when the gateway has single sign-on

function tabs() {
  return [...document.querySelectorAll('[role="tab"]')];
}

function visibleTabs() {
  return tabs().filter((t) => !t.hidden);
}

async function show(name, focus = false) {
  if (!loaders[name] || $(`#tab-${name}`).hidden) name = visibleTabs()[0]?.dataset.page || 'keys';
  if (current && current !== name && pages[current]?.leave) pages[current].leave();
  current = name;
  for (const t of tabs()) {
    const on = t.dataset.page === name;
    t.setAttribute('aria-selected', on ? 'true' : 'false');
    t.tabIndex = on ? 0 : -1;
  }
  const main = $('#main');
  main.setAttribute('aria-labelledby', 'tab-' + name);
  if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
  // Each render gets its own box: a page still loading when another tab is chosen draws into
  // a detached box, never over the new page.
  const box = document.createElement('div');
  main.replaceChildren(box);
  try {
    pages[name] ||= await loaders[name]();
    if (current !== name) return; // another tab was chosen while this one loaded
    await pages[name].render(box);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) toast(e.message, 'error');
  }
  if (focus) main.focus();
}

// Tabs as buttons (WAI-ARIA tabs pattern): click or Enter/Space selects, arrows and Home/End move.
function wireTabs() {
  const nav = $('.tabs');
  nav.addEventListener('click', (e) => {
    const t = e.target.closest('[role="tab"]');
    if (t) show(t.dataset.page);
  });
  nav.addEventListener('keydown', (e) => {
    const list = visibleTabs();
    const i = list.indexOf(document.activeElement);
    if (i < 0) return;
    let j = null;
    if (e.key === 'ArrowRight') j = (i + 1) % list.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + list.length) % list.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = list.length - 1;
    if (j === null) return;
    e.preventDefault();
    list[j].focus();
    show(list[j].dataset.page);
  });
  window.addEventListener('hashchange', () => {
    const name = location.hash.slice(1);
    if (name && name !== current && loaders[name]) show(name);
  });
}

// Who the token is: GET /admin/whoami (401: not a valid token). A tenant token gets no Config or
// Backends tab (the API refuses them, 403), a read token no change buttons.
async function probe(token) {
  setWho(await get('/admin/whoami', null, { token }));
}

const ROLE_TITLE = {
  write: 'A global write token: every key, ledger and record, and every change.',
  read: 'A global read token: sees everything, changes nothing.',
  tenant_write: 'A tenant token: this tenant\'s keys, ledgers and audit records, and changes to them.',
  tenant_read: 'A tenant read token: this tenant\'s keys, ledgers and audit records, no changes.',
  auditor: 'An auditor: the audit log and the spend, no changes.',
};

// The pages each role has: an auditor the audit log and the spend only; a tenant role no Config
// or Backends (the API refuses them, 403).
function pagesFor() {
  if (who.role === 'auditor') return ['spend', 'audit'];
  if (who.scope !== 'global') return ['keys', 'spend', 'live', 'audit'];
  return Object.keys(loaders);
}

function enter() {
  $('#signin').hidden = true;
  $('#app').hidden = false;
  $('#signout').hidden = false;
  const w = $('#who');
  w.hidden = false;
  const title = who.role === 'auditor' ? 'Auditor' : who.scope === 'global' ? 'Admin' : 'Tenant ' + who.tenant;
  w.textContent = title + (who.canWrite ? ' · write' : ' · read-only');
  w.dataset.role = who.role;
  w.classList.toggle('ro', !who.canWrite);
  w.title = ROLE_TITLE[who.role] || '';
  // Who signed in through single sign-on: the identity's email, else its subject.
  const u = $('#user');
  const name = who.via === 'oidc' ? who.email || who.subject : null;
  u.hidden = !name;
  u.textContent = name || '';
  u.title = name ? 'Signed in with single sign-on' + (ssoConfig ? ' at ' + ssoConfig.issuer : '') : '';
  const allowed = pagesFor();
  for (const t of tabs()) t.hidden = !allowed.includes(t.dataset.page);
  // Live traffic is scraped from sign-in on, so its charts have history when opened.
  if (allowed.includes('live')) {
    loaders.live().then((m) => {
      pages.live = m;
      if (session.token) m.start();
    });
  }
  show(location.hash.slice(1) || allowed[0]);
}

function hostOf(u) {
  try {
    return new URL(u).host;
  } catch {
    return String(u);
  }
}

// The sign-in page, with a message under the SSO button (ssoMessage) or under the token field.
function showSignin({ message = '', ssoMessage = '' } = {}) {
  $('#signin').hidden = false;
  const ssoBox = $('#sso');
  ssoBox.hidden = !ssoConfig && !ssoMessage;
  $('#sso-issuer').textContent = ssoConfig ? ', at ' + hostOf(ssoConfig.issuer) : '';
  $('#sso-signin').disabled = false;
  // One primary action: SSO when there is one, the token otherwise.
  $('#signin-form button[type="submit"]').classList.toggle('primary', ssoBox.hidden);
  for (const [sel, text] of [['#sso-error', ssoMessage], ['#signin-error', message]]) {
    const err = $(sel);
    err.hidden = !text;
    err.textContent = text || '';
  }
  $('#token').value = '';
  (ssoBox.hidden ? $('#token') : $('#sso-signin')).focus();
}

function signOut(message, { endSession = false } = {}) {
  const oidc = session.via === 'oidc' || who.via === 'oidc';
  session.clear();
  sso.clearPending();
  setWho(null);
  pages.live?.stop();
  if (current && pages[current]?.leave) pages[current].leave();
  current = null;
  $('#main').replaceChildren();
  $('#app').hidden = true;
  $('#signout').hidden = true;
  $('#who').hidden = true;
  $('#user').hidden = true;
  history.replaceState(null, '', location.pathname);
  // Signing out of an SSO session signs out at the provider too, when it has an end-session
  // endpoint; it sends the browser back to /ui/.
  if (endSession && oidc && ssoConfig?.end_session_endpoint) {
    try {
      sso.endSession(ssoConfig);
      return;
    } catch {
      /* not a URL: signed out here only */
    }
  }
  showSignin(oidc && ssoConfig ? { ssoMessage: message } : { message });
}

// The identity provider's answer (/ui/?code=…&state=…): the code exchanged for an access token,
// then the same check as a pasted token (GET /admin/whoami).
async function completeSso() {
  try {
    const token = await sso.complete(ssoConfig);
    try {
      await probe(token);
    } catch (x) {
      if (x.status === 401) throw new Error('The gateway did not accept the identity provider\'s token (401): it may have expired, or be for another audience. Sign in again.');
      if (x.status === 403) throw new Error('You signed in, but this gateway gives your account no role (' + x.message + ').');
      throw x;
    }
    session.set(token, 'oidc');
    enter();
  } catch (x) {
    showSignin({ ssoMessage: x.message });
  }
}

const EXPIRED_OIDC = 'Your session expired; sign in again.';

async function boot() {
  // Asked first, answered while the page is wired.
  const discovered = sso.discover().then((c) => ({ c }), (e) => ({ e }));
  wireTabs();
  onSessionExpired(() => signOut(session.via === 'oidc' ? EXPIRED_OIDC : 'The token was refused (401): sign in again.'));
  $('#signout').addEventListener('click', () => signOut('', { endSession: true }));
  $('#sso-signin').addEventListener('click', async (e) => {
    const btn = e.currentTarget;
    const err = $('#sso-error');
    err.hidden = true;
    btn.disabled = true;
    try {
      ssoConfig ||= await sso.discover(); // not available at load (503): asked again
      if (!ssoConfig) throw new Error('This gateway has no single sign-on configured: use a token.');
      await sso.begin(ssoConfig); // navigates away
    } catch (x) {
      err.textContent = x.message;
      err.hidden = false;
      btn.disabled = false;
      btn.focus();
    }
  });
  $('#signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('#token');
    const token = input.value.trim();
    const err = $('#signin-error');
    err.hidden = true;
    if (!token) return;
    const btn = e.submitter || $('#signin-form button[type="submit"]');
    btn.disabled = true;
    try {
      await probe(token);
      session.set(token);
      input.value = '';
      enter();
    } catch (x) {
      err.textContent = x.status === 401 ? 'This token is not valid for this gateway.' :
        x.status === 404 ? 'The Admin API is not enabled on this gateway.' : x.message;
      err.hidden = false;
      input.focus();
    } finally {
      btn.disabled = false;
    }
  });
  const d = await discovered;
  ssoConfig = d.c || null;
  const ssoMessage = d.e ? d.e.message : ''; // configured, not ready: the button asks again when clicked
  const saved = session.token;
  if (sso.isCallback()) {
    await completeSso();
  } else if (saved) {
    try {
      await probe(saved);
      enter();
    } catch {
      signOut(session.via === 'oidc' ? EXPIRED_OIDC : 'Your session ended: sign in again.');
    }
  } else {
    showSignin({ ssoMessage });
  }
  document.documentElement.dataset.ready = '1';
  performance.mark('console-ready'); // the browser test's time to interactive
}

boot();
