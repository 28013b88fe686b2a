// DOM and formatting helpers. Every value from the API goes in as text (textContent, value),
// never as HTML, so a key id or an audit payload cannot inject markup.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      else if (k === 'value') el.value = v;
      else if (k === 'checked') el.checked = !!v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

let uid = 0;
export const nextId = (p = 'f') => `${p}-${++uid}`;

// A labelled input: field('Requests/min', {name:'limits.rpm', type:'number'}) → <div class=field>.
export function field(label, attrs = {}, help) {
  const id = attrs.id || nextId();
  const tag = attrs.tag || 'input';
  const a = { ...attrs, id };
  delete a.tag;
  const errId = id + '-err';
  const helpId = help ? id + '-help' : null;
  a['aria-describedby'] = [helpId, errId].filter(Boolean).join(' ');
  let control;
  if (tag === 'select') {
    const opts = a.options || [];
    delete a.options;
    control = h('select', a, opts.map(([v, t]) => h('option', { value: v, text: t })));
  } else {
    control = h(tag, a);
  }
  if (attrs.type === 'checkbox') {
    return h('div', { class: 'field check', dataset: { path: attrs.name || '' } },
      control, h('label', { for: id, text: label }),
      help && h('small', { id: helpId, class: 'muted', text: help }),
      h('p', { id: errId, class: 'error', role: 'alert', hidden: true }));
  }
  return h('div', { class: 'field', dataset: { path: attrs.name || '' } },
    h('label', { for: id, text: label }), control,
    help && h('small', { id: helpId, class: 'muted', text: help }),
    h('p', { id: errId, class: 'error', role: 'alert', hidden: true }));
}

export function showFieldError(fieldEl, message) {
  const p = fieldEl.querySelector('.error');
  p.textContent = message;
  p.hidden = false;
  const c = fieldEl.querySelector('input, select, textarea');
  if (c) {
    c.setAttribute('aria-invalid', 'true');
    c.focus();
  }
}

export function clearErrors(root) {
  for (const p of root.querySelectorAll('.error')) {
    p.textContent = '';
    p.hidden = true;
  }
  for (const c of root.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
}

// A page heading with actions on the right.
export function pageHead(title, ...actions) {
  return h('div', { class: 'page-head' }, h('h1', { id: 'page-title', text: title }),
    h('div', { class: 'actions' }, actions));
}

export function button(text, onClick, cls = '', attrs = {}) {
  return h('button', { type: 'button', class: cls, on: { click: onClick }, ...attrs }, text);
}

export function notice(text, kind = 'info') {
  return h('p', { class: 'notice ' + kind, role: kind === 'error' ? 'alert' : null, text });
}

// A toast in the polite live region.
export function toast(text, kind = 'ok') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: 'toast ' + kind, text });
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

// A modal <dialog>: resolves with the value passed to close(), or null when dismissed.
export function modal(title, build, { wide = false } = {}) {
  return new Promise((resolve) => {
    const titleId = nextId('dlg');
    const dlg = h('dialog', { class: wide ? 'wide' : '', 'aria-labelledby': titleId });
    let result = null;
    const close = (value) => {
      result = value;
      dlg.close();
    };
    dlg.append(h('h2', { id: titleId, text: title }), build(close));
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(result);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

export function confirmDialog(title, text, okText = 'Confirm', danger = false) {
  return modal(title, (close) => h('div', null,
    h('p', { text }),
    h('div', { class: 'dialog-actions' },
      button('Cancel', () => close(false)),
      button(okText, () => close(true), danger ? 'danger' : 'primary'))));
}

// A token shown once, with a copy button. The value is dropped from the DOM on close.
export function showTokenOnce(keyId, token) {
  return modal('Token for ' + keyId, () => {
    const input = h('input', { id: 'new-token', type: 'text', readonly: true, value: token, class: 'mono', spellcheck: 'false' });
    const status = h('span', { class: 'muted', role: 'status' });
    const copy = button('Copy', async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
      } catch {
        document.execCommand('copy'); // plain http to another host has no async clipboard
      }
      status.textContent = 'Copied.';
    }, 'primary', { id: 'copy-token' });
    const done = button('Done', () => {
      input.value = '';
      input.closest('dialog').close();
    });
    return h('div', null,
      h('p', { class: 'notice warn', text: 'Copy this token now: it is shown only once. The gateway keeps it hashed or in memory only and this console does not keep it.' }),
      h('label', { for: 'new-token', text: 'Token' }),
      h('div', { class: 'row' }, input, copy),
      status,
      h('div', { class: 'dialog-actions' }, done));
  });
}

// ---- formatting ----
const nf = new Intl.NumberFormat('en-US');
export const fmtInt = (n) => (n === null || n === undefined ? '—' : nf.format(n));

export function fmtUsdMicros(m) {
  if (m === null || m === undefined) return '—';
  const d = m / 1e6;
  if (d === 0) return '$0';
  if (Math.abs(d) >= 100) return '$' + nf.format(Math.round(d));
  if (Math.abs(d) >= 0.01) return '$' + d.toFixed(2);
  return '$' + d.toFixed(6).replace(/0+$/, ''); // whole micro-dollars: $0.000008
}

export function fmtNum(n, digits = 2) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (n === 0) return '0';
  const a = Math.abs(n);
  if (a >= 100) return nf.format(Math.round(n));
  if (a >= 10) return n.toFixed(Math.min(digits, 1));
  if (a >= 1) return n.toFixed(digits);
  return n.toPrecision(digits);
}

const pad = (n) => String(n).padStart(2, '0');
// Local time, to the second: 2026-12-07 14:03:09.
export function fmtTime(ms) {
  if (ms === null || ms === undefined || ms === '') return '—';
  const d = typeof ms === 'string' ? new Date(ms) : new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return String(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// <input type=datetime-local> value ↔ epoch ms (local time, as the input shows it).
export function localInputValue(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
export function fromLocalInput(v) {
  if (!v) return null;
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? null : t;
}

// Download text as a file through a Blob (no URL carries data or the token).
export function download(name, text, type) {
  const blob = new Blob([text], { type });
  const a = h('a', { href: URL.createObjectURL(blob), download: name, hidden: true });
  document.body.append(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(a.href);
    a.remove();
  }, 1000);
}

// A table with data-label on each cell, so narrow screens can show rows as cards (CSS).
export function table(columns, rows, { caption, empty = 'Nothing to show.', cls = '', row } = {}) {
  if (!rows.length) return empty ? notice(empty) : h('div');
  const head = h('tr', null, columns.map((c) => h('th', { scope: 'col', text: c.label, class: c.cls })));
  const body = rows.map((r) => {
    const tr = h('tr', row ? row(r) : null, columns.map((c) => {
      const v = c.cell(r);
      // One wrapper per cell: on narrow screens the cell is a grid of its label and this.
      return h('td', { dataset: { label: c.label }, class: c.cls }, h('div', { class: 'cell' }, v instanceof Node || Array.isArray(v) ? v : String(v ?? '—')));
    }));
    return tr;
  });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data ' + cls },
    caption && h('caption', { class: 'sr-only', text: caption }),
    h('thead', null, head), h('tbody', null, body)));
}

export const badge = (text, kind = '') => h('span', { class: 'badge ' + kind, text });
