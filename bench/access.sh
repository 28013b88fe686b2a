#!/usr/bin/env bash
# shellcheck disable=SC2154  # rps_<tag>, cpu_<tag>… are set by run()'s eval; work by common.sh
# What a client's JWT costs in place of a virtual key (docs/access.md, "Cost"; issue 26's target:
# <= 5 us per request with a cached key). The same method as bench/tracing.sh
# (../shared/design/BENCHMARKING.md): the gateway pinned to core 0 as users start it (default
# flags, one worker), wrk, the upstream and the identity provider on core 1, 64 connections,
# three interleaved rounds, medians.
#   key        Authorization: Bearer <virtual key>
#   jwt        the same request with one RS256 JWT (access.clients, a key template): verified
#              once, then remembered
#   jwt-new    every request a different JWT of the same identity (6000 of them, more than a
#              worker remembers): each pays the full check
#   nginx      nginx proxy_pass in front of the same upstream, for the ratio
# The identity provider is tests/browser/oidc-idp.mjs (Node), which mints the tokens.
# Usage: bench/access.sh [seconds-per-run, default 10]. Every process is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
source bench/common.sh access
scripts/deps.sh console >/dev/null  # Node.js, for the identity provider

UP=18301; NGX=18302; GW=18303
chat_body='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the benchmark upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":260,"completion_tokens":38,"total_tokens":298}}'
write_nginx_upstream "$work/up" $UP "$chat_body" ""
write_nginx_proxy "$work/ngx" $NGX $UP

start() { "$@" & pids+=($!); }
start taskset -c 1 node tests/browser/oidc-idp.mjs --audience ditto-clients --lifetime 900 2>"$work/idp.log"
for _ in $(seq 100); do grep -q 'listening on' "$work/idp.log" && break; sleep 0.1; done
idp=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/idp.log" | head -1)
cat > "$work/gateway.json" <<JSON
{"backends":[{"name":"up","base_url":"http://127.0.0.1:$UP"}],
 "virtual_keys":[{"id":"bench","token":"vk-bench"}],
 "router":{"default_backends":[{"backend":"up"}]},
 "access":{"clients":{"issuer":"$idp","audience":"ditto-clients",
   "templates":[{"when":{"claim":"groups","value":"bench"},"key":{"tenant_id":"bench","user_id":"{claim:email}"}}]}}}
JSON
start taskset -c 1 /usr/sbin/nginx -p "$work/up" -c "$work/up/nginx.conf"
start taskset -c 0 /usr/sbin/nginx -p "$work/ngx" -c "$work/ngx/nginx.conf"
start taskset -c 0 build/src/ditto-gateway "$work/gateway.json" --listen "127.0.0.1:$GW" \
  --workers 1 2>"$work/gateway.log"
gw_pid=${pids[-1]}
sleep 1
ngx_pid=$(pgrep -P "$(cat "$work/ngx/nginx.pid")" | head -1)
jwt=$(curl -s -X POST -H 'Content-Type: application/json' \
  -d '{"sub":"bench-user","email":"bench@example.test","groups":["bench"]}' "$idp/_test/token" |
  sed 's/.*"access_token":"\([^"]*\)".*/\1/')
echo "minting 6000 tokens..." >&2
taskset -c 1 node bench/mint-tokens.mjs "$idp" 6000 > "$work/tokens.txt"
for t in vk-bench "$jwt"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t" -H 'Content-Type: application/json' \
    -d '{"model":"gpt-4o-mini","messages":[]}' "http://127.0.0.1:$GW/v1/chat/completions")
  [[ $code == 200 ]] || { echo "bench: a warm-up request got $code" >&2; tail -5 "$work/gateway.log" >&2; exit 1; }
done

run() {  # NAME CONNS PORT PID TAG SCRIPT [ENV...]: wrk on core 1
  local name=$1 conns=$2
  shift 2
  wrk_measure "$name" 1 "$conns" "$@"
}

run "nginx proxy_pass, 64 conns" 64 $NGX "$ngx_pid" ngx bench/chat.lua
for r in 1 2 3; do
  run "gateway, virtual key, 64 conns" 64 $GW "$gw_pid" "key$r" bench/chat.lua
  run "gateway, one JWT, 64 conns" 64 $GW "$gw_pid" "jwt$r" bench/chat.lua DITTO_BENCH_TOKEN="$jwt"
  run "gateway, a new JWT each request, 64 conns" 64 $GW "$gw_pid" "new$r" bench/jwt-many.lua \
    DITTO_BENCH_TOKENS="$work/tokens.txt"
done
print_results
awk -v key="$(median "$cpu_key1" "$cpu_key2" "$cpu_key3")" \
  -v jwt="$(median "$cpu_jwt1" "$cpu_jwt2" "$cpu_jwt3")" \
  -v new="$(median "$cpu_new1" "$cpu_new2" "$cpu_new3")" \
  -v rkey="$(median "$rps_key1" "$rps_key2" "$rps_key3")" \
  -v rjwt="$(median "$rps_jwt1" "$rps_jwt2" "$rps_jwt3")" \
  -v rnew="$(median "$rps_new1" "$rps_new2" "$rps_new3")" -v ngx="$rps_ngx" 'BEGIN {
  printf "medians of 3: virtual key %.2f, one JWT %.2f, a new JWT each request %.2f us CPU per request\n", key, jwt, new
  printf "one JWT (remembered):   %+.2f us CPU per request vs a virtual key (target <= 5); throughput %.3f of the key\n", jwt - key, rjwt / rkey
  printf "a new JWT each request: %+.2f us CPU per request vs a virtual key; throughput %.3f of the key\n", new - key, rnew / rkey
  printf "gateway / nginx: virtual key %.2f, one JWT %.2f\n", rkey / ngx, rjwt / ngx
}'
