#!/usr/bin/env bash
# The operator console (docs/console.md) in a real browser: Debian's chromium, driven by
# puppeteer-core (pinned in tests/browser/package-lock.json; it downloads no browser), against
# the bundled mock upstream and a gateway with keys in two tenants, an admin token, a read token
# and a tenant token. tests/browser/console.test.mjs signs in, creates a key and uses it over
# HTTP, sees its spend, disables it (the client gets 401), pages and exports the audit log and
# verifies its chain, checks that a read token sees no change button and a tenant token only its
# tenant, and fails on any CSP violation or page error. It also
# checks the first load (≤ 150 KB on the wire, interactive within 1 s) and writes a screenshot of
# every page to docs/console/ (DITTO_SHOTS=DIR to put them elsewhere).
#
# Single sign-on: the gateway's "access.operators" trusts tests/browser/oidc-idp.mjs, a fake
# OpenID provider started here, and tests/browser/console-sso.test.mjs then signs in through it
# (authorization code + PKCE) as an admin, a viewer, an auditor and a tenant admin, and checks
# what each sees, the refusals (tampered state, denial, no role, expired) and sign-out. The
# static tokens stay configured (break-glass) and console.test.mjs runs with them as before.
# DITTO_CONSOLE_SSO=0 leaves single sign-on out (no provider, no "access", no SSO test).
#
#   bash scripts/console-check.sh
#
# Installs chromium, Node.js and npm (scripts/deps.sh console) when missing, and builds the two
# binaries when build/src has none (DITTO_BIN_DIR=DIR uses binaries from elsewhere). Everything
# listens on 127.0.0.1, port 0; every process is bounded in time and stopped on exit.
#
# The console is compiled into the binary, and the test is of the binary: when its /ui/ files
# differ from src/console/ (edited since the build) the check fails. For quick edits without a
# rebuild, DITTO_CONSOLE_DEV=1 runs the test against src/console/ served by
# tests/browser/serve-source.mjs in front of the same gateway (same origin, the gateway's own
# security headers) instead.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh console  # chromium, Node.js and npm

bin=${DITTO_BIN_DIR:-build/src}
if [[ ! -x $bin/ditto-gateway || ! -x $bin/ditto-mock-upstream ]]; then
  DITTO_TARGETS="ditto-gateway ditto-mock-upstream" scripts/build.sh >/dev/null
fi
(cd tests/browser && timeout 300 npm ci --no-audit --no-fund --loglevel=error)

source scripts/checks-common.sh console  # work, pids, cleanup, port_of
secret() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

# Tokens made for this run; the admin ones reach the gateway through its environment, not argv.
DITTO_CONSOLE_ADMIN=admin-$(secret)
DITTO_CONSOLE_READ=read-$(secret)
DITTO_CONSOLE_ACME=acme-$(secret)
export DITTO_CONSOLE_ADMIN DITTO_CONSOLE_READ DITTO_CONSOLE_ACME
vk_acme_app=vk-$(secret) vk_acme_batch=vk-$(secret) vk_globex_web=vk-$(secret) vk_globex_old=vk-$(secret)

# The identity provider first: the gateway fetches its discovery document and keys at start-up.
sso=${DITTO_CONSOLE_SSO:-1}
idp=
access=
if [[ $sso == 1 ]]; then
  timeout 600 node tests/browser/oidc-idp.mjs 2>"$work/idp.log" &
  pids+=($!)
  idp=http://127.0.0.1:$(port_of "$work/idp.log")
  # Groups (the provider's "groups" claim) to console roles.
  access='"access": {"operators": {"issuer": "'$idp'", "audience": "ditto-gateway", "client_id": "ditto-console",
    "roles_claim": "groups", "scopes": "openid profile email",
    "roles": {"ditto-admins": "admin", "acme-admins": "tenant-admin:acme", "ditto-viewers": "viewer",
              "finance": "auditor"}}},'
fi

# Two tenants: acme (a key with limits, a token budget and a tenant budget; one with a daily USD
# budget and an expiry) and globex (one key, and an old one disabled and expired).
cat >"$work/gateway.json" <<EOF
{
  $access
  "backends": [{"name": "mock", "base_url": "\${DITTO_MOCK_URL}",
                "headers": {"authorization": "Bearer sk-mock-upstream"}}],
  "virtual_keys": [
    {"id": "acme-app", "token": "$vk_acme_app", "tenant_id": "acme", "project_id": "search",
     "user_id": "ana", "limits": {"rpm": 6000, "tpm": 2000000}, "budget": {"total_tokens": 2000000},
     "tenant_budget": {"total_tokens": 10000000}},
    {"id": "acme-batch", "token": "$vk_acme_batch", "tenant_id": "acme", "project_id": "etl",
     "budget": {"total_usd_micros": 5000000, "period": "day"}, "expires_at": "2030-01-01T00:00:00Z"},
    {"id": "globex-web", "token": "$vk_globex_web", "tenant_id": "globex",
     "limits": {"rpm": 6000}, "budget": {"total_tokens": 500000}},
    {"id": "globex-old", "token": "$vk_globex_old", "tenant_id": "globex", "enabled": false,
     "expires_at": "2024-06-30T00:00:00Z"}
  ],
  "router": {"default_backends": [{"backend": "mock", "weight": 1.0}], "rules": []}
}
EOF
# Prices for the mock's model, so the USD budget and the spend charts have numbers.
cat >"$work/pricing.json" <<'EOF'
{"gpt-4o-mini": {"input_cost_per_token": 1.5e-7, "output_cost_per_token": 6e-7}}
EOF

timeout 600 "$bin/ditto-mock-upstream" --listen 127.0.0.1:0 --workers 1 2>"$work/mock.log" &
pids+=($!)
mock_port=$(port_of "$work/mock.log")
DITTO_MOCK_URL=http://127.0.0.1:$mock_port/v1 timeout 600 "$bin/ditto-gateway" "$work/gateway.json" \
  --listen 127.0.0.1:0 --workers 2 --admin-token-env DITTO_CONSOLE_ADMIN \
  --admin-read-token-env DITTO_CONSOLE_READ --admin-tenant-token-env acme=DITTO_CONSOLE_ACME \
  --prometheus-metrics --proxy-circuit-breaker --pricing-litellm "$work/pricing.json" 2>"$work/gateway.log" &
pids+=($!)
gateway=http://127.0.0.1:$(port_of "$work/gateway.log")

# The console is served by the binary (src/console/ compiled in) when an admin token is set.
ui_status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$gateway/ui/")
if [[ $ui_status != 200 ]]; then
  echo "console-check: $gateway/ui/ answered $ui_status: this ditto-gateway does not serve the console" >&2
  exit 1
fi

# Single sign-on: GET /admin/sso answers 503 until the gateway has the provider's discovery
# document, 404 when it has no "access.operators" (a binary from before single sign-on).
if [[ $sso == 1 ]]; then
  for ((i = 0; i < 100; i++)); do
    sso_status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$gateway/admin/sso")
    [[ $sso_status == 503 ]] || break
    sleep 0.1
  done
  if [[ $sso_status != 200 ]]; then
    echo "console-check: $gateway/admin/sso answered $sso_status: this ditto-gateway has no single sign-on (DITTO_CONSOLE_SSO=0 tests without it)" >&2
    exit 1
  fi
fi

# Is the binary's console the one in src/console/? (Every asset, byte for byte.)
ui=$gateway/ui/
stale=()
while IFS= read -r asset; do
  if ! cmp -s <(curl -s --max-time 5 "$gateway/ui/$asset") "src/console/$asset"; then stale+=("$asset"); fi
done < <(cd src/console && find . -type f ! -path './node_modules/*' ! -name package.json \
  ! -name package-lock.json ! -name README.md | sed 's|^\./||' | sort)
if ((${#stale[@]})); then
  echo "console-check: this ditto-gateway's console differs from src/console/ in ${stale[*]}: rebuild it to embed them" >&2
  if [[ ${DITTO_CONSOLE_DEV:-0} != 1 ]]; then exit 1; fi
  timeout 600 node tests/browser/serve-source.mjs "$gateway" src/console 2>"$work/source.log" &
  pids+=($!)
  ui=http://127.0.0.1:$(port_of "$work/source.log")/ui/
  echo "console-check: testing src/console/ as served by tests/browser/serve-source.mjs at $ui (in front of $gateway)" >&2
fi
echo "console-check: gateway $gateway, mock on port $mock_port${idp:+, identity provider $idp}, $(/usr/bin/chromium --version 2>/dev/null), node $(node --version)" >&2

start=$SECONDS
status=0
(cd tests/browser && DITTO_GATEWAY=$gateway DITTO_UI=$ui DITTO_ADMIN_TOKEN=$DITTO_CONSOLE_ADMIN \
  DITTO_READ_TOKEN=$DITTO_CONSOLE_READ DITTO_TENANT=acme DITTO_TENANT_TOKEN=$DITTO_CONSOLE_ACME \
  DITTO_TRAFFIC_KEYS="$vk_acme_app,$vk_acme_batch,$vk_globex_web" DITTO_IDP=$idp \
  timeout 300 node --test console.test.mjs) || status=$?
# Single sign-on after it (one browser at a time; its changes come after the audit paging steps).
if ((status == 0)) && [[ $sso == 1 ]]; then
  (cd tests/browser && DITTO_GATEWAY=$gateway DITTO_UI=$ui DITTO_ADMIN_TOKEN=$DITTO_CONSOLE_ADMIN \
    DITTO_TENANT=acme DITTO_IDP=$idp timeout 240 node --test console-sso.test.mjs) || status=$?
fi
if ((status != 0)); then
  echo "console-check: FAILED after $((SECONDS - start)) s; the gateway's log:" >&2
  tail -n 40 "$work/gateway.log" >&2
  exit "$status"
fi
echo "console-check: passed in $((SECONDS - start)) s" >&2
