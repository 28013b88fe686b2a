// Backends: circuit-breaker and health-check state (GET /admin/backends) and reset
// (POST /admin/backends/{name}/reset). Without routing flags the API answers 400 not_configured.
import { get, post, who } from './api.js';
import { h, clear, pageHead, button, notice, fmtTime, table, badge, toast } from './dom.js';

let els = null;
let timer = null;

export function leave() {
  clearInterval(timer);
  timer = null;
  els = null;
}

export async function render(main) {
  els = { list: h('div', { id: 'backend-list' }) };
  main.append(
    pageHead('Backends', button('Refresh', () => load(), '', { id: 'backends-refresh' })),
    h('p', { class: 'muted', text: 'State held by this replica (refreshed every 10 s). Reset clears a backend\'s breaker and health-check state here.' + (who.canWrite ? '' : ' (Reset needs a write token.)') }),
    els.list);
  await load();
  timer = setInterval(load, 10000);
}

function state(b) {
  const now = Date.now() / 1000;
  if (b.unhealthy_until_epoch_seconds && b.unhealthy_until_epoch_seconds > now) {
    return [badge('ejected', 'bad'), h('small', { class: 'muted block', text: 'until ' + fmtTime(b.unhealthy_until_epoch_seconds * 1000) })];
  }
  if (b.health_check_healthy === false) return badge('failing health check', 'bad');
  if (b.consecutive_failures > 0) return badge('failures', 'warn');
  return badge('healthy', 'ok');
}

async function load() {
  if (!els) return;
  let list;
  try {
    list = await get('/admin/backends');
  } catch (e) {
    if (!els) return;
    clearInterval(timer);
    timer = null;
    clear(els.list, e.code === 'not_configured'
      ? notice('Breaker and health checks are off on this gateway, so there is no backend state to show. Start it with --proxy-circuit-breaker or --proxy-health-checks (docs/routing.md).')
      : notice(e.message, 'error'));
    return;
  }
  if (!els) return;
  const focused = document.activeElement?.dataset?.reset;
  clear(els.list, table([
    { label: 'Backend', cell: (b) => h('strong', { class: 'mono', text: b.backend }) },
    { label: 'State', cell: state },
    { label: 'Consecutive failures', cell: (b) => String(b.consecutive_failures ?? 0) },
    { label: 'Last error', cell: (b) => (b.last_error ? [b.last_error, h('small', { class: 'muted block', text: fmtTime(b.last_failure_ts_ms) })] : '—') },
    {
      label: 'Health check', cell: (b) => (b.health_check_healthy === undefined ? 'off' :
        [b.health_check_healthy ? 'passing' : 'failing', b.health_check_last_ts_ms ? h('small', { class: 'muted block', text: fmtTime(b.health_check_last_ts_ms) }) : null]),
    },
    who.canWrite && {
      label: 'Actions', cls: 'actions-col', cell: (b) => button('Reset', async () => {
        try {
          await post('/admin/backends/' + encodeURIComponent(b.backend) + '/reset', {});
          toast(`${b.backend} reset.`);
        } catch (e) {
          toast(`${b.backend}: ${e.message}`, 'error');
        }
        load();
      }, 'small', { 'aria-label': 'Reset ' + b.backend, dataset: { reset: b.backend } }),
    },
  ].filter(Boolean), list, { row: (b) => ({ dataset: { backend: b.backend } }), caption: 'Backends', empty: 'No backend is configured.' }));
  if (focused) els.list.querySelector(`[data-reset="${CSS.escape(focused)}"]`)?.focus(); // a refresh keeps the focus
}
