#!/usr/bin/env bash
# shellcheck disable=SC2154  # rps_<tag>, cpu_<tag>… are set by run()'s eval; work by common.sh
# What tracing costs (docs/observability.md, "Tracing"; issue 24's targets: <= 2 us of CPU per
# request sampled at 1.0, and no request slower while the collector is down). One run each, the
# same method as bench/run.sh (../shared/design/BENCHMARKING.md): the gateway under test pinned
# to core 0, wrk, the upstream and the collector on core 1, 64 connections, then 1 connection
# with everything on core 1 for latency.
#   off      the gateway as users start it (default flags, one worker), no --otel-endpoint
#   on       the same with --otel-endpoint to a collector that answers 200 (nginx), rate 1.0
#   down     the same with --otel-endpoint to a closed port: every export fails
#   nginx    nginx proxy_pass in front of the same upstream, for the ratio
# CPU per request is the gateway process's user+system time over the requests served; the
# exporter runs in it (its background thread), so the encoding and the POSTs are counted.
# Usage: bench/tracing.sh [seconds-per-run, default 10]. Every process is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
source bench/common.sh tracing

UP=18201; NGX=18202; COL=18203; OFF=18204; ON=18205; DOWN=18206; CLOSED=18207
chat_body='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the benchmark upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":260,"completion_tokens":38,"total_tokens":298}}'
write_nginx_upstream "$work/up" $UP "$chat_body" \
  "server { listen 127.0.0.1:$COL reuseport backlog=4096; access_log $work/up/logs/col.log;
    location /v1/traces { default_type application/json; return 200 '{}'; } }"
write_nginx_proxy "$work/ngx" $NGX $UP
cat > "$work/gateway.json" <<JSON
{"backends":[{"name":"up","base_url":"http://127.0.0.1:$UP"}],
 "virtual_keys":[{"id":"bench","token":"vk-bench","enabled":true,"limits":{},"budget":{},
   "cache":{"enabled":false},"guardrails":{},"passthrough":{"allow":false,"bypass_cache":false}}],
 "router":{"default_backends":[{"backend":"up"}]}}
JSON

start() { "$@" & pids+=($!); }
start taskset -c 1 /usr/sbin/nginx -p "$work/up" -c "$work/up/nginx.conf"
start taskset -c 0 /usr/sbin/nginx -p "$work/ngx" -c "$work/ngx/nginx.conf"
gateway() {  # PORT LOG [ARGS...]: the gateway as users start it, access log to a file
  local port=$1 log=$2
  shift 2
  start taskset -c 0 build/src/ditto-gateway "$work/gateway.json" --listen "127.0.0.1:$port" \
    --workers 1 "$@" 2>"$work/$log"
}
gateway $OFF off.log
gateway $ON on.log --otel-endpoint "http://127.0.0.1:$COL"
gateway $DOWN down.log --otel-endpoint "http://127.0.0.1:$CLOSED"
sleep 1
off_pid=${pids[2]}; on_pid=${pids[3]}; down_pid=${pids[4]}
ngx_pid=$(pgrep -P "$(cat "$work/ngx/nginx.pid")" | head -1)

run() {  # NAME CORE CONNS PORT PID TAG
  wrk_measure "$@" bench/chat.lua
}

# A traced request reaches the collector before the numbers count.
curl -s -o /dev/null -H 'Authorization: Bearer vk-bench' -H 'Content-Type: application/json' \
  -d '{"model":"gpt-4o-mini","messages":[]}' "http://127.0.0.1:$ON/v1/chat/completions"
run "nginx proxy_pass, 64 conns" 1 64 $NGX "$ngx_pid" ngx
# Three rounds, the variants interleaved: single runs on these VMs move by 5-15%, the median of
# each variant's CPU per request much less.
for r in 1 2 3; do
  run "gateway, tracing off, 64 conns" 1 64 $OFF "$off_pid" "off$r"
  run "gateway, tracing on (1.0), 64 conns" 1 64 $ON "$on_pid" "on$r"
  run "gateway, collector down, 64 conns" 1 64 $DOWN "$down_pid" "down$r"
done
for p in "$off_pid" "$on_pid" "$down_pid"; do taskset -apc 1 "$p" >/dev/null; done
run "gateway, tracing off, 1 conn" 1 1 $OFF "$off_pid" off1c
run "gateway, tracing on (1.0), 1 conn" 1 1 $ON "$on_pid" on1c
run "gateway, collector down, 1 conn" 1 1 $DOWN "$down_pid" down1c

print_results
awk -v off="$(median "$cpu_off1" "$cpu_off2" "$cpu_off3")" \
  -v on="$(median "$cpu_on1" "$cpu_on2" "$cpu_on3")" \
  -v down="$(median "$cpu_down1" "$cpu_down2" "$cpu_down3")" \
  -v roff="$(median "$rps_off1" "$rps_off2" "$rps_off3")" \
  -v ron="$(median "$rps_on1" "$rps_on2" "$rps_on3")" \
  -v rdown="$(median "$rps_down1" "$rps_down2" "$rps_down3")" -v ngx="$rps_ngx" \
  -v c1off="$cpu_off1c" -v c1on="$cpu_on1c" -v c1down="$cpu_down1c" \
  -v p50off="$p50_off1c" -v p50on="$p50_on1c" -v p50down="$p50_down1c" \
  -v p99off="$p99_off1c" -v p99on="$p99_on1c" -v p99down="$p99_down1c" 'BEGIN {
  printf "medians of 3 at 64 conns: off %.2f, on %.2f, down %.2f us CPU per request\n", off, on, down
  printf "tracing on:     +%.2f us CPU per request at 64 conns, +%.2f at 1 conn (target <= 2); throughput %.3f of off\n", on - off, c1on - c1off, ron / roff
  printf "collector down: +%.2f us CPU per request at 64 conns, +%.2f at 1 conn; throughput %.3f of off\n", down - off, c1down - c1off, rdown / roff
  printf "1 conn latency p50/p99: off %d/%d us, on %d/%d us, collector down %d/%d us\n", p50off, p99off, p50on, p99on, p50down, p99down
  printf "gateway (off) / nginx: %.2f, gateway (on) / nginx: %.2f\n", roff / ngx, ron / ngx
}'
sleep 1.5  # the exporter's last tick
echo "exports the collector answered: $(grep -c 'POST /v1/traces' "$work/up/logs/col.log" || true)"
echo "collector errors logged by the down gateway: $(grep -c trace.export_failed "$work/down.log" || true) (one a minute at most)"
