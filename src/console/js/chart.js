// Time-series charts on the vendored uPlot (vendor/uPlot.iife.min.js, window.uPlot). uPlot draws
// on a canvas and styles its own elements through the CSSOM only, so it runs under our CSP.
import { h, fmtTime } from './dom.js';

// uPlot is fetched when the first chart is about to be drawn, not with the sign-in page.
let loading = null;
export function loadCharts() {
  if (window.uPlot) return Promise.resolve();
  if (!loading) {
    loading = new Promise((resolve) => {
      const s = document.createElement('script');
      s.src = new URL('../vendor/uPlot.iife.min.js', import.meta.url).href;
      s.onload = resolve;
      s.onerror = () => {
        loading = null; // lineChart says the charts are unavailable; a later page retries
        resolve();
      };
      document.head.append(s);
    });
  }
  return loading;
}

export const PALETTE = ['#2458d6', '#d9480f', '#2b8a3e', '#ae3ec9', '#e67700', '#0c8599', '#c2255c', '#5c940d', '#495057'];

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

const pad = (n) => String(n).padStart(2, '0');
// Tick labels in local time, as precise as the tick spacing needs.
function timeTicks(u, splits, axis, space, incr) {
  return splits.map((s) => {
    const d = new Date(s * 1000);
    const date = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    if (incr >= 86400) return date;
    if (incr >= 3600) return d.getHours() === 0 ? date : hm;
    if (incr >= 60) return hm;
    return `${hm}:${pad(d.getSeconds())}`;
  });
}
// Wide enough for the longest tick label ($0.000040 as much as 12,500).
function yAxisSize(u, values) {
  const longest = values ? Math.max(...values.map((v) => String(v).length)) : 4;
  return Math.max(40, Math.ceil(longest * 7.2) + 18);
}
const TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

// lineChart(parent, {title, series:[{label, color?}], fmt, height, stacked, step}) → {update(x, ys)}
// x: seconds since the epoch; ys: one array per series (null = gap). `stacked` draws bars of
// width `step` seconds, one on top of the other (the legend shows each series' own value).
export function lineChart(parent, { title, series, fmt = (v) => String(v), height = 200, stacked = false, step = 3600 }) {
  const box = h('figure', { class: 'chart' }, h('figcaption', { text: title }));
  const plot = h('div', { class: 'plot', role: 'img', 'aria-label': title });
  box.append(plot);
  parent.append(box);
  const U = window.uPlot;
  if (!U) {
    plot.textContent = 'Charts are unavailable (vendor/uPlot.iife.min.js did not load).';
    return { update() {}, destroy() {}, el: box };
  }
  const axis = cssVar('--fg-muted', '#555');
  const grid = cssVar('--grid', '#e5e7eb');
  let raw = []; // stacked: the series' own values, for the legend
  // Stacked bars are drawn top segment first, each bar the sum of its series and those below.
  const order = stacked ? series.map((_, i) => series.length - 1 - i) : series.map((_, i) => i);
  const opts = {
    width: Math.max(240, plot.clientWidth || parent.clientWidth || 600),
    height,
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: true, range: stacked ? (u, min, max) => [min - step / 2, max + step / 2] : undefined },
      y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
    },
    axes: [
      { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, space: 70, incrs: TIME_INCRS, values: timeTicks },
      { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: yAxisSize, values: (u, vals) => vals.map((v) => fmt(v)) },
    ],
    series: [
      { label: 'time', value: (u, v) => (v === null || v === undefined ? '—' : fmtTime(v * 1000)) },
      ...order.map((i) => {
        const color = series[i].color || PALETTE[i % PALETTE.length];
        return {
          label: series[i].label,
          stroke: color,
          width: stacked ? 0 : 2,
          fill: stacked ? color : undefined,
          paths: stacked && U.paths && U.paths.bars ? U.paths.bars({ size: [0.8, 64] }) : undefined,
          points: { show: stacked ? false : undefined },
          spanGaps: false,
          value: (u, v, si, idx) => {
            if (idx === null || idx === undefined) return '—';
            const own = stacked ? raw[i]?.[idx] : v;
            return own === null || own === undefined ? '—' : fmt(own);
          },
        };
      }),
    ],
  };
  const u = new U(opts, [[], ...series.map(() => [])], plot);
  const ro = new ResizeObserver(() => {
    const w = plot.clientWidth;
    if (w > 0 && Math.abs(w - u.width) > 2) u.setSize({ width: w, height });
  });
  ro.observe(plot);
  return {
    el: box,
    update(x, ys) {
      if (!stacked) {
        u.setData([x, ...ys]);
        return;
      }
      raw = ys;
      const cum = [];
      let acc = x.map(() => 0);
      for (const s of ys) {
        acc = acc.map((a, j) => a + (s[j] || 0));
        cum.push(acc);
      }
      u.setData([x, ...order.map((i) => cum[i])]);
    },
    destroy() {
      ro.disconnect();
      u.destroy();
    },
  };
}
