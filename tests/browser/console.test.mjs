// The operator console in a real browser (Debian's chromium, driven by puppeteer-core; nothing
// downloaded). Run by scripts/console-check.sh, which starts the mock upstream and a gateway
// with keys in two tenants. Steps run in order and build on each other:
//   first load (security headers, transfer size, time to interactive) → sign in (the role from
//   /admin/whoami) → create a key (and see the API's validation errors next to their fields) →
//   use it over HTTP → its spend on the Spend page → live traffic from /metrics/prometheus →
//   disable it: the client gets 401 → audit: the API's kind filter and paging, export JSONL and
//   CSV, the chain verified in the page (and here), a tampered file caught → our SHA-256 against
//   known vectors → config diff, dry run, rollback → a canary: dry run, start, per-version
//   numbers, promote → rotate, then edit and disable the key whose
//   token is now kept hashed, with no token asked → backends → phone width and keyboard → a read
//   token sees no change button → a tenant token sees only its tenant.
// Any CSP violation or uncaught page error fails the run. Screenshots go to docs/console/.
//
// Environment: DITTO_GATEWAY (http://127.0.0.1:PORT), DITTO_ADMIN_TOKEN, DITTO_TENANT and
// DITTO_TENANT_TOKEN (that tenant's admin token); optional DITTO_READ_TOKEN (a global read token:
// its step is skipped without one), DITTO_UI (default $DITTO_GATEWAY/ui/),
// DITTO_TRAFFIC_KEYS (virtual-key tokens for the live traffic, comma-separated), DITTO_SHOTS
// (default docs/console), CHROMIUM (default /usr/bin/chromium), DITTO_IDP (the identity provider
// of a gateway with single sign-on: the CSP then allows its origin, and the sign-in page's first
// control is "Sign in with SSO"; console-sso.test.mjs tests the sign-on itself).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envReader, fill, gotoPage, launchBrowser, shot, sleep, waitText, watch } from './page-helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = envReader('console test');
const GATEWAY = env('DITTO_GATEWAY').replace(/\/$/, '');
const UI = env('DITTO_UI', GATEWAY + '/ui/');
const ADMIN = env('DITTO_ADMIN_TOKEN');
const TENANT = env('DITTO_TENANT');
const TENANT_TOKEN = env('DITTO_TENANT_TOKEN');
const READ_TOKEN = env('DITTO_READ_TOKEN', '');
const SHOTS = path.resolve(env('DITTO_SHOTS', path.join(here, '../../docs/console')));
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const TRAFFIC_KEYS = env('DITTO_TRAFFIC_KEYS', '').split(',').filter(Boolean);
const IDP = env('DITTO_IDP', '');

// With single sign-on the page may also POST to the provider's token endpoint (its origin).
const CONNECT = "'self'" + (IDP ? ' ' + new URL(IDP).origin : '');
const CSP = `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${CONNECT}; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;
const MAX_FIRST_LOAD_BYTES = 150 * 1000; // "≤ 150 KB compressed", counted in bytes on the wire
const MAX_INTERACTIVE_MS = 1000;
const KEY_ID = 'console-e2e-' + crypto.randomBytes(3).toString('hex');
const STEP = { timeout: 60_000 };

// The whole run is bounded, whatever hangs.
setTimeout(() => {
  console.error('console test: still running after 280 s, giving up');
  process.exit(1);
}, 280_000).unref();

let browser;
let page;
let profile;
let downloads;
const problems = []; // CSP violations and page errors, from every page of the run
const requestUrls = [];
const consoleText = [];
const measured = {};
let keyToken = null;

async function chat(token, content = 'hello from the console test') {
  const res = await fetch(GATEWAY + '/v1/chat/completions', {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function adminGet(p, token = ADMIN) {
  const res = await fetch(GATEWAY + p, { headers: { Authorization: 'Bearer ' + token } });
  assert.equal(res.status, 200, `GET ${p}`);
  return res.json();
}

// A click on an element of a list the page may redraw (after a save the key list reloads):
// a node replaced between lookup and click is looked up again. Puppeteer fails before it
// dispatches anything then, so a retry never clicks twice.
async function clickListed(sel, tries = 5) {
  for (let i = 1; ; i++) {
    try {
      await page.waitForSelector(sel);
      await page.click(sel);
      return;
    } catch (e) {
      if (i >= tries || !/detached|not clickable|No node found/.test(e.message)) throw e;
      await sleep(50);
    }
  }
}

// After sign-out, by keyboard only, to the token field: it has the focus, or with single
// sign-on the SSO button has it and the token field is the next control.
async function focusTokenField() {
  if (IDP) {
    await page.waitForFunction(() => document.activeElement?.id === 'sso-signin');
    await page.keyboard.press('Tab');
  }
  await page.waitForFunction(() => document.activeElement?.id === 'token');
}

// Both the JSONL and the CSV chain, recomputed with node:crypto (not the page's code).
function nodeVerifyJsonl(text) {
  let prev = '';
  const lines = text.split('\n').filter(Boolean);
  for (const line of lines) {
    const tail = line.lastIndexOf(',"hash":"');
    const hash = line.slice(tail + 9, tail + 9 + 64);
    const cut = line.includes(',"prev_hash":"') ? line.lastIndexOf(',"prev_hash":"') : tail;
    const canonical = line.slice(0, cut) + '}';
    const h = crypto.createHash('sha256').update(prev + '\n' + canonical).digest('hex');
    if (h !== hash) return false;
    prev = h;
  }
  return lines.length;
}

async function waitDownload(ext, timeout = 10_000) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    const f = fs.readdirSync(downloads).find((n) => n.endsWith(ext));
    if (f) return fs.readFileSync(path.join(downloads, f), 'utf8');
    await sleep(100);
  }
  throw new Error('no ' + ext + ' download in ' + downloads);
}

before(async () => {
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ditto-console-profile-'));
  downloads = fs.mkdtempSync(path.join(os.tmpdir(), 'ditto-console-downloads-'));
  browser = await launchBrowser(CHROMIUM, profile);
  const cdp = await browser.target().createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  await watch(page, { problems, consoleText, requestUrls });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  for (const d of [profile, downloads]) if (d) fs.rmSync(d, { recursive: true, force: true });
  if (Object.keys(measured).length) console.log('console test measured: ' + JSON.stringify(measured));
});

test('first load: security headers, ≤ 150 KB on the wire, interactive within 1 s', STEP, async () => {
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const sizes = new Map();
  const urls = new Map();
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.loadingFinished', (e) => sizes.set(e.requestId, e.encodedDataLength));
  const response = await page.goto(UI, { waitUntil: 'networkidle0' });
  await page.waitForSelector('html[data-ready="1"]');
  const h = response.headers();
  assert.equal(response.status(), 200);
  assert.equal(h['content-security-policy'], CSP);
  assert.equal(h['x-frame-options'], 'DENY');
  assert.equal(h['x-content-type-options'], 'nosniff');
  assert.equal(h['referrer-policy'], 'no-referrer');
  assert.equal(h['cache-control'], 'no-cache');
  assert.match(h['content-type'], /^text\/html/);
  const ready = await page.evaluate(() => performance.getEntriesByName('console-ready')[0]?.startTime);
  assert.ok(ready > 0, 'the console marks when it is ready');
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  measured.first_load_requests = sizes.size;
  measured.first_load_bytes = total;
  measured.interactive_ms = Math.round(ready);
  assert.ok(total <= MAX_FIRST_LOAD_BYTES, `first load ${total} bytes > ${MAX_FIRST_LOAD_BYTES}`);
  assert.ok(ready <= MAX_INTERACTIVE_MS, `interactive after ${ready} ms`);
  for (const u of urls.values()) assert.ok(u.startsWith(new URL(UI).origin + '/'), 'same origin only: ' + u);
  // A script asset: compressed, with its type and the same headers.
  const js = await fetch(new URL('js/app.js', UI), { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  assert.equal(js.headers.get('content-security-policy'), CSP);
  assert.equal(js.headers.get('x-frame-options'), 'DENY');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
  await cdp.detach();
  if (IDP) {
    assert.equal(await page.$eval('#sso-signin', (e) => document.activeElement === e), true, 'the SSO button has the focus');
    assert.equal(await page.$eval('#token', (e) => e.offsetParent !== null), true, 'the break-glass token field is shown');
  } else {
    assert.equal(await page.$eval('#token', (e) => document.activeElement === e), true, 'the token field has the focus');
    assert.equal(await page.$eval('#sso', (e) => e.hidden), true, 'no SSO button without single sign-on');
  }
  await shot(page, SHOTS, 'signin.png');
});

test('the CSP is enforced: an injected inline script does not run', STEP, async () => {
  const p = await browser.newPage();
  await p.evaluateOnNewDocument(() => {
    window.__v = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__v.push(e.violatedDirective));
  });
  await p.goto(UI, { waitUntil: 'domcontentloaded' });
  const r = await p.evaluate(async () => {
    const s = document.createElement('script');
    s.textContent = 'window.__inline = 1';
    document.body.append(s);
    const d = document.createElement('div');
    d.setAttribute('style', 'color: red');
    document.body.append(d);
    await new Promise((res) => setTimeout(res, 100));
    return { ran: window.__inline === 1, violations: window.__v };
  });
  await p.close();
  assert.equal(r.ran, false);
  assert.ok(r.violations.some((v) => v.startsWith('script-src')), JSON.stringify(r.violations));
  assert.ok(r.violations.some((v) => v.startsWith('style-src')), JSON.stringify(r.violations));
});

test('sign in: a wrong token is refused, the admin token opens the keys', STEP, async () => {
  await page.type('#token', 'not-a-token');
  await page.keyboard.press('Enter');
  await waitText(page, '#signin-error', (t) => /not valid/.test(t), 'wrong token');
  await fill(page, '#token', ADMIN);
  const t0 = Date.now();
  await page.click('#signin-form button[type="submit"]');
  await page.waitForSelector('#main tr[data-key]');
  measured.signin_to_keys_ms = Date.now() - t0;
  const store = await page.evaluate(() => ({
    session: Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k)),
    local: localStorage.length,
    url: location.href,
  }));
  assert.deepEqual(store.session, [ADMIN], 'the token is in sessionStorage');
  assert.equal(store.local, 0, 'nothing in localStorage');
  assert.ok(!store.url.includes(ADMIN));
  // The role comes from GET /admin/whoami, before any change is tried.
  assert.deepEqual(await page.$eval('#who', (e) => ({ text: e.textContent, role: e.dataset.role })), { text: 'Admin · write', role: 'write' });
  assert.ok(requestUrls.some((u) => u.endsWith('/admin/whoami')), 'the sign-in asked /admin/whoami');
  assert.ok(await page.$('#new-key'), 'a write token has the New key button');
  assert.equal(await page.$('#main .notice'), null, 'no read-only notice');
});

test('create a key: validation errors next to their fields, the token shown once', STEP, async () => {
  await page.click('#new-key');
  await page.waitForSelector('dialog form.key-form');
  await fill(page, 'dialog [name="id"]', KEY_ID);
  await fill(page, 'dialog [name="tenant_id"]', TENANT);
  await fill(page, 'dialog [name="limits.rpm"]', '600');
  await fill(page, 'dialog [name="budget.total_tokens"]', '100000');
  await fill(page, 'dialog [name="route"]', 'nowhere');
  await page.click('#key-save');
  await waitText(page, 'dialog .field[data-path="route"] .error', (t) => /unknown backend: nowhere/.test(t), 'route error');
  // Fixed, then another field wrong: the message moves to that field.
  await fill(page, 'dialog [name="route"]', 'mock');
  await page.select('dialog [name="budget.period"]', 'day');
  await fill(page, 'dialog [name="budget.timezone"]', 'Mars/Olympus');
  await page.click('#key-save');
  await waitText(page, 'dialog .field[data-path="budget.timezone"] .error', (t) => /Mars\/Olympus/.test(t), 'timezone error');
  assert.equal(await page.$eval('dialog .field[data-path="route"] .error', (e) => e.hidden), true);
  await shot(page, SHOTS, 'key-form.png');
  await fill(page, 'dialog [name="budget.timezone"]', 'Europe/Paris');
  await page.select('dialog [name="budget.period"]', 'lifetime');
  await fill(page, 'dialog [name="route"]', '');
  await page.click('#key-save');
  await page.waitForSelector('#new-token');
  keyToken = await page.$eval('#new-token', (e) => e.value);
  assert.match(keyToken, /^sk-ditto-[0-9a-f]{64}$/);
  await page.click('#copy-token');
  await page.click('dialog .dialog-actions button');
  await page.waitForFunction(() => !document.querySelector('dialog'));
  await page.waitForSelector(`tr[data-key="${KEY_ID}"]`);
  const listed = (await adminGet('/admin/keys?id_prefix=' + KEY_ID))[0];
  assert.equal(listed.tenant_id, TENANT);
  assert.equal(listed.limits.rpm, 600);
  assert.equal(listed.budget.total_tokens, 100000);
  assert.equal(listed.token, 'redacted');
  await fill(page, '#key-search', KEY_ID);
  assert.equal(await page.$$eval('#main tr[data-key]', (r) => r.length), 1, 'search narrows the list');
  await fill(page, '#key-search', '');
  await shot(page, SHOTS, 'keys.png');
});

let spentTokens = 0;
test('use the key over HTTP, then see its spend in the console', STEP, async () => {
  for (let i = 0; i < 3; i++) {
    const r = await chat(keyToken, 'request ' + i);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    spentTokens += r.body.usage.total_tokens;
  }
  // The config's keys spend a little too, so the page has more than one ledger to show.
  for (const k of TRAFFIC_KEYS) for (let i = 0; i < 2; i++) assert.equal((await chat(k, 'spend ' + i)).status, 200);
  await gotoPage(page, 'spend');
  const row = `tr[data-ledger="${KEY_ID}"]`;
  const end = Date.now() + 15_000;
  while (!(await page.$(row))) {
    assert.ok(Date.now() < end, 'the key\'s ledger did not appear');
    await page.click('#spend-refresh');
    await sleep(500);
  }
  const text = await page.$eval(row, (e) => e.textContent);
  assert.ok(text.includes(`${spentTokens.toLocaleString('en-US')} / 100,000`), `ledger row: ${text}`);
  await page.waitForSelector(`tr[data-spend="${KEY_ID}"]`);
  const totals = await page.$eval(`tr[data-spend="${KEY_ID}"]`, (e) => [...e.cells].map((c) => c.textContent));
  assert.equal(totals[1], '3', 'three requests in the spend over time');
  assert.ok(await page.$('#main .chart canvas'), 'the spend chart is drawn');
  await shot(page, SHOTS, 'spend.png');
  await page.$eval('#h-over-time', (e) => e.scrollIntoView());
  await shot(page, SHOTS, 'spend-over-time.png');
  await page.evaluate(() => window.scrollTo(0, 0));
});

test('live traffic: rates and overhead quantiles from /metrics/prometheus', STEP, async () => {
  await gotoPage(page, 'live');
  await page.select('#live-interval', '2000');
  // Traffic for ~7 s: the new key, the config's keys, and some 401s (errors).
  const keys = TRAFFIC_KEYS;
  const stop = Date.now() + 7000;
  const load = (async () => {
    let i = 0;
    while (Date.now() < stop) {
      await chat(i % 7 === 6 ? 'wrong-token' : [keyToken, ...keys][i % (keys.length + 1)], 'live ' + i);
      i++;
      await sleep(40);
    }
  })();
  await waitText(page, '[data-metric="req"] strong', (t) => t !== '—' && Number(t.replace(/,/g, '')) > 0, 'requests/s', { timeout: 15_000 });
  await waitText(page, '[data-metric="p99"] strong', (t) => /ms$/.test(t), 'overhead p99', { timeout: 15_000 });
  await load;
  await waitText(page, '#live-keys', (t) => t.includes(KEY_ID), 'busiest keys', { timeout: 10_000 });
  const tokens = await page.$eval('[data-metric="tokens"] strong', (e) => e.textContent);
  assert.notEqual(tokens, '—');
  await shot(page, SHOTS, 'live.png');
});

test('disable the key: the client gets 401', STEP, async () => {
  await gotoPage(page, 'keys');
  await page.waitForSelector(`tr[data-key="${KEY_ID}"]`);
  await clickListed(`button[data-action="toggle"][data-key="${KEY_ID}"]`);
  await waitText(page, `tr[data-key="${KEY_ID}"]`, (t) => t.includes('disabled'), 'disabled badge');
  const r = await chat(keyToken);
  assert.equal(r.status, 401);
  assert.match(r.body.error.message, /disabled/);
});

test('audit: the API\'s paging and kind filter, export JSONL and CSV with the chain verified in the page', STEP, async () => {
  const ids = () => page.$$eval('tr[data-id]', (rows) => rows.map((r) => Number(r.dataset.id)));
  await gotoPage(page, 'audit');
  await page.waitForSelector('tr[data-kind]');
  // Pages of 50 from GET /admin/audit, newest first; "Older" asks the API for what is before
  // the oldest record shown (before_ts_ms), "Newer" goes back.
  const page1 = await ids();
  const newest = (await adminGet('/admin/audit?limit=100')).map((r) => r.id);
  assert.equal(newest.length, 100, 'the run has made more than two pages of audit records');
  assert.deepEqual(page1, newest.slice(0, 50), 'page 1 is the newest 50 records');
  await page.click('#audit-older');
  await waitText(page, '#audit-page', (t) => t.startsWith('Page 2'), 'the second page');
  assert.deepEqual(await ids(), newest.slice(50, 100), 'page 2 is the next 50, none lost or repeated');
  assert.ok(requestUrls.some((u) => /\/admin\/audit\?.*before_ts_ms=\d+/.test(u)), 'the older page came from before_ts_ms');
  await page.click('#audit-newer');
  await waitText(page, '#audit-page', (t) => t.startsWith('Page 1'), 'back to the first page');
  assert.deepEqual(await ids(), page1);
  // The kind filter is the API's (kind=, a prefix).
  await fill(page, '#audit-kind', 'admin.key');
  await page.click('#audit-filters button[type="submit"]');
  await page.waitForFunction(() => [...document.querySelectorAll('tr[data-kind]')].every((r) => r.dataset.kind.startsWith('admin.key')));
  assert.ok(requestUrls.some((u) => /\/admin\/audit\?.*kind=admin\.key/.test(u)), 'the kind filter went to the API');
  const keyRecords = (await adminGet('/admin/audit?kind=admin.key&limit=50')).map((r) => r.id);
  assert.deepEqual(await ids(), keyRecords, 'the rows are the API\'s admin.key* records');
  const kinds = await page.$$eval('tr[data-kind]', (rows) => rows.map((r) => r.textContent));
  assert.ok(kinds.some((t) => t.includes(KEY_ID)), 'the key\'s upserts are listed');
  await page.click('#export-audit');
  await page.waitForSelector('#chain-result [data-chain]');
  const ok = await page.$eval('#chain-result [data-chain]', (e) => ({ ...e.dataset, text: e.textContent }));
  assert.equal(ok.chain, 'ok', ok.text);
  const jsonl = await waitDownload('.jsonl');
  assert.equal(nodeVerifyJsonl(jsonl), Number(ok.count), 'node:crypto agrees with the page');
  assert.ok(Number(ok.count) >= 10);
  await shot(page, SHOTS, 'audit.png');

  await page.select('#export-format', 'csv');
  await page.click('#export-audit');
  await page.waitForFunction(() => /CSV|\.csv/.test(document.querySelector('#chain-result')?.textContent || ''));
  const csvOk = await page.$eval('#chain-result [data-chain]', (e) => ({ ...e.dataset, text: e.textContent }));
  assert.equal(csvOk.chain, 'ok', csvOk.text);
  const csv = await waitDownload('.csv');
  assert.ok(csv.startsWith('id,ts_ms,kind,payload_json,prev_hash,hash\n'));

  // One changed byte in the 3rd record: the page reports the chain broken there.
  const lines = jsonl.split('\n');
  lines[2] = lines[2].replace(/"ts_ms":(\d)/, (m, d) => `"ts_ms":${(Number(d) + 1) % 10}`);
  const tampered = path.join(downloads, 'tampered.jsonl');
  fs.writeFileSync(tampered, lines.join('\n'));
  const input = await page.$('#verify-file');
  await input.uploadFile(tampered);
  await page.waitForFunction(() => document.querySelector('#chain-result [data-chain]')?.dataset.chain === 'broken');
  assert.equal(await page.$eval('#chain-result [data-chain]', (e) => e.dataset.brokenAt), '3');
});

test('our SHA-256 (the fallback for plain http) matches the FIPS vectors and node:crypto', STEP, async () => {
  const random = Array.from({ length: 200 }, (_, i) => crypto.randomBytes(i * 3).toString('latin1') + (i % 5 === 0 ? '✓é𝄞' : ''));
  const expected = random.map((s) => crypto.createHash('sha256').update(s, 'utf8').digest('hex'));
  const r = await page.evaluate(async (random) => {
    const { sha256Hex } = await import(new URL('js/sha256.js', location.href).href);
    const subtle = async (s) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s))), (b) => b.toString(16).padStart(2, '0')).join('');
    return {
      empty: sha256Hex(''),
      abc: sha256Hex('abc'),
      two: sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'),
      long: sha256Hex('abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu'),
      million: sha256Hex('a'.repeat(1_000_000)),
      random: random.map((s) => sha256Hex(s)),
      subtle: await Promise.all(random.slice(0, 20).map(subtle)),
    };
  }, random);
  assert.equal(r.empty, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(r.abc, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(r.two, '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  assert.equal(r.long, 'cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1');
  assert.equal(r.million, 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  assert.deepEqual(r.random, expected);
  assert.deepEqual(r.subtle, expected.slice(0, 20));
});

test('config versions: diff, rollback after a dry run (the key works again)', STEP, async () => {
  await gotoPage(page, 'config');
  await page.waitForSelector('tr[data-version]');
  const versions = await adminGet('/admin/config/versions');
  assert.ok(versions.length >= 3);
  // The version that created the key (before it was disabled).
  const diffs = [];
  for (let i = 0; i + 1 < versions.length && diffs.length < 4; i++) {
    diffs.push({ v: versions[i], d: await adminGet(`/admin/config/diff?from_version_id=${versions[i + 1].version_id}&to_version_id=${versions[i].version_id}`) });
  }
  const created = diffs.find((x) => x.d.added.some((k) => k.id === KEY_ID)).v.version_id;
  await page.select('#diff-from', versions[versions.length - 1].version_id);
  await page.select('#diff-to', versions[0].version_id);
  await page.click('#diff-show');
  await waitText(page, '#diff', (t) => t.includes(KEY_ID), 'diff lists the new key');
  assert.match(await page.$eval('#diff-summary', (e) => e.textContent), /\+\d+ added/);

  await page.evaluate(() => window.scrollTo(0, 0));
  await clickListed(`button[data-rollback="${created}"]`);
  await page.waitForSelector('#rollback-dry');
  assert.equal(await page.$eval('#rollback-go', (e) => e.disabled), true, 'no rollback before a dry run');
  await page.click('#rollback-dry');
  await page.waitForSelector('#rollback-result [data-dry-run="ok"]');
  await waitText(page, '#rollback-result', (t) => t.includes('enabled'), 'the dry run shows the change');
  await shot(page, SHOTS, 'config.png');
  await page.click('#rollback-go');
  await page.waitForFunction(() => !document.querySelector('dialog'));
  const now = await adminGet('/admin/config/version');
  assert.equal(now.reason, 'admin.config.rollback:' + created);
  const r = await chat(keyToken);
  assert.equal(r.status, 200, 'the rollback re-enabled the key');
});

// The metrics' answers per router version (this replica's counters since it started).
async function routerVersionCounts() {
  const text = await (await fetch(GATEWAY + '/metrics/prometheus')).text();
  const out = {};
  for (const m of text.matchAll(/^ditto_gateway_proxy_responses_by_router_version_status_total\{router_version="([^"]+)",status="[^"]*"\} (\d+)$/gm)) {
    out[m[1]] = (out[m[1]] || 0) + Number(m[2]);
  }
  return out;
}

test('canary: a dry run, start at 50 %, its versions and per-version numbers, promote by keyboard', STEP, async () => {
  await gotoPage(page, 'config');
  await page.waitForSelector('#canary-state .notice');
  assert.match(await page.$eval('#canary-state', (e) => e.textContent), /No canary is running/);
  assert.equal(await page.$('#canary-promote'), null, 'no Promote without a canary');
  await page.click('#canary-start-box summary');
  await page.waitForSelector('#canary-router-json', { visible: true });
  // Prefilled with the current router (its "canary" member aside: none runs).
  const current = (await adminGet('/admin/config/export')).router;
  delete current.canary;
  assert.deepEqual(JSON.parse(await page.$eval('#canary-router-json', (e) => e.value)), current, 'the form starts from the current router');
  // The API's message next to the field it is about; a share out of range next to its own.
  await fill(page, '#canary-percent', '50');
  await fill(page, '#canary-router-json', '{"default_backends":[{"backend":"nowhere","weight":1}]}');
  await page.click('#canary-dry');
  await waitText(page, '#canary-form .field[data-path="router"] .error', (t) => /unknown backends: nowhere/.test(t), 'router error', { skipHidden: true });
  await fill(page, '#canary-percent', '150');
  await page.click('#canary-dry');
  await waitText(page, '#canary-form .field[data-path="percent"] .error', (t) => /at most 100/.test(t), 'percent error', { skipHidden: true });
  assert.equal(await page.$eval('#canary-form .field[data-path="router"] .error', (e) => e.hidden), true, 'the router error is gone');
  // The same backend at another weight is another router, so another version.
  const candidate = { default_backends: [{ backend: 'mock', weight: 2 }], rules: [] };
  await fill(page, '#canary-percent', '50');
  await fill(page, '#canary-router-json', JSON.stringify(candidate));
  await page.click('#canary-dry');
  await page.waitForSelector('#canary-result [data-dry-run="ok"]');
  assert.match(await page.$eval('#canary-result', (e) => e.textContent), /50 % of requests would go to r-[0-9a-f]{12}/);
  assert.equal((await fetch(GATEWAY + '/admin/config/canary', { headers: { Authorization: 'Bearer ' + ADMIN } })).status, 404, 'a dry run starts nothing');
  await page.click('#canary-start');
  await page.waitForSelector('#canary-state [data-state="running"]');
  const running = await adminGet('/admin/config/canary');
  assert.equal(running.percent, 50);
  assert.deepEqual(running.router.default_backends, [{ backend: 'mock', weight: 2 }]);
  assert.notEqual(running.canary_version, running.stable_version);
  const shown = await page.$eval('#canary-state', (e) => ({
    percent: e.querySelector('#canary-percent-shown').textContent,
    stable: e.querySelector('#canary-stable').textContent,
    canary: e.querySelector('#canary-version').textContent,
    router: JSON.parse(e.querySelector('#canary-router').textContent),
  }));
  assert.deepEqual(shown, { percent: '50 %', stable: running.stable_version, canary: running.canary_version, router: running.router });
  assert.equal((await adminGet('/admin/config/version')).reason, 'admin.config.canary.start');
  await waitText(page, 'tr[data-version]', (t) => t.includes('admin.config.canary.start'), 'the new version is listed first');
  // While it runs the router is not changed otherwise.
  const refused = await fetch(GATEWAY + '/admin/config/router', {
    method: 'PUT', headers: { Authorization: 'Bearer ' + ADMIN, 'Content-Type': 'application/json' }, body: JSON.stringify({ router: candidate }),
  });
  assert.equal(refused.status, 409);
  assert.equal((await refused.json()).error.code, 'canary_running');

  // Traffic until both versions have answered a few requests (the split is by request id).
  const before = await routerVersionCounts();
  const grew = (now, v) => (now[v] || 0) - (before[v] || 0);
  const keys = [keyToken, ...TRAFFIC_KEYS];
  let counts = before;
  for (let i = 0; i < 80 && !(grew(counts, running.stable_version) >= 2 && grew(counts, running.canary_version) >= 2); i++) {
    const r = await chat(keys[i % keys.length], 'canary ' + i);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    if (i % 4 === 3) counts = await routerVersionCounts();
  }
  counts = await routerVersionCounts();
  assert.ok(grew(counts, running.canary_version) >= 2 && grew(counts, running.stable_version) >= 2, 'both versions answered: ' + JSON.stringify(counts));
  await page.click('#config-refresh');
  for (const [v, role] of [[running.stable_version, 'stable'], [running.canary_version, 'canary']]) {
    const row = `#canary-metrics tr[data-router-version="${v}"]`;
    await waitText(page, row + ' [data-n="requests"]', (t) => t === counts[v].toLocaleString('en-US'), v + ' requests');
    const cells = await page.$eval(row, (e) => ({ role: e.dataset.role, ...Object.fromEntries([...e.cells].map((c) => [c.dataset.label, c.textContent])) }));
    assert.equal(cells.role, role);
    assert.equal(cells.Role, role);
    assert.equal(cells.Share, '50 %', v + ': its share');
    assert.equal(cells['Non-2xx'], '0 %', v + ': no non-2xx');
    assert.match(cells['Mean latency'], /^[\d.]+ ms$/, v + ': a mean latency');
  }
  await page.$eval('#h-canary', (e) => e.scrollIntoView());
  await shot(page, SHOTS, 'canary.png');
  // Phone width, the form open: nothing scrolls sideways. (A change of isMobile reloads the page.)
  const drawn = async () => {
    await page.waitForSelector('html[data-ready="1"]');
    await page.waitForSelector(`#canary-state [data-state="running"]`);
    await page.waitForSelector(`#canary-metrics tr[data-router-version="${running.canary_version}"]`);
  };
  await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  await drawn();
  await page.click('#canary-start-box summary');
  await page.waitForSelector('#canary-router-json', { visible: true });
  await sleep(300);
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(w <= 392, `canary: ${w} px wide at a 390 px viewport`);
  await page.setViewport({ width: 1280, height: 800 });
  await drawn();

  // Roll back… asks first: Escape keeps the canary.
  await page.click('#canary-rollback');
  await page.waitForSelector('dialog');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('dialog'));
  assert.equal((await adminGet('/admin/config/canary')).canary_version, running.canary_version, 'a dismissed confirm changes nothing');
  // Promote… by keyboard: Enter on the button, Tab to Promote in the dialog, Enter.
  await page.focus('#canary-promote');
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog');
  for (let i = 0; i < 4 && (await page.evaluate(() => document.activeElement?.textContent)) !== 'Promote'; i++) await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.closest('dialog') !== null && document.activeElement.textContent), 'Promote');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => !document.querySelector('dialog'));
  await waitText(page, '#canary-state', (t) => t.includes('No canary is running'), 'the canary ended');
  assert.equal((await fetch(GATEWAY + '/admin/config/canary', { headers: { Authorization: 'Bearer ' + ADMIN } })).status, 404);
  assert.equal((await adminGet('/admin/config/version')).reason, 'admin.config.canary.promote');
  assert.deepEqual((await adminGet('/admin/config/export')).router.default_backends, [{ backend: 'mock', weight: 2 }], 'the candidate is the router');
  const audit = await adminGet('/admin/audit?kind=admin.config.canary&limit=5');
  assert.deepEqual(audit.slice(0, 2).map((r) => r.kind), ['admin.config.canary.promote', 'admin.config.canary.start']);
  assert.equal(audit[0].payload.canary.canary_version, running.canary_version);
  await waitText(page, `#canary-metrics tr[data-router-version="${running.canary_version}"]`, (t) => t.includes('stable') && t.includes('100 %'), 'the promoted version is the stable one');
  await waitText(page, 'tr[data-version]', (t) => t.includes('admin.config.canary.promote'), 'the promotion is listed first');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'h-canary', 'the focus stays in the section');
});

test('rotate the key, then edit and disable it: its token is kept hashed and never asked for', STEP, async () => {
  await gotoPage(page, 'keys');
  await page.waitForSelector(`tr[data-key="${KEY_ID}"]`);
  await clickListed(`tr[data-key="${KEY_ID}"] button[aria-label^="Rotate"]`);
  await page.waitForSelector('dialog [name="grace_seconds"]');
  await fill(page, 'dialog [name="grace_seconds"]', '600');
  const t0 = Date.now();
  await page.click('dialog button[type="submit"]');
  await page.waitForSelector('#new-token');
  const rotated = await page.$eval('#new-token', (e) => e.value);
  assert.match(rotated, /^sk-ditto-[0-9a-f]{64}$/);
  assert.notEqual(rotated, keyToken);
  await page.click('dialog .dialog-actions button');
  await page.waitForFunction(() => !document.querySelector('dialog'));
  assert.equal((await chat(rotated)).status, 200, 'the new token works');
  assert.equal((await chat(keyToken)).status, 200, 'the old one too, in its grace period');
  const before = (await adminGet('/admin/keys?id_prefix=' + KEY_ID))[0];
  const graceEnd = Date.parse(before.previous_token_expires_at);
  assert.ok(Math.abs(graceEnd - (t0 + 600_000)) < 30_000, 'the grace typed: ' + before.previous_token_expires_at);
  // The gateway now keeps the token only as a hash. An edit sends the key without it (the API
  // keeps the stored token and the rotation): no token field, nothing read in clear.
  await clickListed(`tr[data-key="${KEY_ID}"] button[aria-label^="Edit"]`);
  await page.waitForSelector('dialog form.key-form #key-token-kept');
  assert.equal(await page.$('dialog [name="token"]'), null, 'the edit form has no token field');
  await fill(page, 'dialog [name="limits.rpm"]', '700');
  await page.click('#key-save');
  await page.waitForFunction(() => !document.querySelector('dialog'));
  const edited = (await adminGet('/admin/keys?id_prefix=' + KEY_ID))[0];
  assert.equal(edited.limits.rpm, 700);
  await waitText(page, `tr[data-key="${KEY_ID}"]`, (t) => t.includes('700 rpm'), 'the list shows the edit');
  assert.equal(edited.previous_token_expires_at, before.previous_token_expires_at, 'the rotation is kept');
  assert.equal((await chat(rotated)).status, 200, 'the edit kept the token');
  assert.equal((await chat(keyToken)).status, 200, 'and the old one\'s grace period');
  // Disable: one click, no dialog, no token asked.
  await clickListed(`button[data-action="toggle"][data-key="${KEY_ID}"]`);
  await waitText(page, `tr[data-key="${KEY_ID}"]`, (t) => t.includes('disabled'), 'disabled badge');
  assert.equal(await page.$('dialog'), null, 'no dialog: nothing asked');
  for (const t of [rotated, keyToken]) {
    const r = await chat(t);
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /disabled/);
  }
  assert.ok(!requestUrls.some((u) => u.includes('include_tokens')), 'the console never reads a token in clear');
  keyToken = rotated;
});

test('backends: breaker state and reset', STEP, async () => {
  await gotoPage(page, 'backends');
  await page.waitForSelector('tr[data-backend] [data-reset]');
  const name = await page.$eval('tr[data-backend]', (e) => e.dataset.backend);
  await clickListed(`[data-reset="${name}"]`);
  await waitText(page, '#toasts', (t) => t.includes(name + ' reset'), 'reset toast');
  const audit = await adminGet('/admin/audit?limit=5');
  assert.ok(audit.some((r) => r.kind === 'admin.backend.reset' && r.payload.backend === name));
  await shot(page, SHOTS, 'backends.png');
});

test('keyboard: the tabs are buttons with arrow keys; phone width has no sideways scroll', STEP, async () => {
  await gotoPage(page, 'keys');
  await page.focus('#tab-keys');
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => document.activeElement.id === 'tab-spend' && document.activeElement.getAttribute('aria-selected') === 'true');
  await page.keyboard.press('End');
  await page.waitForFunction(() => document.activeElement.id === 'tab-backends');
  await page.keyboard.press('Home');
  await page.waitForFunction(() => document.activeElement.id === 'tab-keys' && location.hash === '#keys');
  const tabs = await page.$$eval('[role="tab"]', (t) => t.map((e) => e.tagName));
  assert.ok(tabs.every((t) => t === 'BUTTON'));
  // A visible focus ring on a focused control.
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none');

  await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  for (const name of ['keys', 'spend', 'live', 'audit', 'config', 'backends']) {
    await gotoPage(page, name);
    await sleep(400);
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w <= 392, `${name}: ${w} px wide at a 390 px viewport`);
  }
  await gotoPage(page, 'keys');
  await page.waitForSelector('tr[data-key]');
  await shot(page, SHOTS, 'keys-phone.png');
  await page.setViewport({ width: 1280, height: 800 });
});

test('a read token: its role shown, no change button on any page', STEP, async (t) => {
  if (!READ_TOKEN) {
    t.skip('DITTO_READ_TOKEN is not set');
    return;
  }
  await page.click('#signout');
  await focusTokenField();
  await page.keyboard.type(READ_TOKEN);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#main tr[data-key]');
  assert.deepEqual(await page.$eval('#who', (e) => ({ text: e.textContent, role: e.dataset.role })), { text: 'Admin · read-only', role: 'read' });
  assert.equal(await page.$('#new-key'), null, 'no New key');
  assert.equal(await page.$$eval('#main tr[data-key] button', (b) => b.length), 0, 'no Edit, Disable, Rotate or Delete');
  assert.ok((await page.$$('#main tr[data-key]')).length >= 4, 'every key is listed');
  assert.match(await page.$eval('#main .notice', (e) => e.textContent), /read-only/, 'the page says why');
  // A canary running (started with the admin token): shown, with no Start, Promote or Roll back.
  const startCanary = await fetch(GATEWAY + '/admin/config/canary', {
    method: 'PUT', headers: { Authorization: 'Bearer ' + ADMIN, 'Content-Type': 'application/json' },
    body: JSON.stringify({ percent: 25, router: { default_backends: [{ backend: 'mock', weight: 3 }] } }),
  });
  assert.equal(startCanary.status, 200);
  try {
    await gotoPage(page, 'config');
    await page.waitForSelector('tr[data-version]');
    assert.equal((await page.$$('[data-rollback]')).length, 0, 'no Roll back');
    assert.ok(await page.$('#diff-show'), 'the diff is a read');
    await page.waitForSelector('#canary-state [data-state="running"]');
    assert.equal(await page.$eval('#canary-percent-shown', (e) => e.textContent), '25 %');
    assert.ok(await page.$('#canary-router'), 'the candidate is shown');
    for (const sel of ['#canary-form', '#canary-start', '#canary-promote', '#canary-rollback']) assert.equal(await page.$(sel), null, 'no ' + sel);
    const refused = await fetch(GATEWAY + '/admin/config/canary/promote', { method: 'POST', headers: { Authorization: 'Bearer ' + READ_TOKEN } });
    assert.ok(refused.status === 401 || refused.status === 403, 'a read token\'s promote: ' + refused.status);
  } finally {
    await fetch(GATEWAY + '/admin/config/canary', { method: 'DELETE', headers: { Authorization: 'Bearer ' + ADMIN } });
  }
  assert.equal((await fetch(GATEWAY + '/admin/config/canary', { headers: { Authorization: 'Bearer ' + ADMIN } })).status, 404, 'no canary left running');
  await gotoPage(page, 'backends');
  await page.waitForSelector('tr[data-backend]');
  assert.equal((await page.$$('[data-reset]')).length, 0, 'no Reset');
  await gotoPage(page, 'audit');
  await page.waitForSelector('tr[data-kind]');
  assert.ok(await page.$('#export-audit'), 'the export is a read');
  // The API refuses a change from this token whatever the page shows.
  const res = await fetch(GATEWAY + '/admin/keys/' + KEY_ID, {
    method: 'PUT', headers: { Authorization: 'Bearer ' + READ_TOKEN, 'Content-Type': 'application/json' },
    body: JSON.stringify({ id: KEY_ID, enabled: true }),
  });
  assert.ok(res.status === 401 || res.status === 403, 'a read token\'s PUT: ' + res.status);
  await gotoPage(page, 'keys');
  await page.waitForSelector('#main tr[data-key]');
  await shot(page, SHOTS, 'keys-read.png');
});

test('sign out, then a tenant token sees only its tenant', STEP, async () => {
  await page.click('#signout');
  await page.waitForSelector('#signin-form');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'sign-out clears the token');
  // Keyboard only: the token field has the focus (or is next after the SSO button), Enter submits.
  await focusTokenField();
  await page.keyboard.type(TENANT_TOKEN);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#main tr[data-key]');
  const all = await adminGet('/admin/keys');
  const others = all.filter((k) => k.tenant_id !== TENANT).map((k) => k.id);
  const otherTenant = all.find((k) => k.tenant_id && k.tenant_id !== TENANT)?.tenant_id;
  assert.ok(others.length > 0, 'the gateway has keys of another tenant');
  const shown = await page.$$eval('#main tr[data-key]', (r) => r.map((e) => e.dataset.key));
  const mine = all.filter((k) => k.tenant_id === TENANT).map((k) => k.id);
  assert.deepEqual(shown.sort(), mine.sort());
  for (const id of others) assert.ok(!shown.includes(id), id + ' is another tenant\'s');
  assert.equal(await page.$eval('#tab-config', (e) => e.hidden), true);
  assert.equal(await page.$eval('#tab-backends', (e) => e.hidden), true);
  assert.deepEqual(await page.$eval('#who', (e) => ({ text: e.textContent, role: e.dataset.role })), { text: `Tenant ${TENANT} · write`, role: 'tenant_write' });
  assert.ok(await page.$('#new-key'), 'a tenant write token may create keys');
  await shot(page, SHOTS, 'keys-tenant.png');
  await gotoPage(page, 'spend');
  await page.waitForSelector('#ledgers tr[data-ledger], #ledgers .notice');
  const ledgers = await page.$$eval('tr[data-ledger]', (r) => r.map((e) => e.dataset.ledger));
  for (const id of others) assert.ok(!ledgers.includes(id), 'ledger of ' + id);
  // The API itself refuses, whatever the page shows.
  const res = await fetch(GATEWAY + '/admin/keys?tenant_id=' + encodeURIComponent(otherTenant), { headers: { Authorization: 'Bearer ' + TENANT_TOKEN } });
  assert.equal(res.status, 403);
});

test('no CSP violation, no page error, no token in any URL or console line', STEP, async () => {
  assert.deepEqual(problems, []);
  for (const t of [ADMIN, READ_TOKEN, TENANT_TOKEN, keyToken].filter(Boolean)) {
    assert.ok(!requestUrls.some((u) => u.includes(t)), 'a token in a request URL');
    assert.ok(!consoleText.some((c) => c.includes(t)), 'a token in the console');
  }
});
