// Asks tests/browser/oidc-idp.mjs (its /_test/token) for N tokens of one identity, one per line
// on stdout: bench/access.sh's "every request a new token" run.
//   node bench/mint-tokens.mjs IDP_URL N
const [idp, n] = [process.argv[2], Number(process.argv[3])];
const out = [];
for (let i = 0; i < n; i++) {
  const r = await fetch(idp + '/_test/token', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ sub: 'bench-user', email: 'bench@example.test', groups: ['bench'], jti: 'b' + i }),
  });
  out.push((await r.json()).access_token);
}
process.stdout.write(out.join('\n') + '\n');
