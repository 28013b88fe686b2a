#!/usr/bin/env bash
# How the gateway's cost grows, against nginx on the same upstreams (docs/performance.md):
# request body size, SSE stream length, and worker count. One run, ratios and CPU per request;
# the proxy under test on core 0, wrk and the upstreams on core 1 (../shared/design/BENCHMARKING.md).
# Usage: bench/scale.sh [seconds per run, default 5]. Bounded; stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
source bench/common.sh scale
MOCK=18601; NGX=18602; GW=18603; GW2=18604
mkdir -p "$work/ngx/logs"
cat > "$work/ngx/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $work/ngx/nginx.pid; error_log $work/ngx/logs/error.log crit;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $work/ngx; proxy_temp_path $work/ngx;
  keepalive_requests 1000000; client_max_body_size 8m; client_body_buffer_size 1m;
  upstream mock { server 127.0.0.1:$MOCK; keepalive 128; }
  server { listen 127.0.0.1:$NGX;
    location / { proxy_pass http://mock; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_buffering off; } } }
NGINX
cat > "$work/gateway.json" <<JSON
{"backends":[{"name":"mock","base_url":"http://127.0.0.1:$MOCK/v1"}],
 "virtual_keys":[{"id":"bench","token":"vk-bench","enabled":true,"limits":{},"budget":{},
   "cache":{"enabled":false},"guardrails":{},"passthrough":{"allow":false,"bypass_cache":false}}],
 "router":{"default_backends":[{"backend":"mock"}]}}
JSON
taskset -c 1 build/src/ditto-mock-upstream --listen 127.0.0.1:$MOCK --workers 1 --log-level warn & pids+=("$!")
taskset -c 0 /usr/sbin/nginx -p "$work/ngx" -c "$work/ngx/nginx.conf" & pids+=("$!")
taskset -c 0 build/src/ditto-gateway "$work/gateway.json" --listen 127.0.0.1:$GW --workers 1 \
  --log-level warn --proxy-max-in-flight 4096 & gw=$!; pids+=("$gw")
build/src/ditto-gateway "$work/gateway.json" --listen 127.0.0.1:$GW2 --workers 2 \
  --log-level warn --proxy-max-in-flight 4096 & gw2=$!; pids+=("$gw2")
sleep 1
ngx=$(pgrep -P "$(cat "$work/ngx/nginx.pid")" | head -1)

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# measure LABEL PID CONNS URL LUA -> "rps cpu_us"
measure() {
  local pid=$2 t0 t1 out rps reqs
  t0=$(ticks "$pid")
  out=$(taskset -c 1 wrk -t1 -c"$3" -d"${secs}s" -s "$5" "$4")
  t1=$(ticks "$pid")
  grep -q "Non-2xx" <<<"$out" && { echo "scale: $1 had non-2xx answers" >&2; exit 1; }
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out"); reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  awk -v d=$((t1 - t0)) -v n="$reqs" -v r="$rps" -v hz="$(getconf CLK_TCK)" \
    'BEGIN {printf "%.0f %.1f", r, d / hz / n * 1e6}'
}
lua() {  # lua NAME BODY-BYTES STREAM EVENTS
  local content; content=$(head -c "$2" /dev/zero | tr '\0' 'a')
  cat > "$work/$1.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer vk-bench"
wrk.headers["x-mock-stream-events"] = "$4"
wrk.body = '{"model":"gpt-4o-mini","stream":$3,"messages":[{"role":"user","content":"$content"}]}'
LUA
  echo "$work/$1.lua"
}
row() { printf '%-36s %10s %10s %10s %10s %8s\n' "$@"; }
row "case" "nginx r/s" "nginx us" "gw r/s" "gw us" "ratio"
for size in 1024 16384 131072; do
  l=$(lua "body$size" "$size" false 9)
  read -r nr nc <<<"$(measure nginx "$ngx" 64 "http://127.0.0.1:$NGX/v1/chat/completions" "$l")"
  read -r gr gc <<<"$(measure gw "$gw" 64 "http://127.0.0.1:$GW/v1/chat/completions" "$l")"
  row "chat, request body $((size / 1024)) KB" "$nr" "$nc" "$gr" "$gc" "$(awk -v a="$gr" -v b="$nr" 'BEGIN {printf "%.2f", a / b}')"
done
for events in 10 100 1000; do
  l=$(lua "sse$events" 100 true "$events")
  read -r nr nc <<<"$(measure nginx "$ngx" 64 "http://127.0.0.1:$NGX/v1/chat/completions" "$l")"
  read -r gr gc <<<"$(measure gw "$gw" 64 "http://127.0.0.1:$GW/v1/chat/completions" "$l")"
  row "SSE stream of $events events" "$nr" "$nc" "$gr" "$gc" "$(awk -v a="$gr" -v b="$nr" 'BEGIN {printf "%.2f", a / b}')"
done
# Workers: the same 1 KB chat, the gateway unpinned with 1 and 2 workers (wrk on core 1 shares
# a core with the second worker and the mock, so this shows scaling, not a ceiling).
l=$(lua w 1024 false 9)
taskset -apc 0,1 "$gw" >/dev/null
read -r r1 c1 <<<"$(measure gw1 "$gw" 64 "http://127.0.0.1:$GW/v1/chat/completions" "$l")"
read -r r2 c2 <<<"$(measure gw2 "$gw2" 64 "http://127.0.0.1:$GW2/v1/chat/completions" "$l")"
row "1 KB chat, 1 worker (unpinned)" "-" "-" "$r1" "$c1" "-"
row "1 KB chat, 2 workers (unpinned)" "-" "-" "$r2" "$c2" "$(awk -v a="$r2" -v b="$r1" 'BEGIN {printf "%.2f", a / b}')"
