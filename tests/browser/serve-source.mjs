// The console of src/console/ in front of a running gateway, for scripts/console-check.sh when
// the gateway binary was built before the console's latest edits (the console is compiled into
// the binary at configure time, so testing an edit would otherwise need a C++ build).
//
//   node serve-source.mjs GATEWAY_URL CONSOLE_DIR
//
// Listens on 127.0.0.1 (a port chosen by the system; "listening on http://127.0.0.1:PORT" on
// stderr) and forwards every request to the gateway as it is, except GET/HEAD /ui/NAME for a file
// of CONSOLE_DIR: that answer is the file on disk (gzip-compressed when accepted and smaller,
// with an ETag and 304s, like the binary), under the security headers the gateway itself sends on
// /ui/ (CSP, X-Frame-Options, …), copied from its answer to the same path. Same origin, so the
// page talks to the real Admin API. For tests only: it adds nothing the gateway does not have.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import zlib from 'node:zlib';

const [gatewayArg, dirArg] = process.argv.slice(2);
if (!gatewayArg || !dirArg) {
  console.error('usage: node serve-source.mjs GATEWAY_URL CONSOLE_DIR');
  process.exit(2);
}
const gateway = new URL(gatewayArg);
const root = path.resolve(dirArg);

// As cmake/DittoConsole.cmake: which files are assets, and their types.
const EXCLUDED = /^(node_modules\/|package\.json$|package-lock\.json$|README\.md$)/;
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json',
  '.ico': 'image/x-icon',
};
const SECURITY = ['content-security-policy', 'x-frame-options', 'x-content-type-options', 'referrer-policy',
  'cross-origin-opener-policy', 'cross-origin-resource-policy', 'cache-control'];

const assets = new Map(); // name → {raw, gz, etag, type}, read once (the test does not edit files)
function asset(name) {
  if (assets.has(name)) return assets.get(name);
  let a = null;
  if (/^[A-Za-z0-9._/-]+$/.test(name) && !name.split('/').includes('..') && !EXCLUDED.test(name)) {
    const file = path.join(root, name);
    if (file.startsWith(root + path.sep) && fs.existsSync(file) && fs.statSync(file).isFile()) {
      const raw = fs.readFileSync(file);
      const gz = zlib.gzipSync(raw, { level: 9 });
      a = {
        raw,
        gz: gz.length < raw.length ? gz : null,
        etag: '"' + crypto.createHash('sha256').update(raw).digest('hex').slice(0, 20) + '"',
        type: TYPES[path.extname(name).toLowerCase()] || 'text/plain; charset=utf-8',
      };
    }
  }
  assets.set(name, a);
  return a;
}

// The gateway's own headers for PATH (its answer's body is dropped).
function gatewayHeaders(p) {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: gateway.hostname, port: gateway.port, method: 'GET', path: p, headers: { 'accept-encoding': 'identity' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers));
    });
    r.on('error', reject);
    r.end();
  });
}

function forward(req, res) {
  const up = http.request({ host: gateway.hostname, port: gateway.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
    res.writeHead(r.statusCode, r.rawHeaders);
    r.pipe(res);
  });
  up.on('error', (e) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('serve-source: the gateway did not answer: ' + e.message);
  });
  req.pipe(up);
}

const server = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, 'http://x');
  const name = pathname === '/ui/' ? 'index.html' : pathname.startsWith('/ui/') ? pathname.slice(4) : null;
  const a = name !== null && (req.method === 'GET' || req.method === 'HEAD') ? asset(name) : null;
  if (!a) {
    forward(req, res);
    return;
  }
  let secure;
  try {
    secure = await gatewayHeaders(pathname);
  } catch (e) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('serve-source: the gateway did not answer: ' + e.message);
    return;
  }
  const headers = {};
  for (const h of SECURITY) if (secure[h] !== undefined) headers[h] = secure[h];
  if (!headers['content-security-policy']) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('serve-source: the gateway sent no Content-Security-Policy on ' + pathname);
    return;
  }
  headers.etag = a.etag;
  if ((req.headers['if-none-match'] || '').split(',').map((t) => t.trim().replace(/^W\//, '')).includes(a.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const gzip = a.gz && /(^|,)\s*(gzip|\*)\s*(,|;|$)/i.test(req.headers['accept-encoding'] || '');
  const body = gzip ? a.gz : a.raw;
  headers['content-type'] = a.type;
  headers['content-length'] = body.length;
  headers.vary = 'Accept-Encoding';
  if (gzip) headers['content-encoding'] = 'gzip';
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
});
server.listen(0, '127.0.0.1', () => {
  console.error(`serve-source: listening on http://127.0.0.1:${server.address().port}, ${root} in front of ${gateway.origin}`);
});
