// Audit: a paged table (GET /admin/audit, newest first, filtered by kind and time by the API),
// and the tamper-evident export (GET /admin/audit/export) downloaded as JSONL or CSV and its
// hash chain verified here.
import { get, request } from './api.js';
import { h, clear, pageHead, button, notice, fmtTime, table, fromLocalInput, download, fmtInt } from './dom.js';
import { verifyExport } from './audit-chain.js';

const PAGE = 50;
const FETCH = 1000; // the most /admin/audit returns at once
const KINDS = ['proxy', 'proxy.error', 'proxy.blocked', 'admin.', 'admin.key.upsert', 'admin.key.delete', 'admin.key.rotate',
  'admin.config.router.upsert', 'admin.config.rollback', 'admin.backend.reset', 'admin.proxy_cache.purge'];

// records: every record read so far for the current filters, newest first; a page is PAGE of
// them. exhausted: the API has nothing older.
const state = { kind: '', since: '', before: '', page: 0, records: [], exhausted: false, busy: false, error: null, format: 'jsonl', limit: '1000' };
let els = null;

export function leave() {
  els = null;
}

export async function render(main) {
  const input = (id, label, key, attrs = {}) => [
    h('label', { for: id, text: label }),
    h('input', { id, value: state[key], ...attrs, on: { change: (e) => { state[key] = e.target.value; } } }),
  ];
  const filters = h('form', { class: 'toolbar', id: 'audit-filters', on: { submit: (e) => { e.preventDefault(); state.page = 0; load(); } } },
    input('audit-kind', 'Kind starts with', 'kind', { list: 'audit-kinds', placeholder: 'any', autocomplete: 'off' }),
    h('datalist', { id: 'audit-kinds' }, KINDS.map((k) => h('option', { value: k }))),
    input('audit-since', 'Since', 'since', { type: 'datetime-local' }),
    input('audit-before', 'Before', 'before', { type: 'datetime-local' }),
    h('button', { type: 'submit', class: 'primary', text: 'Apply' }),
    button('Clear', () => {
      Object.assign(state, { kind: '', since: '', before: '', page: 0 });
      for (const id of ['audit-kind', 'audit-since', 'audit-before']) document.getElementById(id).value = '';
      load();
    }));
  const fmtSel = h('select', { id: 'export-format', on: { change: (e) => { state.format = e.target.value; } } },
    [['jsonl', 'JSONL'], ['csv', 'CSV']].map(([v, t]) => h('option', { value: v, text: t, selected: state.format === v })));
  const limit = h('input', { id: 'export-limit', inputmode: 'numeric', value: state.limit, size: 6, on: { change: (e) => { state.limit = e.target.value.trim(); } } });
  const file = h('input', { id: 'verify-file', type: 'file', accept: '.jsonl,.ndjson,.csv,.txt', on: { change: verifyFile } });
  els = { list: h('div', { id: 'audit-list' }), pager: h('div', { class: 'pager' }), result: h('div', { id: 'chain-result', role: 'status' }) };
  main.append(
    pageHead('Audit', button('Refresh', () => load(), '', { id: 'audit-refresh' })),
    filters, els.pager, els.list,
    h('section', { 'aria-labelledby': 'h-export' },
      h('h2', { id: 'h-export', text: 'Export and verify' }),
      h('p', { class: 'muted', text: 'The export is the gateway\'s hash chain: every record carries sha256(previous hash + "\\n" + record). The newest records in the since/before window (kind is not applied: a filtered chain would not verify) are downloaded and their chain is checked in this browser.' }),
      h('div', { class: 'toolbar' },
        h('label', { for: 'export-format', text: 'Format' }), fmtSel,
        h('label', { for: 'export-limit', text: 'Records (≤ 10000)' }), limit,
        button('Export and verify', exportAndVerify, 'primary', { id: 'export-audit' }),
        h('label', { for: 'verify-file', text: 'Verify a file' }), file),
      els.result));
  await load();
}

function msOf(v) {
  return fromLocalInput(v);
}

// The filters as /admin/audit's query: kind is a prefix, since inclusive, before exclusive.
function query(extra) {
  return { kind: state.kind.trim(), since_ts_ms: msOf(state.since), before_ts_ms: msOf(state.before), ...extra };
}

// The newest page for the filters.
async function load() {
  state.page = 0;
  try {
    state.records = await get('/admin/audit', query({ limit: PAGE }));
    state.exhausted = state.records.length < PAGE;
    state.error = null;
  } catch (e) {
    state.records = [];
    state.error = e.message;
  }
  draw();
}

// The next page, older: read from the API when it is not loaded yet. before_ts_ms is exclusive
// and by millisecond, so the window ends just after the oldest record's millisecond and asks for
// as many more as the loaded records sharing it; those come back again and are dropped by id
// (records sharing that millisecond are neither lost nor shown twice).
async function older() {
  if (state.busy) return;
  if ((state.page + 1) * PAGE >= state.records.length && !state.exhausted) {
    const last = state.records[state.records.length - 1];
    if (!last) return;
    const same = state.records.filter((r) => r.ts_ms === last.ts_ms).length;
    const limit = Math.min(FETCH, PAGE + same);
    state.busy = true;
    try {
      const got = await get('/admin/audit', query({ limit, before_ts_ms: last.ts_ms + 1 }));
      const seen = new Set(state.records.map((r) => r.id));
      state.records.push(...got.filter((r) => !seen.has(r.id)));
      if (got.length < limit) state.exhausted = true;
    } catch (e) {
      state.error = e.message;
    } finally {
      state.busy = false;
    }
  }
  if ((state.page + 1) * PAGE < state.records.length) state.page++;
  draw();
  els?.list.querySelector('table')?.focus();
}

function newer() {
  state.page = Math.max(0, state.page - 1);
  draw();
  els.list.querySelector('table')?.focus();
}

function who(r) {
  const p = r.payload || {};
  return [p.virtual_key_id || p.key_id || p.backend, p.tenant_id].filter(Boolean).join(' · ') || '—';
}

// Who made an admin change (payload.actor): the SSO identity's email or subject, else the kind
// of token.
function actor(r) {
  const a = r.payload?.actor;
  if (!a || typeof a !== 'object') return '—';
  if (a.via === 'oidc') return h('span', { title: [a.sub && 'sub ' + a.sub, a.role && 'role ' + a.role].filter(Boolean).join(', ') || null }, String(a.email || a.sub || 'SSO'));
  return 'token' + (a.role ? ' (' + a.role + ')' : '');
}

function summary(r) {
  const p = r.payload || {};
  if (r.kind.startsWith('proxy')) {
    const parts = [p.status, p.method, p.path, p.model].filter((v) => v !== undefined && v !== null);
    if (p.total_tokens !== undefined && p.total_tokens !== null) parts.push(`${p.total_tokens} tokens`);
    if (p.reason) parts.push(p.reason);
    if (p.error_code) parts.push(p.error_code);
    return parts.join(' ');
  }
  if (r.kind === 'admin.key.upsert') return `${p.inserted ? 'created' : 'updated'}${p.enabled === false ? ', disabled' : ''}`;
  if (r.kind === 'admin.config.rollback') return p.rolled_back_to_version_id || p.version_id || '';
  return '';
}

function draw() {
  if (!els) return;
  if (state.error) {
    clear(els.list, h('p', { class: 'notice error', role: 'alert', text: state.error }));
    clear(els.pager);
    return;
  }
  const rows = state.records;
  const first = state.page * PAGE;
  const shown = rows.slice(first, first + PAGE);
  const last = first + PAGE >= rows.length;
  const kind = state.kind.trim();
  clear(els.pager,
    button('Newer', newer, 'small', { disabled: state.page === 0, id: 'audit-newer' }),
    h('span', {
      role: 'status', id: 'audit-page',
      text: shown.length
        ? `Page ${state.page + 1} · records ${fmtInt(first + 1)}–${fmtInt(first + shown.length)}${kind ? ' of kind ' + kind + '…' : ''}, newest first${last && state.exhausted ? ' (the oldest)' : ''}`
        : 'No records',
    }),
    button('Older', older, 'small', { disabled: last && state.exhausted, id: 'audit-older' }));
  clear(els.list, table([
    { label: 'ID', cell: (r) => String(r.id) },
    { label: 'Time', cell: (r) => fmtTime(r.ts_ms) },
    { label: 'Kind', cell: (r) => h('span', { class: 'mono', text: r.kind }) },
    { label: 'Key / tenant', cell: who },
    { label: 'By', cell: actor },
    { label: 'Summary', cell: summary },
    {
      label: 'Payload', cell: (r) => h('details', null, h('summary', { text: 'JSON' }),
        h('pre', { class: 'json', text: JSON.stringify(r.payload, null, 2) })),
    },
  ], shown, { row: (r) => ({ dataset: { id: r.id, kind: r.kind } }), caption: 'Audit records, newest first', empty: 'No audit record matches.', cls: 'audit' }));
  const t = els.list.querySelector('table');
  if (t) t.tabIndex = -1;
}

function showResult(v, source) {
  if (!els) return;
  const text = v.ok
    ? (v.count ? `Chain OK: ${fmtInt(v.count)} records (ids ${v.firstId}–${v.lastId}) verified in this browser; last hash ${v.lastHash.slice(0, 16)}…` : 'Chain OK: the export is empty.')
    : `Chain BROKEN at record ${v.brokenAt} of ${v.count}${v.id !== null ? ' (id ' + v.id + ')' : ''}: ${v.reason}.`;
  clear(els.result, h('p', { class: 'notice ' + (v.ok ? 'ok' : 'error'), dataset: { chain: v.ok ? 'ok' : 'broken', count: v.count, brokenAt: v.brokenAt ?? '' } },
    h('strong', { text: v.ok ? '✓ ' : '✗ ' }), text, h('span', { class: 'muted', text: ' — ' + source })));
}

async function exportAndVerify() {
  const since = msOf(state.since);
  const before = msOf(state.before);
  const limit = /^\d+$/.test(state.limit) ? Number(state.limit) : state.limit;
  try {
    const text = await request('GET', '/admin/audit/export', { query: { format: state.format, limit, since_ts_ms: since, before_ts_ms: before }, text: true });
    const v = verifyExport(text);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const name = `ditto-audit-${stamp}.${state.format === 'csv' ? 'csv' : 'jsonl'}`;
    download(name, text, state.format === 'csv' ? 'text/csv' : 'application/x-ndjson');
    showResult(v, 'downloaded as ' + name);
  } catch (e) {
    if (els) clear(els.result, h('p', { class: 'notice error', role: 'alert', text: e.message }));
  }
}

async function verifyFile(e) {
  const f = e.target.files[0];
  if (!f) return;
  const text = await f.text();
  showResult(verifyExport(text), 'file ' + f.name);
  e.target.value = '';
}
