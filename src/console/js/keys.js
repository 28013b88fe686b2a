// Keys: list, search, create, edit, enable/disable, rotate, delete (docs/admin-api.md, "Keys").
import { get, post, put, del, who, ApiError } from './api.js';
import {
  h, clear, field, showFieldError, clearErrors, pageHead, button, notice, toast, modal,
  confirmDialog, showTokenOnce, fmtInt, fmtUsdMicros, fmtTime, localInputValue, fromLocalInput,
  table, badge,
} from './dom.js';

const state = { keys: [], filter: '', status: 'all', error: null };
const MAX_ROWS = 500; // a table of 10,000 keys helps nobody; the search narrows it
let listEl = null;
let countEl = null;

export async function render(main) {
  const search = h('input', {
    id: 'key-search', type: 'search', value: state.filter, placeholder: 'id, tenant, project, user, route',
    on: { input: (e) => { state.filter = e.target.value; draw(); } },
  });
  const status = h('select', { id: 'key-status', on: { change: (e) => { state.status = e.target.value; draw(); } } },
    [['all', 'All keys'], ['enabled', 'Enabled'], ['disabled', 'Disabled'], ['expired', 'Expired']]
      .map(([v, t]) => h('option', { value: v, text: t, selected: state.status === v })));
  countEl = h('span', { class: 'muted', role: 'status' });
  listEl = h('div');
  main.append(...[
    pageHead('Virtual keys',
      who.canWrite ? button('New key', () => openForm(null), 'primary', { id: 'new-key' }) : null,
      button('Refresh', () => load(), '', { id: 'keys-refresh' })),
    who.canWrite ? null : notice('This token is read-only: the keys are listed, and changing them needs a write token.', 'info'),
    h('div', { class: 'toolbar' },
      h('label', { for: 'key-search', text: 'Search' }), search,
      h('label', { for: 'key-status', text: 'Show' }), status, countEl),
    listEl].filter(Boolean));
  await load();
}

async function load() {
  try {
    state.keys = await get('/admin/keys', { limit: 10000 });
    state.error = null;
  } catch (e) {
    state.error = e.message;
  }
  draw();
}

const isExpired = (k) => !!k.expires_at && Date.parse(k.expires_at) <= Date.now();

function matches(k) {
  if (state.status === 'enabled' && (!k.enabled || isExpired(k))) return false;
  if (state.status === 'disabled' && k.enabled) return false;
  if (state.status === 'expired' && !isExpired(k)) return false;
  const q = state.filter.trim().toLowerCase();
  if (!q) return true;
  return [k.id, k.tenant_id, k.project_id, k.user_id, k.route].some((v) => v && String(v).toLowerCase().includes(q));
}

function limitsText(l) {
  const parts = [];
  if (l?.rpm !== null && l?.rpm !== undefined) parts.push(`${fmtInt(l.rpm)} rpm`);
  if (l?.tpm !== null && l?.tpm !== undefined) parts.push(`${fmtInt(l.tpm)} tpm`);
  return parts.join(' · ') || '—';
}

function budgetText(b) {
  const parts = [];
  if (b?.total_tokens !== null && b?.total_tokens !== undefined) parts.push(`${fmtInt(b.total_tokens)} tokens`);
  if (b?.total_usd_micros !== null && b?.total_usd_micros !== undefined) parts.push(fmtUsdMicros(b.total_usd_micros));
  if (!parts.length) return '—';
  return parts.join(' · ') + (b.period && b.period !== 'lifetime' ? ` per ${b.period}${b.timezone ? ' (' + b.timezone + ')' : ''}` : '');
}

function statusCell(k) {
  const out = [];
  if (isExpired(k)) out.push(badge('expired', 'bad'));
  else if (k.enabled) out.push(badge('enabled', 'ok'));
  if (!k.enabled) out.push(badge('disabled', 'off'));
  if (k.previous_token_expires_at && Date.parse(k.previous_token_expires_at) > Date.now()) {
    out.push(h('small', { class: 'muted block', text: 'old token until ' + fmtTime(k.previous_token_expires_at) }));
  }
  return out;
}

function draw() {
  if (!listEl) return;
  if (state.error) {
    clear(listEl, notice(state.error, 'error'));
    return;
  }
  const matching = state.keys.filter(matches);
  const shown = matching.slice(0, MAX_ROWS);
  countEl.textContent = `${matching.length} of ${state.keys.length} keys` +
    (matching.length > shown.length ? ` (the first ${MAX_ROWS} shown: search to narrow)` : '');
  clear(listEl, table([
    { label: 'ID', cell: (k) => h('strong', { class: 'mono', text: k.id }) },
    { label: 'Tenant / project / user', cell: (k) => [k.tenant_id, k.project_id, k.user_id].map((v) => v || '—').join(' / ') },
    { label: 'Status', cell: statusCell },
    { label: 'Limits', cell: (k) => limitsText(k.limits) },
    { label: 'Budget', cell: (k) => budgetText(k.budget) },
    { label: 'Expires', cell: (k) => (k.expires_at ? [fmtTime(k.expires_at), isExpired(k) ? h('small', { class: 'bad-text block', text: 'expired' }) : null] : 'never') },
    { label: 'Route', cell: (k) => k.route || 'router' },
    who.canWrite && {
      label: 'Actions', cls: 'actions-col', cell: (k) => h('div', { class: 'row-actions' },
        button('Edit', () => openForm(k), 'small', { 'aria-label': 'Edit ' + k.id }),
        button(k.enabled ? 'Disable' : 'Enable', () => toggle(k), 'small', { 'aria-label': (k.enabled ? 'Disable ' : 'Enable ') + k.id, dataset: { action: 'toggle', key: k.id } }),
        button('Rotate', () => rotate(k), 'small', { 'aria-label': 'Rotate the token of ' + k.id }),
        button('Delete', () => remove(k), 'small danger', { 'aria-label': 'Delete ' + k.id })),
    },
  ].filter(Boolean), shown, {
    row: (k) => ({ dataset: { key: k.id } }),
    caption: 'Virtual keys', empty: state.keys.length ? 'No key matches.' : 'No virtual keys yet.',
  }));
}

// A fresh token made in the browser (as strong as the gateway's rotation tokens).
function newToken() {
  const b = new Uint8Array(32);
  crypto.getRandomValues(b);
  return 'sk-ditto-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// A change is a PUT of the whole key as listed, without its token: the gateway then keeps the
// stored token (raw or hashed) and its rotation (the old token and its expiry), so no change
// needs the token, and the console never reads one.
function withoutToken(k) {
  const body = structuredClone(k);
  delete body.token;
  delete body.previous_token;
  delete body.previous_token_expires_at;
  return body;
}

async function toggle(k) {
  const body = { ...withoutToken(k), enabled: !k.enabled };
  try {
    await put('/admin/keys/' + encodeURIComponent(k.id), body);
    toast(`${k.id} ${body.enabled ? 'enabled' : 'disabled'}.`);
  } catch (e) {
    toast(`${k.id}: ${e.message}`, 'error');
  }
  await load();
}

async function rotate(k) {
  const grace = await modal('Rotate the token of ' + k.id, (close) => {
    const f = field('Grace period for the old token (seconds)', { name: 'grace_seconds', value: '86400', inputmode: 'numeric' },
      'From 0 to 2592000 (30 days). The old token keeps working until then.');
    const form = h('form', { on: { submit: (e) => { e.preventDefault(); close(f.querySelector('input').value.trim()); } } },
      h('p', { text: 'A new token is made by the gateway and shown once.' }), f,
      h('div', { class: 'dialog-actions' }, button('Cancel', () => close(null)), h('button', { type: 'submit', class: 'primary', text: 'Rotate' })));
    return form;
  });
  if (grace === null) return;
  try {
    const body = grace === '' ? {} : { grace_seconds: /^\d+$/.test(grace) ? Number(grace) : grace };
    const r = await post('/admin/keys/' + encodeURIComponent(k.id) + '/rotate', body);
    await load();
    await showTokenOnce(k.id, r.token);
  } catch (e) {
    toast(`${k.id}: ${e.message}`, 'error');
  }
}

async function remove(k) {
  const ok = await confirmDialog('Delete ' + k.id + '?',
    `Requests with this key will be refused (401) at once. Its ledger is kept. This cannot be undone (except by a config rollback).`, 'Delete', true);
  if (!ok) return;
  try {
    await del('/admin/keys/' + encodeURIComponent(k.id));
    toast(`${k.id} deleted.`);
  } catch (e) {
    toast(`${k.id}: ${e.message}`, 'error');
  }
  await load();
}

const numOrNull = (v) => (v === '' ? null : /^\d+$/.test(v) ? Number(v) : v);
const list = (v, sep = /[,\n]/) => v.split(sep).map((s) => s.trim()).filter(Boolean);

function usdToMicros(v) {
  if (v === '') return null;
  if (!/^\d+(\.\d{0,6})?$/.test(v)) return v; // the API says what is wrong
  const [i, f = ''] = v.split('.');
  return Number(i) * 1e6 + Number((f + '000000').slice(0, 6));
}

// The key form. `key` null = create.
async function openForm(key) {
  const editing = !!key;
  const k = key ? withoutToken(key) : { enabled: true, tenant_id: who.scope === 'tenant' ? who.tenant : null };
  const g = k.guardrails || {};
  const b = k.budget || {};
  const expMs = k.expires_at ? Date.parse(k.expires_at) : null;
  const enabled = k.enabled ?? true;

  const saved = await modal(editing ? 'Edit ' + key.id : 'New virtual key', (close) => {
    const formError = h('p', { class: 'error', role: 'alert', hidden: true, id: 'key-form-error' });
    const tokenPart = [];
    if (!editing) {
      tokenPart.push(field('Token', { name: 'token', autocomplete: 'off', spellcheck: 'false', class: 'mono', placeholder: 'leave empty to generate one' },
        'Generated in your browser when left empty, and shown once after saving.'));
    } else {
      tokenPart.push(h('p', { class: 'muted', id: 'key-token-kept',
        text: 'The token is kept as it is (and an old token still in its grace period keeps working). Rotate issues a new one.' }));
    }
    const tenantLocked = who.scope === 'tenant';
    const form = h('form', { class: 'key-form', novalidate: true },
      h('fieldset', null, h('legend', { text: 'Identity' }),
        h('div', { class: 'grid' },
          field('ID', { name: 'id', value: k.id || '', required: true, readonly: editing, autocomplete: 'off', spellcheck: 'false' }),
          field('Tenant', { name: 'tenant_id', value: k.tenant_id || '', readonly: tenantLocked, autocomplete: 'off' }, tenantLocked ? 'Your tenant (set by the gateway).' : null),
          field('Project', { name: 'project_id', value: k.project_id || '', autocomplete: 'off' }),
          field('User', { name: 'user_id', value: k.user_id || '', autocomplete: 'off' })),
        field('Enabled', { name: 'enabled', type: 'checkbox', checked: enabled }),
        field('Expires at (your local time)', { name: 'expires_at', type: 'datetime-local', value: expMs ? localInputValue(expMs) : '' },
          k.expires_at ? 'Now: ' + k.expires_at + ' (UTC). Empty: never.' : 'Empty: never.'),
        tokenPart),
      h('fieldset', null, h('legend', { text: 'Limits and budget' }),
        h('div', { class: 'grid' },
          field('Requests per minute', { name: 'limits.rpm', value: k.limits?.rpm ?? '', inputmode: 'numeric' }),
          field('Tokens per minute', { name: 'limits.tpm', value: k.limits?.tpm ?? '', inputmode: 'numeric' }),
          field('Token budget', { name: 'budget.total_tokens', value: b.total_tokens ?? '', inputmode: 'numeric' }),
          field('USD budget ($)', { name: 'budget.total_usd_micros', value: b.total_usd_micros !== null && b.total_usd_micros !== undefined ? String(b.total_usd_micros / 1e6) : '', inputmode: 'decimal' }),
          field('Budget period', { name: 'budget.period', tag: 'select', options: [['lifetime', 'lifetime'], ['day', 'day'], ['week', 'week'], ['month', 'month']] }),
          field('Period time zone', { name: 'budget.timezone', value: b.timezone || '', placeholder: 'UTC', autocomplete: 'off' }))),
      h('fieldset', null, h('legend', { text: 'Routing and guardrails' }),
        h('div', { class: 'grid' },
          field('Route (backend)', { name: 'route', value: k.route || '', autocomplete: 'off' }, 'Empty: the router decides.'),
          field('Max input tokens', { name: 'guardrails.max_input_tokens', value: g.max_input_tokens ?? '', inputmode: 'numeric' }),
          field('Allowed models', { name: 'guardrails.allow_models', value: (g.allow_models || []).join(', ') }, 'Comma-separated; a trailing * is a prefix.'),
          field('Denied models', { name: 'guardrails.deny_models', value: (g.deny_models || []).join(', ') })),
        field('Banned phrases (one per line)', { name: 'guardrails.banned_phrases', tag: 'textarea', rows: 2, value: (g.banned_phrases || []).join('\n') }),
        field('Banned regexes (RE2, one per line)', { name: 'guardrails.banned_regexes', tag: 'textarea', rows: 2, value: (g.banned_regexes || []).join('\n') }),
        h('div', { class: 'grid' },
          field('Block PII (e-mail, SSN)', { name: 'guardrails.block_pii', type: 'checkbox', checked: !!g.block_pii }),
          field('Validate request schema', { name: 'guardrails.validate_schema', type: 'checkbox', checked: !!g.validate_schema }))),
      formError,
      h('div', { class: 'dialog-actions' },
        button('Cancel', () => close(null)),
        h('button', { type: 'submit', class: 'primary', id: 'key-save', text: editing ? 'Save' : 'Create key' })));
    form.querySelector('[name="budget.period"]').value = b.period || 'lifetime';

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      const val = (n) => (form.querySelector(`[name="${n}"]`)?.value ?? '').trim();
      const checked = (n) => !!form.querySelector(`[name="${n}"]`)?.checked;
      const body = structuredClone(k);
      body.id = val('id');
      let issued = null;
      if (!editing) body.token = val('token') || (issued = newToken()); // an edit sends none: it is kept
      body.enabled = checked('enabled');
      for (const n of ['tenant_id', 'project_id', 'user_id']) {
        if (val(n)) body[n] = val(n);
        else delete body[n];
      }
      const exp = fromLocalInput(val('expires_at'));
      body.expires_at = exp === null ? null : new Date(exp).toISOString().replace('.000Z', 'Z');
      body.limits = { ...(body.limits || {}), rpm: numOrNull(val('limits.rpm')), tpm: numOrNull(val('limits.tpm')) };
      const budget = { ...(body.budget || {}), total_tokens: numOrNull(val('budget.total_tokens')), total_usd_micros: usdToMicros(val('budget.total_usd_micros')) };
      const period = val('budget.period');
      if (period === 'lifetime') {
        delete budget.period;
        delete budget.timezone;
      } else {
        budget.period = period;
        if (val('budget.timezone')) budget.timezone = val('budget.timezone');
        else delete budget.timezone;
      }
      body.budget = budget;
      body.route = val('route') || null;
      const guard = { ...(body.guardrails || {}) };
      guard.allow_models = list(val('guardrails.allow_models'));
      guard.deny_models = list(val('guardrails.deny_models'));
      guard.banned_phrases = list(val('guardrails.banned_phrases'), /\n/);
      guard.banned_regexes = list(val('guardrails.banned_regexes'), /\n/);
      guard.block_pii = checked('guardrails.block_pii');
      guard.validate_schema = checked('guardrails.validate_schema');
      const mit = numOrNull(val('guardrails.max_input_tokens'));
      if (mit === null) delete guard.max_input_tokens;
      else guard.max_input_tokens = mit;
      body.guardrails = guard;
      if (!body.id) {
        showFieldError(form.querySelector('[data-path="id"]'), 'An id is required.');
        return;
      }
      const save = form.querySelector('#key-save');
      save.disabled = true;
      try {
        const r = editing ? await put('/admin/keys/' + encodeURIComponent(body.id), body) : await post('/admin/keys', body);
        close({ id: r.id, token: issued ? r.token : null, created: !editing });
      } catch (err) {
        showApiError(form, formError, err);
      } finally {
        save.disabled = false;
      }
    });
    return form;
  }, { wide: true });

  if (!saved) return;
  toast(`${saved.id} ${saved.created ? 'created' : 'saved'}.`);
  await load();
  if (saved.token) await showTokenOnce(saved.id, saved.token);
}

// The API's validation message names the field (`virtual_key.budget.timezone: …`): show it
// next to that field, or the closest one up the path, else at the form.
function showApiError(form, formError, err) {
  const msg = err instanceof ApiError ? err.message : String(err);
  let path = null;
  const m = /virtual_key\.([A-Za-z_.]+)/.exec(msg);
  if (m) path = m[1];
  if (/banned_regex/.test(msg)) path = 'guardrails.banned_regexes';
  else if (!path && /token/.test(msg)) path = 'token';
  else if (!path && /tenant/.test(msg)) path = 'tenant_id';
  while (path) {
    const el = form.querySelector(`.field[data-path="${path}"]`);
    if (el) {
      showFieldError(el, msg);
      return;
    }
    path = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : null;
  }
  formError.textContent = msg;
  formError.hidden = false;
}
