// A fake OpenID Connect identity provider for the console's single sign-on test
// (tests/browser/console-sso.test.mjs, started by scripts/console-check.sh). node:http and
// node:crypto only. It implements just what an authorization-code + PKCE (S256) client and a
// resource server (the gateway) need, and checks what a real provider checks:
//
//   GET  /.well-known/openid-configuration   issuer, endpoints, jwks_uri
//   GET  /jwks                               one RSA key made at start (kid, alg RS256, use sig)
//   GET  /authorize                          response_type=code, client_id, redirect_uri (the one
//                                            configured), scope with openid, state,
//                                            code_challenge (S256 only); signs in "the current
//                                            user" at once and 302s to redirect_uri?code&state&iss
//                                            (or ?error=access_denied&state when the user denies)
//   POST /token                              grant_type=authorization_code, the code (single use,
//                                            60 s), client_id, redirect_uri and the PKCE verifier
//                                            (BASE64URL(SHA-256(code_verifier)) == code_challenge);
//                                            answers {access_token, token_type, expires_in,
//                                            id_token, scope}; CORS for the redirect URI's origin
//                                            (OPTIONS preflights answered)
//   GET  /logout                             end_session_endpoint: 302 to post_logout_redirect_uri
//                                            when it is the configured redirect URI
//
// and, for the test (loopback only, as the whole server):
//
//   POST /_test/client  {"redirect_uri": "...", "client_id"?: "..."}     the registered client
//   POST /_test/user    {"sub", "email"?, "groups"?, "deny"?, "ttl_seconds"?, "tamper_state"?,
//                        "claims"?}                                      who signs in next
//   POST /_test/token   {claims…}  → {"access_token"}: a token signed by this provider with
//                        the usual claims (iss, aud, iat, nbf, exp, azp) unless given (for curl
//                        tests of the gateway's Admin API); "ttl_seconds" as above
//   GET  /_test/log     what happened: authorize, token (each exchange's outcome), logout
//
// The access token is an RS256 JWT: {iss, aud: AUDIENCE, sub, email, groups, iat, nbf, exp, azp:
// CLIENT_ID, client_id, scope, jti}; the ID token has aud CLIENT_ID and the request's nonce.
//
//   node oidc-idp.mjs [--audience ditto-gateway] [--client-id ditto-console] [--redirect-uri URI]
//                     [--lifetime SECONDS]
//
// Listens on 127.0.0.1, a port chosen by the system, and prints "oidc-idp: listening on
// http://127.0.0.1:PORT" on stderr (scripts/checks-common.sh's port_of reads it). Exits after
// --lifetime seconds (600) and on SIGTERM or SIGINT.
import http from 'node:http';
import crypto from 'node:crypto';

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const AUDIENCE = arg('audience', 'ditto-gateway');
const LIFETIME_S = Number(arg('lifetime', '600'));
const client = { id: arg('client-id', 'ditto-console'), redirectUri: arg('redirect-uri', null) };
const CODE_TTL_MS = 60_000;

const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const KID = 'fake-' + crypto.randomBytes(6).toString('hex');
const JWK = { ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' };

let issuer = null; // http://127.0.0.1:PORT, once listening
let user = { sub: 'user-1', email: 'user@example.test', groups: [] };
const codes = new Map(); // code → {clientId, redirectUri, challenge, nonce, scope, user, expires}
const log = { authorize: [], token: [], logout: 0 };

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function sign(claims) {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: KID }));
  const body = b64url(JSON.stringify(claims));
  const sig = crypto.sign('sha256', Buffer.from(header + '.' + body), privateKey);
  return header + '.' + body + '.' + b64url(sig);
}

// iat/nbf/exp for a lifetime: a negative one gives a token already expired (iat and nbf before).
function times(ttl) {
  const t = now();
  const exp = t + ttl;
  const iat = ttl > 0 ? t : exp - 300;
  return { iat, nbf: iat, exp };
}

function accessToken(u, scope) {
  const ttl = Number.isFinite(u.ttl_seconds) ? u.ttl_seconds : 300;
  const claims = {
    iss: issuer, aud: AUDIENCE, sub: u.sub, ...times(ttl), azp: client.id, client_id: client.id,
    scope, jti: b64url(crypto.randomBytes(12)),
  };
  if (u.email !== undefined) claims.email = u.email;
  if (u.groups !== undefined) claims.groups = u.groups;
  Object.assign(claims, u.claims || {});
  return { token: sign(claims), ttl };
}

function idToken(u, nonce) {
  const claims = { iss: issuer, aud: client.id, sub: u.sub, ...times(300), azp: client.id };
  if (nonce) claims.nonce = nonce;
  if (u.email !== undefined) claims.email = u.email;
  return sign(claims);
}

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function redirect(res, location) {
  res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
}

function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// CORS for the token endpoint: the registered client's origin only (a browser elsewhere cannot
// read the answer).
function cors(req) {
  const origin = req.headers.origin;
  if (!origin || !client.redirectUri || origin !== new URL(client.redirectUri).origin) return {};
  return { 'access-control-allow-origin': origin, vary: 'Origin' };
}

const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

function authorize(res, q) {
  const p = Object.fromEntries(q);
  const entry = { client_id: p.client_id, redirect_uri: p.redirect_uri, outcome: null };
  log.authorize.push(entry);
  // A wrong client or redirect URI is never redirected to (RFC 6749 §4.1.2.1).
  if (p.client_id !== client.id) return send(res, 400, (entry.outcome = 'unknown client_id'));
  if (!client.redirectUri || p.redirect_uri !== client.redirectUri) {
    return send(res, 400, (entry.outcome = 'redirect_uri is not the registered one'));
  }
  const back = (params) => {
    const u = new URL(client.redirectUri);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
    redirect(res, u.href);
  };
  const fail = (error, description) => {
    entry.outcome = error + ': ' + description;
    back({ error, error_description: description, state: p.state, iss: issuer });
  };
  if (p.response_type !== 'code') return fail('unsupported_response_type', 'response_type must be code');
  if (!(p.scope || '').split(' ').includes('openid')) return fail('invalid_scope', 'scope must include openid');
  if (!p.state) return fail('invalid_request', 'state is required');
  if (p.code_challenge_method !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256');
  if (!CHALLENGE.test(p.code_challenge || '')) return fail('invalid_request', 'code_challenge must be BASE64URL(SHA-256(verifier))');
  if (user.deny) return fail('access_denied', 'The user refused to sign in to ditto-console');
  const code = b64url(crypto.randomBytes(32));
  codes.set(code, {
    clientId: p.client_id, redirectUri: p.redirect_uri, challenge: p.code_challenge, nonce: p.nonce || null,
    scope: p.scope, user: { ...user }, expires: Date.now() + CODE_TTL_MS,
  });
  entry.outcome = 'code';
  let state = p.state;
  if (user.tamper_state) {
    state = p.state + 'x';
    user.tamper_state = false; // once
  }
  back({ code, state, iss: issuer });
}

async function token(req, res) {
  const headers = cors(req);
  const entry = { outcome: null, origin: req.headers.origin || null };
  log.token.push(entry);
  const fail = (status, error, description) => {
    entry.outcome = error + ': ' + description;
    send(res, status, { error, error_description: description }, headers);
  };
  if (!/^application\/x-www-form-urlencoded\b/.test(req.headers['content-type'] || '')) {
    return fail(400, 'invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  const p = Object.fromEntries(new URLSearchParams(await readBody(req)));
  if (p.grant_type !== 'authorization_code') return fail(400, 'unsupported_grant_type', 'grant_type must be authorization_code');
  const c = codes.get(p.code || '');
  codes.delete(p.code || ''); // single use, whatever comes next
  if (!c) return fail(400, 'invalid_grant', 'unknown or already used code');
  if (Date.now() > c.expires) return fail(400, 'invalid_grant', 'the code expired');
  if (p.client_id !== c.clientId) return fail(400, 'invalid_client', 'client_id is not the one the code was issued to');
  if (p.redirect_uri !== c.redirectUri) return fail(400, 'invalid_grant', 'redirect_uri differs from the authorization request');
  if (!VERIFIER.test(p.code_verifier || '')) return fail(400, 'invalid_grant', 'code_verifier must be 43–128 unreserved characters');
  const challenge = b64url(crypto.createHash('sha256').update(p.code_verifier, 'ascii').digest());
  if (challenge !== c.challenge) return fail(400, 'invalid_grant', 'PKCE verification failed');
  const at = accessToken(c.user, c.scope);
  entry.outcome = 'ok';
  entry.sub = c.user.sub;
  send(res, 200, {
    access_token: at.token, token_type: 'Bearer', expires_in: Math.max(at.ttl, 0),
    id_token: idToken(c.user, c.nonce), scope: c.scope,
  }, { ...headers, pragma: 'no-cache' });
}

async function testControl(req, res, pathname) {
  let body = {};
  if (req.method === 'POST') {
    try {
      body = JSON.parse((await readBody(req)) || '{}');
    } catch {
      return send(res, 400, { error: 'invalid JSON' });
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) return send(res, 400, { error: 'a JSON object is expected' });
  }
  if (pathname === '/_test/client' && req.method === 'POST') {
    if (typeof body.redirect_uri !== 'string' || !/^https?:\/\//.test(body.redirect_uri)) {
      return send(res, 400, { error: 'redirect_uri: an http(s) URL is expected' });
    }
    client.redirectUri = body.redirect_uri;
    if (typeof body.client_id === 'string') client.id = body.client_id;
    return send(res, 200, { client_id: client.id, redirect_uri: client.redirectUri });
  }
  if (pathname === '/_test/user' && req.method === 'POST') {
    if (typeof body.sub !== 'string' || !body.sub) return send(res, 400, { error: 'sub: a string is expected' });
    if (body.groups !== undefined && !Array.isArray(body.groups) && typeof body.groups !== 'string') {
      return send(res, 400, { error: 'groups: an array or a string is expected' });
    }
    user = {
      sub: body.sub, email: body.email, groups: body.groups, deny: body.deny === true,
      ttl_seconds: Number.isFinite(body.ttl_seconds) ? body.ttl_seconds : undefined,
      tamper_state: body.tamper_state === true,
      claims: body.claims && typeof body.claims === 'object' ? body.claims : undefined,
    };
    return send(res, 200, { user });
  }
  if (pathname === '/_test/token' && req.method === 'POST') {
    const { ttl_seconds: ttl, ...claims } = body;
    const t = times(Number.isFinite(ttl) ? ttl : 300);
    return send(res, 200, { access_token: sign({ iss: issuer, aud: AUDIENCE, ...t, azp: client.id, ...claims }) });
  }
  if (pathname === '/_test/log' && req.method === 'GET') return send(res, 200, log);
  return send(res, 404, { error: 'not found' });
}

const loopback = (a) => a === '127.0.0.1' || a === '::1' || a === '::ffff:127.0.0.1';

const server = http.createServer(async (req, res) => {
  try {
    if (!loopback(req.socket.remoteAddress)) return send(res, 403, 'loopback only');
    const u = new URL(req.url, issuer);
    const route = req.method + ' ' + u.pathname;
    if (u.pathname.startsWith('/_test/')) return await testControl(req, res, u.pathname);
    switch (route) {
      case 'GET /.well-known/openid-configuration':
        return send(res, 200, {
          issuer,
          authorization_endpoint: issuer + '/authorize',
          token_endpoint: issuer + '/token',
          jwks_uri: issuer + '/jwks',
          end_session_endpoint: issuer + '/logout',
          response_types_supported: ['code'],
          grant_types_supported: ['authorization_code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['none'],
          scopes_supported: ['openid', 'profile', 'email'],
          claims_supported: ['sub', 'email', 'groups'],
          authorization_response_iss_parameter_supported: true,
        });
      case 'GET /jwks':
        return send(res, 200, { keys: [JWK] });
      case 'GET /authorize':
        return authorize(res, u.searchParams);
      case 'OPTIONS /token':
        res.writeHead(204, {
          ...cors(req), 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type, accept',
          'access-control-max-age': '600',
        });
        return res.end();
      case 'POST /token':
        return await token(req, res);
      case 'GET /logout': {
        log.logout++;
        const to = u.searchParams.get('post_logout_redirect_uri');
        const id = u.searchParams.get('client_id');
        if (to && to === client.redirectUri && (!id || id === client.id)) return redirect(res, to);
        return send(res, 200, 'Signed out.');
      }
      default:
        return send(res, 404, { error: 'not found' });
    }
  } catch (e) {
    if (!res.headersSent) send(res, 500, { error: String(e.message || e) });
    else res.destroy();
  }
});

server.listen(0, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  console.error(`oidc-idp: listening on ${issuer} (kid ${KID}, audience ${AUDIENCE}, client ${client.id})`);
});

const stop = () => {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setTimeout(stop, LIFETIME_S * 1000).unref();
