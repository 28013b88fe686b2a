// Live traffic: /metrics/prometheus polled by the browser from sign-in on; rates from counter
// deltas, overhead quantiles from the histogram's bucket deltas; the last 15 minutes kept in
// this tab's memory (no server-side history).
import { request, session } from './api.js';
import { h, clear, pageHead, fmtNum, fmtInt, table } from './dom.js';
import { parse, sum, sumBy, buckets, bucketDelta, increase, quantile } from './prom.js';
import { lineChart, loadCharts } from './chart.js';

const HISTORY_MS = 15 * 60 * 1000;
const QUANTILE_WINDOW_MS = 30 * 1000; // overhead quantiles over the last 30 s, like rate(…[30s])
const KEY_WINDOW_MS = 60 * 1000;
const P = 'ditto_gateway_proxy_';

let samples = [];
let timer = null;
let intervalMs = 5000;
let lastError = null;
let view = null; // the rendered page, when shown

export function start() {
  if (timer) return;
  lastError = null;
  scrape();
  timer = setInterval(scrape, intervalMs);
}

export function stop() {
  clearInterval(timer);
  timer = null;
  samples = [];
}

function setInterval_(ms) {
  intervalMs = ms;
  clearInterval(timer);
  timer = setInterval(scrape, intervalMs);
}

async function scrape() {
  let text;
  try {
    // The metrics need no token on this gateway; one is sent in case a proxy in front wants it.
    text = await request('GET', '/metrics/prometheus', { text: true, token: session.token });
  } catch (e) {
    lastError = e.status === 404 ? 'Prometheus metrics are off on this gateway: start it with --prometheus-metrics.' : 'Scrape failed: ' + e.message;
    if (e.status === 404) {
      clearInterval(timer);
      timer = null;
    }
    draw();
    return;
  }
  lastError = null;
  const m = parse(text);
  const now = Date.now();
  const keyMap = (name) => sumBy(m, P + name, 'virtual_key_id');
  samples.push({
    t: now,
    responses: sum(m, P + 'responses_total'),
    s4: sum(m, P + 'responses_total', (l) => l.status?.[0] === '4'),
    s5: sum(m, P + 'responses_total', (l) => l.status?.[0] === '5'),
    inTok: sum(m, P + 'input_tokens_total'),
    outTok: sum(m, P + 'output_tokens_total'),
    usd: sum(m, P + 'cost_usd_micros_total'),
    overhead: buckets(m, P + 'overhead_seconds'),
    byKey: { req: keyMap('requests_by_key_total'), in: keyMap('input_tokens_total'), out: keyMap('output_tokens_total'), usd: keyMap('cost_usd_micros_total') },
  });
  while (samples.length && samples[0].t < now - HISTORY_MS - intervalMs) samples.shift();
  draw();
}

// The sample at least `ms` before samples[i] (or the oldest).
function before(i, ms) {
  let j = i - 1;
  while (j > 0 && samples[i].t - samples[j].t < ms) j--;
  return Math.max(0, j);
}

function series() {
  const x = [];
  const s = { req: [], s4: [], s5: [], err4: [], err5: [], tin: [], tout: [], usd: [], p50: [], p99: [] };
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    const dt = (b.t - a.t) / 1000;
    if (dt <= 0) continue;
    x.push(b.t / 1000);
    const n = increase(a.responses, b.responses);
    s.req.push(n / dt);
    s.err4.push(n ? (increase(a.s4, b.s4) / n) * 100 : null);
    s.err5.push(n ? (increase(a.s5, b.s5) / n) * 100 : null);
    s.tin.push(increase(a.inTok, b.inTok) / dt);
    s.tout.push(increase(a.outTok, b.outTok) / dt);
    s.usd.push(increase(a.usd, b.usd) / 1e6 / dt);
    const w = samples[before(i, QUANTILE_WINDOW_MS)];
    const d = bucketDelta(w.overhead, b.overhead);
    const q = (p) => {
      const v = quantile(p, d);
      return v === null ? null : v * 1000;
    };
    s.p50.push(q(0.5));
    s.p99.push(q(0.99));
  }
  return { x, s };
}

function keyRates() {
  const i = samples.length - 1;
  if (i < 1) return [];
  const b = samples[i];
  const a = samples[before(i, KEY_WINDOW_MS)];
  const dt = (b.t - a.t) / 1000;
  const rows = [];
  for (const [key, v] of b.byKey.req) {
    const rate = (m) => increase(a.byKey[m].get(key) || 0, b.byKey[m].get(key) || 0) / dt;
    rows.push({ key, req: rate('req'), tok: rate('in') + rate('out'), usd: rate('usd') / 1e6, total: v });
  }
  return rows.filter((r) => r.req > 0 || r.tok > 0).sort((p, q) => q.req - p.req).slice(0, 20);
}

export function leave() {
  if (view) for (const c of view.charts) c.destroy();
  view = null;
}

export async function render(main) {
  if (!timer) start();
  await loadCharts();
  if (!main.isConnected) return; // another page was chosen meanwhile
  const height = 170;
  const intervalSel = h('select', {
    id: 'live-interval',
    on: { change: (e) => setInterval_(Number(e.target.value)) },
  }, [[2000, 'every 2 s'], [5000, 'every 5 s'], [15000, 'every 15 s']].map(([v, t]) => h('option', { value: v, text: t, selected: v === intervalMs })));
  const tiles = h('div', { class: 'tiles', id: 'live-tiles' });
  const status = h('p', { class: 'muted', role: 'status', id: 'live-status' });
  const grid = h('div', { class: 'chart-grid' });
  const keys = h('div', { id: 'live-keys' });
  main.append(
    pageHead('Live traffic', h('label', { for: 'live-interval', text: 'Scrape' }), intervalSel),
    status, tiles, grid,
    h('section', { 'aria-labelledby': 'h-live-keys' }, h('h2', { id: 'h-live-keys', text: 'Busiest keys (last minute)' }), keys));
  const ms = (v) => fmtNum(v, 2) + ' ms';
  const charts = [
    lineChart(grid, { title: 'Requests per second (every /v1/* answer)', series: [{ label: 'req/s' }], fmt: (v) => fmtNum(v), height }),
    lineChart(grid, { title: 'Error rate (% of answers)', series: [{ label: '5xx', color: '#d9480f' }, { label: '4xx', color: '#e67700' }], fmt: (v) => fmtNum(v, 1) + '%', height }),
    lineChart(grid, { title: 'Tokens per second (reported by upstreams)', series: [{ label: 'input' }, { label: 'output', color: '#2b8a3e' }], fmt: (v) => fmtNum(v), height }),
    lineChart(grid, { title: 'Spend per second (USD)', series: [{ label: '$/s', color: '#ae3ec9' }], fmt: (v) => '$' + fmtNum(v, 2), height }),
    lineChart(grid, { title: 'Gateway overhead (ms, 30 s window)', series: [{ label: 'p50', color: '#0c8599' }, { label: 'p99', color: '#c2255c' }], fmt: ms, height }),
  ];
  view = { tiles, status, charts, keys };
  draw();
}

function tile(label, value, id) {
  return h('div', { class: 'tile', dataset: { metric: id } }, h('span', { class: 'tile-label', text: label }), h('strong', { text: value }));
}

function draw() {
  if (!view) return;
  const { x, s } = series();
  const last = (arr) => (arr.length ? arr[arr.length - 1] : null);
  const span = samples.length > 1 ? Math.round((samples[samples.length - 1].t - samples[0].t) / 1000) : 0;
  view.status.textContent = lastError ||
    (samples.length < 2 ? 'Collecting: the first rates appear after two scrapes.' :
      `${samples.length} scrapes over ${Math.floor(span / 60)} min ${span % 60} s, every ${intervalMs / 1000} s; the last 15 minutes are kept in this tab only.`);
  view.status.classList.toggle('error', !!lastError);
  clear(view.tiles,
    tile('Requests/s', fmtNum(last(s.req)), 'req'),
    tile('5xx rate', last(s.err5) === null ? '—' : fmtNum(last(s.err5), 1) + '%', 'err'),
    tile('Tokens/s', last(s.tin) === null ? '—' : fmtNum(last(s.tin) + last(s.tout)), 'tokens'),
    tile('Spend/s', last(s.usd) === null ? '—' : '$' + fmtNum(last(s.usd), 2), 'usd'),
    tile('Overhead p50', last(s.p50) === null ? '—' : fmtNum(last(s.p50), 3) + ' ms', 'p50'),
    tile('Overhead p99', last(s.p99) === null ? '—' : fmtNum(last(s.p99), 3) + ' ms', 'p99'));
  const [req, err, tok, usd, over] = view.charts;
  req.update(x, [s.req]);
  err.update(x, [s.err5, s.err4]);
  tok.update(x, [s.tin, s.tout]);
  usd.update(x, [s.usd]);
  over.update(x, [s.p50, s.p99]);
  const rows = keyRates();
  clear(view.keys, table([
    { label: 'Key', cell: (r) => h('span', { class: 'mono', text: r.key }) },
    { label: 'Requests/s', cell: (r) => fmtNum(r.req) },
    { label: 'Tokens/s', cell: (r) => fmtNum(r.tok) },
    { label: 'Spend/s', cell: (r) => '$' + fmtNum(r.usd, 2) },
    { label: 'Requests in all', cell: (r) => fmtInt(r.total) },
  ], rows, { caption: 'Busiest keys', empty: 'No key served a request in the last minute.' }));
}
