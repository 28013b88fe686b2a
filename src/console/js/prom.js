// The Prometheus text format (0.0.4), parsed just enough for the live charts: samples with
// labels; counters turned into rates from deltas, histograms into quantiles.

// parse(text) → Map(name → [{labels, value}])
export function parse(text) {
  const out = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line[0] === '#') continue;
    let i = 0;
    while (i < line.length && line[i] !== '{' && line[i] !== ' ' && line[i] !== '\t') i++;
    const name = line.slice(0, i);
    const labels = {};
    if (line[i] === '{') {
      i++;
      while (i < line.length && line[i] !== '}') {
        let j = line.indexOf('=', i);
        if (j < 0) break;
        const key = line.slice(i, j).trim();
        i = j + 1;
        if (line[i] !== '"') break;
        i++;
        let v = '';
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < line.length) {
            const n = line[++i];
            v += n === 'n' ? '\n' : n;
          } else v += line[i];
          i++;
        }
        labels[key] = v;
        i++; // closing quote
        while (line[i] === ',' || line[i] === ' ') i++;
      }
      i++; // }
    }
    const rest = line.slice(i).trim().split(/\s+/);
    const value = parseValue(rest[0]);
    if (!name || Number.isNaN(value) && rest[0] !== 'NaN') continue;
    if (!out.has(name)) out.set(name, []);
    out.get(name).push({ labels, value });
  }
  return out;
}

function parseValue(s) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

// Sum of a family's samples, optionally only those whose labels pass `keep`.
export function sum(m, name, keep) {
  let s = 0;
  for (const x of m.get(name) || []) if (!keep || keep(x.labels)) s += x.value;
  return s;
}

// Sum by one label: Map(label value → sum).
export function sumBy(m, name, label) {
  const out = new Map();
  for (const x of m.get(name) || []) {
    const k = x.labels[label] ?? '';
    out.set(k, (out.get(k) || 0) + x.value);
  }
  return out;
}

// A histogram's cumulative buckets, summed over its other labels: [[le, count]] by le.
export function buckets(m, name) {
  const by = new Map();
  for (const x of m.get(name + '_bucket') || []) {
    const le = parseValue(x.labels.le);
    by.set(le, (by.get(le) || 0) + x.value);
  }
  return [...by.entries()].sort((a, b) => a[0] - b[0]);
}

// A counter's increase from a to b; a counter that went down was reset (a restart): then b.
export function increase(a, b) {
  return b >= a ? b - a : b;
}

// The buckets' increase between two scrapes (same le set expected).
export function bucketDelta(a, b) {
  const prev = new Map(a);
  return b.map(([le, c]) => [le, increase(prev.get(le) ?? 0, c)]);
}

// histogram_quantile as Prometheus computes it: linear inside the bucket holding the rank;
// null without observations; the highest finite bound when the rank falls in +Inf.
export function quantile(q, cumulative) {
  if (!cumulative.length) return null;
  const total = cumulative[cumulative.length - 1][1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevC = 0;
  for (const [le, c] of cumulative) {
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      if (c === prevC) return le;
      return prevLe + ((le - prevLe) * (rank - prevC)) / (c - prevC);
    }
    prevLe = le;
    prevC = c;
  }
  return prevLe;
}
