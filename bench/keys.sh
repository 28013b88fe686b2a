#!/usr/bin/env bash
# Start-up time, memory and per-request CPU with N virtual keys (docs/performance.md).
# Usage: bench/keys.sh N [seconds of load, default 5]. The config is generated: N keys, half of
# them with a tenant and a token budget, the last one used by the load. One run, bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:?usage: bench/keys.sh N [seconds]}"; secs="${2:-5}"
source bench/common.sh keys
UP=18401; GW=18403
python3 - "$n" "$UP" > "$work/gateway.json" <<'PY'
import json, sys
n, up = int(sys.argv[1]), sys.argv[2]
out = sys.stdout
out.write('{"backends":[{"name":"up","base_url":"http://127.0.0.1:%s"}],"virtual_keys":[' % up)
for i in range(n):
    budget = '{"total_tokens":1000000000000}' if i % 2 else '{}'
    tenant = ',"tenant_id":"t%d"' % (i % 1000) if i % 2 else ''
    out.write('%s{"id":"key-%d","token":"vk-%08d-bench"%s,"enabled":true,"limits":{},"budget":%s,'
              '"cache":{"enabled":false},"guardrails":{},"passthrough":{"allow":false,"bypass_cache":false}}'
              % ("," if i else "", i, i, tenant, budget))
out.write('],"router":{"default_backends":[{"backend":"up"}]}}')
PY
last=$(printf 'vk-%08d-bench' $((n - 1)))
body='{"id":"x","object":"chat.completion","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}'
mkdir -p "$work/up"
cat > "$work/up/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $work/up/nginx.pid; error_log stderr crit;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $work/up; keepalive_requests 1000000;
  server { listen 127.0.0.1:$UP; location / { default_type application/json; return 200 '$body'; } } }
NGINX
taskset -c 1 /usr/sbin/nginx -p "$work/up" -c "$work/up/nginx.conf" & pids+=("$!")
t0=$(date +%s%N)
taskset -c 0 build/src/ditto-gateway "$work/gateway.json" --listen 127.0.0.1:$GW --workers 1 \
  --log-level warn & gw=$!; pids+=("$gw")
until curl -sf -o /dev/null "http://127.0.0.1:$GW/ready"; do
  kill -0 "$gw" 2>/dev/null || { echo "keys.sh: the gateway exited" >&2; exit 1; }
  sleep 0.02
done
t1=$(date +%s%N)
rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$gw/status")
cat > "$work/load.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $last"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
LUA
# Warm-up, not counted: the first seconds after start-up still return the loader's memory
# (a million keys' parse) to the system, which is start-up cost, not per-request cost.
taskset -c 1 wrk -t1 -c32 -d3s -s "$work/load.lua" "http://127.0.0.1:$GW/v1/chat/completions" >/dev/null
c0=$(awk '{print $14+$15}' "/proc/$gw/stat")
reqs=$(taskset -c 1 wrk -t1 -c32 -d"${secs}s" -s "$work/load.lua" "http://127.0.0.1:$GW/v1/chat/completions" | awk '/requests in/ {print $1}')
c1=$(awk '{print $14+$15}' "/proc/$gw/stat")
awk -v n="$n" -v ms=$(((t1 - t0) / 1000000)) -v rss="$rss" -v mb=$(($(stat -c %s "$work/gateway.json") / 1048576)) \
    -v d=$((c1 - c0)) -v r="$reqs" -v hz="$(getconf CLK_TCK)" -v s="$secs" \
  'BEGIN {printf "%d keys (%d MB of gateway.json): ready in %d ms, RSS %d MB, %.0f requests/s, %.1f us CPU per request\n", n, mb, ms, rss, r / s, d / hz / r * 1e6}'
