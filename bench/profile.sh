#!/usr/bin/env bash
# Instructions per request of the gateway's hot path, counted by callgrind (valgrind): unlike
# wall-clock numbers they repeat exactly for the same binary and traffic, whatever else the
# machine does, so a change can be judged on one run (docs/performance.md).
# Usage: bench/profile.sh [plain|governed|redis|hit|health|sse] [seconds, default 10]
#        TOOL=strace bench/profile.sh …   system calls per request (strace -c) instead
# (redis: the governed key on the Redis store, a redis-server of its own on a free port;
#  sse: a streamed answer from ditto-mock-upstream, counted per stream)
# Leaves the callgrind file in $OUT (default /tmp/ditto-profile) for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-plain}"; secs="${2:-10}"
out="${OUT:-/tmp/ditto-profile}"
scripts/deps.sh bench
if [[ "${TOOL:-callgrind}" != strace ]]; then
  command -v valgrind >/dev/null || { echo "profile.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
fi
scripts/build.sh >/dev/null
mkdir -p "$out"; rm -f "$out"/callgrind.*
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
UP=18201; GW=18203
body='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the benchmark upstream. This reply is fixed so that every proxy relays the same bytes, and it is about six hundred bytes long with the usage block below."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":260,"completion_tokens":38,"total_tokens":298},"system_fingerprint":"fp_bench_0001"}'
mkdir -p "$out/up/logs"
cat > "$out/up/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $out/up/nginx.pid; error_log $out/up/logs/error.log crit;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $out/up; keepalive_requests 1000000;
  server { listen 127.0.0.1:$UP; location / { default_type application/json; return 200 '$body'; } } }
NGINX
cat > "$out/gateway.json" <<JSON
{"backends":[{"name":"up","base_url":"http://127.0.0.1:$UP"}],
 "virtual_keys":[{"id":"bench","token":"vk-bench","enabled":true,"limits":{},"budget":{},
   "cache":{"enabled":true},"guardrails":{},"passthrough":{"allow":false,"bypass_cache":false}},
  {"id":"governed","token":"vk-gov","enabled":true,"limits":{"rpm":4000000000,"tpm":4000000000},
   "budget":{"total_tokens":1000000000000000,"total_usd_micros":1000000000000000},
   "cache":{"enabled":false},"guardrails":{},"passthrough":{"allow":false,"bypass_cache":false}}],
 "router":{"default_backends":[{"backend":"up"}]}}
JSON
echo '{"gpt-4o-mini":{"input_cost_per_token":1.5e-7,"output_cost_per_token":6e-7}}' > "$out/pricing.json"
extra=(); script=bench/chat.lua; url="http://127.0.0.1:$GW/v1/chat/completions"
case "$what" in
  plain) ;;
  governed) script=bench/chat-gov.lua ;;
  redis) script=bench/chat-gov.lua
    rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --logfile "" >/dev/null & pids+=($!)
    for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
    extra=(--redis "redis://127.0.0.1:$rport" --redis-prefix profile) ;;
  hit) extra=(--proxy-cache) ;;
  health) script=bench/get.lua; url="http://127.0.0.1:$GW/health" ;;
  sse) script=bench/sse-gw.lua; MOCK=18204
    build/src/ditto-mock-upstream --listen "127.0.0.1:$MOCK" --workers 1 2>/dev/null & pids+=($!)
    sed -i "s|\"backends\":\[|\"backends\":[{\"name\":\"mock\",\"base_url\":\"http://127.0.0.1:$MOCK/v1\"},|; s|\"default_backends\":\[{\"backend\":\"up\"}\]|\"default_backends\":[{\"backend\":\"up\"}],\"rules\":[{\"model_prefix\":\"sse-\",\"backend\":\"mock\"}]|" "$out/gateway.json" ;;
  *) echo "profile.sh: unknown case '$what' (plain|governed|redis|hit|health|sse)" >&2; exit 2 ;;
esac
/usr/sbin/nginx -p "$out/up" -c "$out/up/nginx.conf" & pids+=($!)
gw=${#pids[@]}
gateway=(build/src/ditto-gateway "$out/gateway.json" --listen "127.0.0.1:$GW" --workers 1
  --log-level warn --pricing-litellm "$out/pricing.json" "${extra[@]}")
if [[ "${TOOL:-callgrind}" == strace ]]; then
  # System calls per request instead (issue 21's strace target): the gateway runs natively
  # and `strace -c` counts its calls over the measured window only.
  command -v strace >/dev/null || { echo "profile.sh: needs strace (apt-get install strace)" >&2; exit 1; }
  "${gateway[@]}" 2>"$out/gateway.log" & pids+=($!)
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$GW/health" && break; sleep 0.2; done
  timeout 30 wrk -t1 -c8 -d3s -s "$script" "$url" >/dev/null
  strace -c -f -p "${pids[$gw]}" -o "$out/strace.txt" & tracer=$!
  sleep 1  # strace attaches to every thread before the window starts
  n=$(timeout $((secs + 30)) wrk -t1 -c8 -d"${secs}s" -s "$script" "$url" | awk '/requests in/ {print $1}')
  kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true
  awk -v n="$n" -v w="$what" 'BEGIN {printf "%s: %d requests; system calls per request:\n", w, n}
    $NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ {printf "  %-18s %.2f\n", $NF, $4 / n}' "$out/strace.txt"
  exit 0
fi
valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.%p" "${gateway[@]}" \
  2>"$out/valgrind.log" & pids+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$GW/health" && break; sleep 0.2; done
# Warm-up (pools, caches, first-time allocations), then count only the measured window.
timeout 30 wrk -t1 -c8 -d3s -s "$script" "$url" >/dev/null
callgrind_control -z "${pids[$gw]}" >/dev/null 2>&1
n=$(timeout $((secs + 30)) wrk -t1 -c8 -d"${secs}s" -s "$script" "$url" | awk '/requests in/ {print $1}')
callgrind_control -d "${pids[$gw]}" >/dev/null 2>&1
# shellcheck disable=SC2012  # the newest of callgrind's own file names, which have no odd characters
file=$(ls -t "$out"/callgrind.*.1 | head -1)
total=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
awk -v t="$total" -v n="$n" -v w="$what" 'BEGIN {printf "%s: %d requests, %.0f instructions per request\n", w, n, t / n}'
echo "profile: callgrind_annotate --inclusive=yes $file | less"
