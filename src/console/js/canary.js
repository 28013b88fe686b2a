// The Config page's Canary section: whether a canary runs (GET /admin/config/canary), each router
// version's requests, non-2xx share and mean latency side by side (/metrics/prometheus), and for
// a write token a form to start or replace one (PUT /admin/config/canary, dry run first if you
// like) and Promote / Roll back (POST /admin/config/canary/{promote,rollback}), each confirmed.
import { get, put, post, request, session, who } from './api.js';
import { h, clear, button, notice, badge, field, showFieldError, clearErrors, confirmDialog, toast, table, fmtInt, fmtNum } from './dom.js';
import { parse } from './prom.js';

const P = 'ditto_gateway_proxy_';
let els = null;
let onChange = null;
let canary = null; // GET /admin/config/canary's answer, null when none runs
let prefilled = ''; // the router JSON last put in the textarea (replaced on refresh unless edited)
const pct = (x, d = 2) => `${+Number(x).toFixed(d)} %`;

export function leave() {
  els = null;
}

// The section, drawn empty; refresh() fills it. changed() is called after a change (a new version).
export function mount(changed) {
  onChange = changed;
  prefilled = '';
  els = { state: h('div', { id: 'canary-state', 'aria-live': 'polite' }), metrics: h('div', { id: 'canary-metrics' }), form: null };
  const out = h('section', { 'aria-labelledby': 'h-canary', id: 'canary' },
    h('h2', { id: 'h-canary', tabindex: '-1', text: 'Canary' }),
    h('p', { class: 'muted', text: 'A candidate router for a share of requests, next to the current (stable) one; promote it to make it the router, or roll it back. Each is a new config version.' + (who.canWrite ? '' : ' Starting, promoting or rolling back a canary needs a write token.') }),
    els.state,
    h('h3', { text: 'Requests by router version' }),
    els.metrics);
  if (who.canWrite) {
    els.form = form();
    out.append(els.form.box);
  }
  return out;
}

export async function refresh() {
  if (!els) return;
  const mine = els;
  const [state, text, current] = await Promise.all([
    get('/admin/config/canary').then((c) => ({ c }), (e) => ({ e })),
    request('GET', '/metrics/prometheus', { text: true, token: session.token }).then((t) => ({ t }), (e) => ({ e })),
    // The current router, to prefill the form (not once the operator has typed in it).
    els.form?.pristine() ? get('/admin/config/export').then((d) => d.router, () => null) : null,
  ]);
  if (els !== mine) return; // the page was left meanwhile
  canary = state.c || null;
  const hadFocus = els.state.contains(document.activeElement);
  if (state.e && !(state.e.status === 404 && /no canary/.test(state.e.message))) {
    clear(els.state, notice(state.e.status === 404 ? 'This gateway has no canary API.' : state.e.message, 'error'));
  } else {
    clear(els.state, stateView());
  }
  clear(els.metrics, text.e ? notice(text.e.status === 404 ? 'Per-version numbers need --prometheus-metrics.' : text.e.message, text.e.status === 404 ? 'info' : 'error') : metricsView(parse(text.t)));
  if (els.form) els.form.update(current);
  // Promote or Roll back had the focus and is gone: the section's heading takes it.
  if (hadFocus && !els.state.contains(document.activeElement)) focusHeading();
}

function focusHeading() {
  els?.state.closest('section')?.querySelector('h2')?.focus();
}

function stateView() {
  if (!canary) return notice('No canary is running: every request uses the current router.');
  const bar = h('span', { class: 'canary-share' });
  bar.style.width = Math.min(100, Math.max(0, canary.percent)) + '%';
  return h('div', { dataset: { state: 'running' } },
    h('p', { class: 'canary-summary' }, badge('canary running', 'warn'), ' ',
      h('strong', { id: 'canary-percent-shown', text: pct(canary.percent) }), ' of requests go to the candidate, the rest to the stable router.'),
    h('div', { class: 'bar', role: 'img', 'aria-label': pct(canary.percent) + ' to the canary' }, bar),
    h('dl', { class: 'kv' },
      h('dt', { text: 'Stable' }), h('dd', { class: 'mono', id: 'canary-stable', text: canary.stable_version }),
      h('dt', { text: 'Canary' }), h('dd', { class: 'mono', id: 'canary-version', text: canary.canary_version })),
    h('h3', { text: 'Candidate router' }),
    h('pre', { class: 'json', id: 'canary-router', text: JSON.stringify(canary.router, null, 2) }),
    who.canWrite ? h('div', { class: 'row-actions' },
      button('Promote…', () => end(true), 'primary', { id: 'canary-promote' }),
      button('Roll back…', () => end(false), 'danger', { id: 'canary-rollback' })) : null);
}

// Per router version, from this replica's counters since it started: answers, non-2xx, mean time to the response head.
function metricsView(m) {
  const rows = new Map();
  const row = (v) => rows.get(v) || rows.set(v, { v, role: '', share: null, n: 0, bad: 0, sum: 0, count: 0 }).get(v);
  for (const x of m.get(P + 'router_version_share') || []) Object.assign(row(x.labels.router_version), { role: x.labels.role, share: x.value });
  for (const x of m.get(P + 'responses_by_router_version_status_total') || []) {
    const r = row(x.labels.router_version);
    r.n += x.value;
    if (!String(x.labels.status).startsWith('2')) r.bad += x.value;
  }
  for (const x of m.get(P + 'request_duration_seconds_by_router_version_sum') || []) row(x.labels.router_version).sum += x.value;
  for (const x of m.get(P + 'request_duration_seconds_by_router_version_count') || []) row(x.labels.router_version).count += x.value;
  if (canary) {
    row(canary.stable_version).role ||= 'stable';
    row(canary.canary_version).role ||= 'canary';
  }
  const rank = { canary: 0, stable: 1 };
  const list = [...rows.values()].sort((a, b) => (rank[a.role] ?? 2) - (rank[b.role] ?? 2) || b.n - a.n).slice(0, 10);
  return [
    table([
      { label: 'Router version', cell: (r) => h('span', { class: 'mono', text: r.v }) },
      { label: 'Role', cell: (r) => (r.role ? badge(r.role, r.role === 'canary' ? 'warn' : 'ok') : h('span', { class: 'muted', text: 'earlier' })) },
      { label: 'Share', cell: (r) => (r.share === null ? '—' : pct(r.share)) },
      { label: 'Requests', cell: (r) => h('span', { dataset: { n: 'requests' }, text: fmtInt(r.n) }) },
      { label: 'Non-2xx', cell: (r) => (r.n ? pct((100 * r.bad) / r.n, 1) : '—') },
      { label: 'Mean latency', cell: (r) => (r.count ? fmtNum((1000 * r.sum) / r.count) + ' ms' : '—') },
    ], list, { row: (r) => ({ dataset: { routerVersion: r.v, role: r.role || 'earlier' } }), caption: 'Requests by router version', empty: 'No request has been routed yet.' }),
    h('p', { class: 'muted', text: 'This replica\'s counters since it started (answers to /v1/* that reached the router); latency is the time to the response head.' }),
  ];
}

async function end(promote) {
  const c = canary;
  const ok = await confirmDialog(promote ? 'Promote the canary' : 'Roll back the canary',
    promote ? `Every request will use the candidate router ${c.canary_version}: it becomes the router, as a new config version, and the canary ends.`
      : `Every request will use the stable router ${c.stable_version} again, as a new config version; the candidate ${c.canary_version} is dropped.`,
    promote ? 'Promote' : 'Roll back', !promote);
  if (!ok) return;
  try {
    // The canary this page shows: another one (replaced since) answers 409 instead of being acted on.
    const r = await post('/admin/config/canary/' + (promote ? 'promote' : 'rollback'), { expected_canary_version: c.canary_version });
    toast(`${promote ? 'Promoted' : 'Rolled back'}: the router is ${r.router_version} (${r.current_version.version_id}).`);
  } catch (e) {
    toast(e.message, 'error');
  }
  await changed();
}

async function changed() {
  await Promise.all([refresh(), onChange?.()]);
}

function form() {
  const share = field('Share of requests (%)', { id: 'canary-percent', name: 'percent', type: 'number', min: '0', max: '100', step: 'any', inputmode: 'decimal', value: '10' }, 'Greater than 0, at most 100.');
  const json = field('Candidate router (JSON)', { id: 'canary-router-json', name: 'router', tag: 'textarea', rows: '10', class: 'mono', spellcheck: 'false', autocomplete: 'off' },
    'As "router" in PUT /admin/config/router: default_backends and rules. Prefilled with the current router, or the running candidate.');
  const result = h('div', { id: 'canary-result', 'aria-live': 'polite' });
  const area = json.querySelector('textarea');
  const title = h('summary', { text: 'Start a canary' });
  const dry = button('Dry run', () => send(true), '', { id: 'canary-dry' });
  const go = h('button', { type: 'submit', class: 'primary', id: 'canary-start', text: 'Start canary' });
  const f = h('form', { id: 'canary-form', novalidate: true, on: { submit: (e) => { e.preventDefault(); send(false); } } },
    share, json, result, h('div', { class: 'dialog-actions start' }, dry, go));
  const box = h('details', { class: 'canary-form', id: 'canary-start-box' }, title, f);

  async function send(dryRun) {
    clearErrors(f);
    clear(result);
    const percent = Number(share.querySelector('input').value);
    if (!(percent > 0 && percent <= 100)) return showFieldError(share, 'A share greater than 0 and at most 100.');
    let router;
    try {
      router = JSON.parse(area.value);
    } catch (e) {
      return showFieldError(json, 'Not JSON: ' + e.message);
    }
    if (router && typeof router === 'object' && !Array.isArray(router) && router.router && !router.default_backends) router = router.router; // a PUT /admin/config/router body
    if (!router || typeof router !== 'object' || Array.isArray(router)) return showFieldError(json, 'The router is a JSON object: {"default_backends": [...], "rules": [...]}.');
    dry.disabled = go.disabled = true;
    try {
      const r = await put('/admin/config/canary', { percent, router, dry_run: dryRun || undefined });
      const k = r.canary;
      if (dryRun) {
        const same = k.canary_version === k.stable_version;
        clear(result, h('p', { class: 'notice ' + (same ? 'warn' : 'ok'), dataset: { dryRun: same ? 'same' : 'ok' } },
          same ? `Dry run: the candidate is the stable router itself (${k.stable_version}); a canary would change nothing.`
            : `Dry run OK: ${pct(k.percent)} of requests would go to ${k.canary_version}, the rest to ${k.stable_version}` + (canary ? ', replacing the running canary.' : '.')));
      } else {
        toast(`Canary started: ${pct(k.percent)} to ${k.canary_version}.`);
        box.open = false;
        prefilled = area.value; // now the running candidate: refreshes may replace it again
        await changed();
        focusHeading();
      }
    } catch (e) {
      if (e.status === 400 && /percent/.test(e.message)) showFieldError(share, e.message);
      else if (e.status === 400) showFieldError(json, e.message);
      else clear(result, notice(e.message, 'error'));
    } finally {
      dry.disabled = go.disabled = false;
    }
  }

  // After a refresh: the title and the prefill follow the state, unless the operator has typed.
  function update(current) {
    title.textContent = canary ? 'Replace the canary (a new share or candidate)' : 'Start a canary';
    go.textContent = canary ? 'Replace canary' : 'Start canary';
    const src = canary ? canary.router : current;
    if (!src || !pristine()) return;
    const { canary: _, ...router } = src;
    prefilled = area.value = JSON.stringify(router, null, 2);
    if (canary) share.querySelector('input').value = String(canary.percent);
  }
  const pristine = () => !area.value || area.value === prefilled;
  return { box, update, pristine };
}
