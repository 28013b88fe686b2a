// Spend: ledgers against their limits (GET /admin/budgets, /admin/costs), the grouped totals
// (…/tenants, /projects, /users) and spend over time (GET /admin/spend).
import { get, request } from './api.js';
import { h, clear, pageHead, button, notice, fmtInt, fmtUsdMicros, fmtTime, table, badge, download, fmtNum } from './dom.js';
import { lineChart, loadCharts } from './chart.js';

const state = { kind: 'all', group: 'tenants', by: 'key', step: 'hour', range: '24', metric: 'tokens' };
let chart = null;
let els = {};

export function leave() {
  if (chart) chart.destroy();
  chart = null;
  els = {};
}

export async function render(main) {
  els.ledgers = h('div', { id: 'ledgers' });
  els.groups = h('div', { id: 'groups' });
  els.chartBox = h('div', { class: 'chart-box' });
  els.totals = h('div');
  const sel = (id, label, key, options, onChange) => [
    h('label', { for: id, text: label }),
    h('select', { id, on: { change: (e) => { state[key] = e.target.value; onChange(); } } },
      options.map(([v, t]) => h('option', { value: v, text: t, selected: state[key] === v }))),
  ];
  main.append(
    pageHead('Spend', button('Refresh', () => loadAll(), '', { id: 'spend-refresh' })),
    h('section', { 'aria-labelledby': 'h-ledgers' },
      h('h2', { id: 'h-ledgers', text: 'Budgets and ledgers' }),
      h('div', { class: 'toolbar' }, sel('ledger-kind', 'Scope', 'kind',
        [['all', 'All'], ['key', 'Keys'], ['tenant', 'Tenants'], ['project', 'Projects'], ['user', 'Users'], ['model', 'Model entries']], drawLedgers)),
      els.ledgers),
    h('section', { 'aria-labelledby': 'h-groups' },
      h('h2', { id: 'h-groups', text: 'Totals of the keys\' ledgers' }),
      h('div', { class: 'toolbar' }, sel('group-view', 'Grouped by', 'group',
        [['tenants', 'Tenant'], ['projects', 'Project'], ['users', 'User']], loadGroups)),
      els.groups),
    h('section', { 'aria-labelledby': 'h-over-time' },
      h('h2', { id: 'h-over-time', text: 'Spend over time' }),
      h('div', { class: 'toolbar' },
        sel('spend-by', 'Group by', 'by', [['key', 'Key'], ['model', 'Model'], ['tenant', 'Tenant'], ['project', 'Project'], ['user', 'User']], loadSpend),
        sel('spend-step', 'Step', 'step', [['hour', 'Hour'], ['day', 'Day']], loadSpend),
        sel('spend-range', 'Range', 'range', [['24', 'Last 24 hours'], ['168', 'Last 7 days'], ['720', 'Last 30 days']], loadSpend),
        sel('spend-metric', 'Show', 'metric', [['tokens', 'Tokens (in + out)'], ['requests', 'Requests'], ['usd', 'USD']], loadSpend),
        button('Download CSV', downloadCsv, '', { id: 'spend-csv' })),
      els.chartBox, els.totals));
  await loadAll();
}

async function loadAll() {
  await Promise.all([loadLedgers(), loadGroups(), loadSpend()]);
}

// ---- ledgers ----
let ledgers = [];

function kindOf(id) {
  if (id.includes('#model:')) return 'model';
  if (id.startsWith('tenant:')) return id.includes(':project:') ? 'project' : id.includes(':user:') ? 'user' : 'tenant';
  if (id.startsWith('project:')) return 'project';
  if (id.startsWith('user:')) return 'user';
  return 'key';
}

async function loadLedgers() {
  try {
    const [tokens, usd] = await Promise.all([get('/admin/budgets'), get('/admin/costs')]);
    const by = new Map();
    const at = (e) => {
      const id = e.key_id + (e.period_start ? '@' + e.period_start : '');
      if (!by.has(id)) by.set(id, { key_id: e.key_id, kind: kindOf(e.key_id) });
      return by.get(id);
    };
    for (const e of tokens) Object.assign(at(e), { tokens: e, period: e.period, resets_at: e.resets_at });
    for (const e of usd) Object.assign(at(e), { usd: e, period: e.period || at(e).period, resets_at: e.resets_at || at(e).resets_at });
    ledgers = [...by.values()].sort((a, b) => a.key_id.localeCompare(b.key_id));
    drawLedgers();
  } catch (e) {
    if (els.ledgers) clear(els.ledgers, notice(e.message, 'error'));
  }
}

// spent and reserved against the limit, as a bar; a ledger without a limit shows its spend only.
function bar(spent, reserved, limit, fmt, what) {
  if (!limit) {
    return h('div', { class: 'meter-text' }, `${fmt(spent)} spent`, reserved ? ` · ${fmt(reserved)} reserved` : '', h('span', { class: 'muted', text: ' · no limit' }));
  }
  const pct = (v) => Math.min(100, (v / limit) * 100);
  const used = spent + reserved;
  const level = used >= limit ? 'full' : used / limit >= 0.8 ? 'high' : '';
  const s = h('span', { class: 'spent' });
  const r = h('span', { class: 'reserved' });
  s.style.width = pct(spent) + '%';
  r.style.width = Math.max(0, pct(used) - pct(spent)) + '%';
  const label = `${what}: ${fmt(spent)} spent${reserved ? ', ' + fmt(reserved) + ' reserved' : ''} of ${fmt(limit)} (${fmtNum((used / limit) * 100, 1)}%)`;
  return h('div', null,
    h('div', { class: 'bar ' + level, role: 'img', 'aria-label': label }, s, r),
    h('div', { class: 'meter-text' }, `${fmt(spent)} / ${fmt(limit)}`,
      h('span', { class: 'muted', text: ` · ${fmt(Math.max(0, limit - used))} left` })));
}

function drawLedgers() {
  if (!els.ledgers) return;
  const rows = ledgers.filter((l) => state.kind === 'all' || l.kind === state.kind);
  clear(els.ledgers, table([
    { label: 'Scope', cell: (l) => [h('span', { class: 'mono', text: l.key_id }), ' ', badge(l.kind)] },
    { label: 'Tokens', cls: 'meter-col', cell: (l) => (l.tokens ? bar(l.tokens.spent_tokens, l.tokens.reserved_tokens, l.tokens.limit_tokens, fmtInt, 'tokens') : '—') },
    { label: 'USD', cls: 'meter-col', cell: (l) => (l.usd ? bar(l.usd.spent_usd_micros, l.usd.reserved_usd_micros, l.usd.limit_usd_micros, fmtUsdMicros, 'USD') : '—') },
    { label: 'Period', cell: (l) => (l.resets_at ? [l.period || 'period', h('small', { class: 'muted block', text: 'resets ' + fmtTime(l.resets_at) })] : 'lifetime') },
    { label: 'Updated', cell: (l) => fmtTime(Math.max(l.tokens?.updated_at_ms || 0, l.usd?.updated_at_ms || 0)) },
  ], rows, { row: (l) => ({ dataset: { ledger: l.key_id } }), caption: 'Ledgers', empty: 'No ledger yet: a scope gets one with its first request.', cls: 'ledgers' }));
}

// ---- grouped totals ----
async function loadGroups() {
  const field = { tenants: 'tenant_id', projects: 'project_id', users: 'user_id' }[state.group];
  try {
    const [tokens, usd] = await Promise.all([get('/admin/budgets/' + state.group), get('/admin/costs/' + state.group)]);
    const by = new Map();
    for (const e of tokens) by.set(e[field], { id: e[field], tokens: e });
    for (const e of usd) by.set(e[field], { ...(by.get(e[field]) || { id: e[field] }), usd: e });
    if (!els.groups) return;
    clear(els.groups, table([
      { label: field.replace('_id', ''), cell: (g) => g.id ?? h('span', { class: 'muted', text: '(none)' }) },
      { label: 'Tokens spent', cell: (g) => fmtInt(g.tokens?.spent_tokens ?? 0) },
      { label: 'Tokens reserved', cell: (g) => fmtInt(g.tokens?.reserved_tokens ?? 0) },
      { label: 'USD spent', cell: (g) => fmtUsdMicros(g.usd?.spent_usd_micros ?? 0) },
      { label: 'Keys', cell: (g) => fmtInt(Math.max(g.tokens?.key_count ?? 0, g.usd?.key_count ?? 0)) },
      { label: 'Updated', cell: (g) => fmtTime(Math.max(g.tokens?.updated_at_ms || 0, g.usd?.updated_at_ms || 0)) },
    ], [...by.values()], { caption: 'Totals by ' + field, empty: 'No spend yet.' }));
  } catch (e) {
    if (els.groups) clear(els.groups, notice(e.message, 'error'));
  }
}

// ---- over time ----
function spendQuery(format) {
  const step = state.step === 'hour' ? 3600 : 86400;
  const to = Math.ceil(Date.now() / 1000 / 3600) * 3600;
  const from = Math.floor((to - Number(state.range) * 3600) / step) * step;
  return { group_by: state.by, step: state.step, from, to, format };
}

const metricOf = {
  tokens: (r) => r.input_tokens + r.output_tokens,
  requests: (r) => r.requests,
  usd: (r) => r.usd_micros,
};

async function loadSpend() {
  if (!els.chartBox) return;
  let data;
  try {
    [data] = await Promise.all([get('/admin/spend', spendQuery()), loadCharts()]);
  } catch (e) {
    if (chart) chart.destroy();
    chart = null;
    clear(els.chartBox, notice(e.status === 501 ? 'Spend over time needs Redis key layout 2 or the memory store.' : e.message, 'error'));
    clear(els.totals);
    return;
  }
  if (!els.chartBox) return;
  const step = data.step === 'hour' ? 3600 : 86400;
  const from = Math.floor(Date.parse(data.from) / 1000 / step) * step;
  const to = Date.parse(data.to) / 1000;
  const xs = [];
  for (let t = from; t < to; t += step) xs.push(t);
  const val = metricOf[state.metric];
  const label = (r) => r[state.by] === '' ? '(none)' : r[state.by];
  const totals = new Map();
  for (const r of data.rows) {
    const t = totals.get(label(r)) || { name: label(r), requests: 0, input: 0, output: 0, cached: 0, usd: 0, v: 0 };
    t.requests += r.requests; t.input += r.input_tokens; t.output += r.output_tokens; t.cached += r.cached_tokens; t.usd += r.usd_micros; t.v += val(r);
    totals.set(label(r), t);
  }
  const ranked = [...totals.values()].sort((a, b) => b.v - a.v);
  const top = ranked.slice(0, 8).map((t) => t.name);
  const names = ranked.length > 8 ? [...top, 'other'] : top;
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = names.map(() => xs.map(() => 0));
  for (const r of data.rows) {
    const i = index.get(Date.parse(r.start) / 1000);
    if (i === undefined) continue;
    let s = names.indexOf(label(r));
    if (s < 0) s = names.length - 1;
    ys[s][i] += val(r);
  }
  if (chart) chart.destroy();
  clear(els.chartBox);
  chart = null;
  if (!data.rows.length) {
    els.chartBox.append(notice('No request was served in this range.'));
  } else {
    const fmt = state.metric === 'usd' ? (v) => fmtUsdMicros(v) : (v) => fmtNum(v, 0);
    const title = { tokens: 'Tokens', requests: 'Requests', usd: 'Spend (USD)' }[state.metric] + ' per ' + data.step + ' by ' + state.by;
    chart = lineChart(els.chartBox, { title, series: names.map((n) => ({ label: n })), fmt, height: 240, stacked: true, step });
    chart.update(xs, ys);
  }
  clear(els.totals, table([
    { label: state.by, cell: (t) => h('span', { class: 'mono', text: t.name }) },
    { label: 'Requests', cell: (t) => fmtInt(t.requests) },
    { label: 'Input tokens', cell: (t) => fmtInt(t.input) },
    { label: 'Output tokens', cell: (t) => fmtInt(t.output) },
    { label: 'Cached tokens', cell: (t) => fmtInt(t.cached) },
    { label: 'USD', cell: (t) => fmtUsdMicros(t.usd) },
  ], ranked, { row: (t) => ({ dataset: { spend: t.name } }), caption: 'Totals over the range', empty: '', cls: 'spend-totals' }));
}

async function downloadCsv() {
  try {
    const text = await request('GET', '/admin/spend', { query: spendQuery('csv'), text: true });
    download(`spend-${state.by}-${state.step}.csv`, text, 'text/csv');
  } catch (e) {
    if (els.totals) clear(els.totals, notice(e.message, 'error'));
  }
}
