// The console's shell: sign-in, the tabs, and which page is shown. Pages are modules with
// render(main) and an optional leave().
import { get, session, who, setWho, onSessionExpired, ApiError } from './api.js';
import { $, toast } from './dom.js';
// Pages are loaded when first shown: the sign-in page needs only this module, api.js and dom.js.
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

function tabs() {
  return [...document.querySelectorAll('[role="tab"]')];
}

function visibleTabs() {
  return tabs().filter((t) => !t.hidden);
}

async function show(name, focus = false) {
  if (!loaders[name] || $(`#tab-${name}`).hidden) name = 'keys';
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
};

function enter() {
  $('#signin').hidden = true;
  $('#app').hidden = false;
  $('#signout').hidden = false;
  const w = $('#who');
  w.hidden = false;
  w.textContent = (who.scope === 'global' ? 'Admin' : 'Tenant ' + who.tenant) + (who.canWrite ? ' · write' : ' · read-only');
  w.dataset.role = who.role;
  w.classList.toggle('ro', !who.canWrite);
  w.title = ROLE_TITLE[who.role] || '';
  $('#tab-config').hidden = who.scope !== 'global';
  $('#tab-backends').hidden = who.scope !== 'global';
  // Live traffic is scraped from sign-in on, so its charts have history when opened.
  loaders.live().then((m) => {
    pages.live = m;
    if (session.token) m.start();
  });
  show(location.hash.slice(1) || 'keys');
}

function signOut(message) {
  session.clear();
  setWho(null);
  pages.live?.stop();
  if (current && pages[current]?.leave) pages[current].leave();
  current = null;
  $('#main').replaceChildren();
  $('#app').hidden = true;
  $('#signout').hidden = true;
  $('#who').hidden = true;
  $('#signin').hidden = false;
  const err = $('#signin-error');
  err.hidden = !message;
  err.textContent = message || '';
  history.replaceState(null, '', location.pathname);
  $('#token').value = '';
  $('#token').focus();
}

async function boot() {
  wireTabs();
  onSessionExpired(() => signOut('The token was refused (401): sign in again.'));
  $('#signout').addEventListener('click', () => signOut());
  $('#signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('#token');
    const token = input.value.trim();
    const err = $('#signin-error');
    err.hidden = true;
    if (!token) return;
    const btn = e.submitter || $('#signin-form button');
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
  const saved = session.token;
  if (saved) {
    try {
      await probe(saved);
      enter();
    } catch {
      signOut('Your session ended: sign in again.');
    }
  } else {
    $('#token').focus();
  }
  document.documentElement.dataset.ready = '1';
  performance.mark('console-ready'); // the browser test's time to interactive
}

boot();
