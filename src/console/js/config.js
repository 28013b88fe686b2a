// Config versions: the list (GET /admin/config/versions), a diff between two versions
// (GET /admin/config/diff) and a rollback, always dry-run first (POST /admin/config/rollback).
// The Canary section above them is js/canary.js.
import { get, post, who } from './api.js';
import { h, clear, pageHead, button, notice, fmtTime, table, modal, toast, badge } from './dom.js';
import * as canary from './canary.js';

let versions = [];
let els = null;

export function leave() {
  els = null;
  canary.leave();
}

export async function render(main) {
  const from = h('select', { id: 'diff-from' });
  const to = h('select', { id: 'diff-to' });
  els = { from, to, list: h('div', { id: 'versions' }), diff: h('div', { id: 'diff', 'aria-live': 'polite' }) };
  main.append(
    pageHead('Config versions', button('Refresh', () => load(), '', { id: 'config-refresh' })),
    h('p', { class: 'muted', text: 'Every change to the keys or the router is a version (kept in memory, newest first, at most 100). A rollback restores a version\'s keys and router as a new version; spend is never rolled back.' + (who.canWrite ? '' : ' Rolling back needs a write token.') }),
    canary.mount(() => load(false)),
    h('h2', { id: 'h-versions', text: 'Versions' }),
    els.list,
    h('section', { 'aria-labelledby': 'h-diff' },
      h('h2', { id: 'h-diff', text: 'Compare two versions' }),
      h('form', { class: 'toolbar', on: { submit: (e) => { e.preventDefault(); showDiff(from.value, to.value); } } },
        h('label', { for: 'diff-from', text: 'From' }), from,
        h('label', { for: 'diff-to', text: 'To' }), to,
        h('button', { type: 'submit', class: 'primary', id: 'diff-show', text: 'Show diff' })),
      els.diff));
  await load();
}

// The versions, and the Canary section too unless it asked (after a change of its own).
async function load(withCanary = true) {
  if (!els) return;
  try {
    [versions] = await Promise.all([get('/admin/config/versions', { limit: 100 }), withCanary ? canary.refresh() : null]);
  } catch (e) {
    if (els) clear(els.list, notice(e.status === 403 ? 'Config versions need a global admin token.' : e.message, 'error'));
    return;
  }
  if (!els) return; // the page was left meanwhile
  const opts = (sel, pick) => {
    const keep = sel.value;
    clear(sel, versions.map((v, i) => h('option', { value: v.version_id, text: `${v.version_id} · ${v.reason}` + (i === 0 ? ' (current)' : '') })));
    sel.value = keep && versions.some((v) => v.version_id === keep) ? keep : pick;
  };
  opts(els.from, versions[Math.min(1, versions.length - 1)]?.version_id);
  opts(els.to, versions[0]?.version_id);
  const current = versions[0]?.version_id;
  clear(els.list, table([
    { label: 'Version', cell: (v) => [h('span', { class: 'mono', text: v.version_id }), v.version_id === current ? [' ', badge('current', 'ok')] : null] },
    { label: 'Created', cell: (v) => fmtTime(v.created_at_ms) },
    { label: 'Reason', cell: (v) => h('span', { class: 'mono', text: v.reason }) },
    { label: 'Keys', cell: (v) => String(v.virtual_key_count) },
    { label: 'Router', cell: (v) => `${v.router_default_backend_count} default, ${v.router_rule_count} rules` },
    { label: 'Keys hash', cell: (v) => h('span', { class: 'mono muted', title: v.virtual_keys_sha256, text: v.virtual_keys_sha256.slice(0, 12) + '…' }) },
    {
      label: 'Actions', cls: 'actions-col', cell: (v) => {
        const i = versions.indexOf(v);
        return h('div', { class: 'row-actions' },
          i < versions.length - 1 ? button('Diff', () => { els.from.value = versions[i + 1].version_id; els.to.value = v.version_id; showDiff(versions[i + 1].version_id, v.version_id); }, 'small', { 'aria-label': 'Diff ' + v.version_id + ' with the version before it' }) : null,
          v.version_id !== current && who.canWrite ? button('Roll back…', () => rollback(v), 'small', { 'aria-label': 'Roll back to ' + v.version_id, dataset: { rollback: v.version_id } }) : null);
      },
    },
  ], versions, { row: (v) => ({ dataset: { version: v.version_id } }), caption: 'Config versions, newest first' }));
}

// Flatten a JSON value to [path, value] pairs for a field-by-field comparison.
function flatten(v, path = '', out = new Map()) {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, path ? path + '.' + k : k, out);
    if (!Object.keys(v).length) out.set(path, '{}');
  } else {
    out.set(path, JSON.stringify(v));
  }
  return out;
}

function fieldDiff(before, after) {
  const a = flatten(before);
  const b = flatten(after);
  const rows = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(k) !== b.get(k)) rows.push({ path: k, before: a.get(k) ?? '(absent)', after: b.get(k) ?? '(absent)' });
  }
  return table([
    { label: 'Field', cell: (r) => h('span', { class: 'mono', text: r.path }) },
    { label: 'Before', cell: (r) => h('span', { class: 'mono del', text: r.before }) },
    { label: 'After', cell: (r) => h('span', { class: 'mono add', text: r.after }) },
  ], rows, { empty: 'No field differs.', cls: 'diff' });
}

function diffView(d) {
  const s = d.summary;
  const keyList = (items, cls) => h('ul', { class: 'keylist ' + cls }, items.map((k) => h('li', null, h('span', { class: 'mono', text: k.id }), k.tenant_id ? h('span', { class: 'muted', text: ' (' + k.tenant_id + ')' }) : null)));
  const out = [
    h('p', { class: 'diff-summary', id: 'diff-summary' },
      badge(`+${s.added} added`, s.added ? 'ok' : ''), ' ', badge(`−${s.removed} removed`, s.removed ? 'bad' : ''), ' ',
      badge(`${s.changed} changed`, s.changed ? 'warn' : ''), ' ', badge(`${s.unchanged} unchanged`), ' ',
      badge(s.router_changed ? 'router changed' : 'router unchanged', s.router_changed ? 'warn' : ''),
      h('span', { class: 'muted', text: ` ${d.from_version.version_id} → ${d.to_version.version_id}` })),
  ];
  if (d.added.length) out.push(h('h3', { text: 'Added keys' }), keyList(d.added, 'add'));
  if (d.removed.length) out.push(h('h3', { text: 'Removed keys' }), keyList(d.removed, 'del'));
  for (const c of d.changed) out.push(h('h3', null, 'Changed: ', h('span', { class: 'mono', text: c.id })), fieldDiff(c.before, c.after));
  if (s.router_changed && d.router_before) out.push(h('h3', { text: 'Router' }), fieldDiff(d.router_before, d.router_after));
  if (!d.added.length && !d.removed.length && !d.changed.length && !s.router_changed) out.push(notice('The two versions hold the same keys and router.'));
  return out;
}

async function fetchDiff(from, to) {
  return get('/admin/config/diff', { from_version_id: from, to_version_id: to });
}

async function showDiff(from, to) {
  if (!els) return;
  const target = els.diff;
  try {
    clear(target, diffView(await fetchDiff(from, to)));
  } catch (e) {
    clear(target, notice(e.message, 'error'));
  }
}

async function rollback(v) {
  const current = versions[0].version_id;
  const done = await modal('Roll back to ' + v.version_id, (close) => {
    const out = h('div', { id: 'rollback-result', 'aria-live': 'polite' });
    const go = button('Roll back now', async () => {
      go.disabled = true;
      try {
        const r = await post('/admin/config/rollback', { version_id: v.version_id });
        close(r);
      } catch (e) {
        clear(out, notice(e.message, 'error'));
      }
    }, 'danger', { disabled: true, id: 'rollback-go' });
    const dry = button('Dry run', async () => {
      dry.disabled = true;
      try {
        const [r, d] = await Promise.all([
          post('/admin/config/rollback', { version_id: v.version_id, dry_run: true }),
          fetchDiff(current, v.version_id),
        ]);
        // A dry run always answers noop: true; "already current" is equal hashes.
        const same = r.target_version.virtual_keys_sha256 === r.current_version.virtual_keys_sha256 &&
          r.target_version.router_sha256 === r.current_version.router_sha256;
        clear(out,
          h('p', { class: 'notice ' + (same ? 'info' : 'ok'), dataset: { dryRun: same ? 'noop' : 'ok' } },
            same ? 'Dry run: nothing would change (the current config already has these keys and router).' :
              `Dry run OK: the ${r.target_version.virtual_key_count} keys and the router of ${r.target_version.version_id} would become a new version. What changes from now:`),
          same ? null : diffView(d));
        go.disabled = same;
      } catch (e) {
        clear(out, notice(e.message, 'error'));
      } finally {
        dry.disabled = false;
      }
    }, 'primary', { id: 'rollback-dry' });
    return h('div', null,
      h('p', { text: `Restores the keys and router of ${v.version_id} (${v.reason}, ${fmtTime(v.created_at_ms)}) as a new version. Run the dry run first: it validates the rollback and shows what would change.` }),
      out,
      h('div', { class: 'dialog-actions' }, button('Cancel', () => close(null)), dry, go));
  }, { wide: true });
  if (!done) return;
  toast(`Rolled back: now ${done.current_version.version_id}.`);
  await load();
}
