// What console.test.mjs and console-sso.test.mjs share: the browser, a watch on each page (CSP
// violations, page errors, console lines, requests) and the steps they take on a page. Nothing
// here keeps state: the page, and the arrays a watch fills, are the caller's.
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A reader of the environment for a test named `what`: the variable, else the fallback, else an
// error that names it.
export function envReader(what) {
  return (name, fallback) => {
    const v = process.env[name] ?? fallback;
    if (v === undefined) throw new Error(`${what}: ${name} is not set`);
    return v;
  };
}

// Debian's chromium, headless, with its profile in the directory `profile` (nothing downloaded).
export function launchBrowser(executablePath, profile) {
  return puppeteer.launch({
    executablePath,
    headless: true,
    protocolTimeout: 30_000,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--user-data-dir=' + profile],
  });
}

// Records what page p does: CSP violations and page errors (and console errors that are a CSP's)
// in `problems`, every console line in `consoleText`, every request's URL in `requestUrls`, then
// onRequest(request) when given.
export async function watch(p, { problems, consoleText, requestUrls, onRequest }) {
  // Reported through a binding, so violations survive reloads and navigations.
  await p.exposeFunction('__dittoCspViolation', (v) => problems.push('CSP: ' + v));
  await p.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__dittoCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  p.on('pageerror', (e) => problems.push('page error: ' + e.message));
  p.on('console', (m) => {
    consoleText.push(m.text());
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) problems.push('console: ' + m.text());
  });
  p.on('request', (r) => {
    requestUrls.push(r.url());
    if (onRequest) onRequest(r);
  });
}

// A screenshot of page p as dir/name (none when dir is empty).
export async function shot(p, dir, name) {
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  await sleep(150); // let the last paint settle
  await p.screenshot({ path: path.join(dir, name) });
}

// The console's page `name` (its tab selected, its heading drawn).
export async function gotoPage(p, name) {
  await p.evaluate((n) => { location.hash = n; }, name);
  await p.waitForFunction((n) => document.querySelector('#tab-' + n)?.getAttribute('aria-selected') === 'true', {}, name);
  await p.waitForSelector('#main .page-head');
}

// Text of the first element of page p matching sel, waiting until fn(text) holds. With
// skipHidden an element with the hidden attribute counts as none.
export async function waitText(p, sel, fn, what, { timeout = 10_000, skipHidden = false } = {}) {
  const end = Date.now() + timeout;
  let last = null;
  while (Date.now() < end) {
    last = await p.$eval(sel, (e, skip) => (skip && e.hidden ? null : e.textContent), skipHidden).catch(() => null);
    if (last !== null && fn(last)) return last;
    await sleep(100);
  }
  throw new Error(`${what}: ${sel} is ${JSON.stringify(last)}`);
}

// Types value into the field sel of page p, emptied first (with the input event the page listens to).
export async function fill(p, sel, value) {
  await p.$eval(sel, (e) => {
    e.value = '';
    e.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await p.type(sel, value);
}
