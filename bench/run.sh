#!/usr/bin/env bash
# shellcheck disable=SC2154  # rps_<tag> and p50_<tag> are set by run()'s eval, one per run
# ditto-gateway vs nginx proxy_pass, both in front of the same fast upstream, one run.
# Method: ../shared/design/BENCHMARKING.md (and docs/benchmarks.md):
#   throughput: proxy under test pinned to core 0, wrk + upstream to core 1, 1 wrk thread;
#   latency:    1 connection, wrk + upstream + proxy all on core 1 (no cross-core wake-ups).
# Usage: bench/run.sh [seconds-per-run, default 10]. Bounded: every wrk run has -d, every
# process started here is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
# 1,000 streams through the gateway need ~2,000 descriptors (client + upstream side).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
source bench/common.sh bench

UP=18101; NGX=18102; GW=18103; MOCK=18104; REDIS=18105; GWR=18106; GWC=18107; GWD=18108
GWR2=18109; GWT=18110; REDIST=18111; GWK=18112; CLUSTER=(18113 18114 18115)
chat_body='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the benchmark upstream. This reply is fixed so that every proxy relays the same bytes, and it is about six hundred bytes long with the usage block below."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":260,"completion_tokens":38,"total_tokens":298},"system_fingerprint":"fp_bench_0001"}'

write_nginx_upstream "$work/up" $UP "$chat_body"
write_nginx_proxy "$work/ngx" $NGX $UP "upstream mock { server 127.0.0.1:$MOCK; keepalive 128; }" \
  'location /sse/ { proxy_pass http://mock/; proxy_http_version 1.1;
      proxy_set_header Connection ""; proxy_buffering off; }'
cat > "$work/gateway.json" <<JSON
{"backends":[{"name":"up","base_url":"http://127.0.0.1:$UP"},
             {"name":"mock","base_url":"http://127.0.0.1:$MOCK/v1"}],
 "virtual_keys":[{"id":"bench","token":"vk-bench","enabled":true,"limits":{},"budget":{},
   "cache":{"enabled":false},"guardrails":{},"passthrough":{"allow":false,"bypass_cache":false}},
  {"id":"governed","token":"vk-gov","enabled":true,
   "limits":{"rpm":4000000000,"tpm":4000000000},
   "budget":{"total_tokens":1000000000000000,"total_usd_micros":1000000000000000},
   "cache":{"enabled":false},"guardrails":{},"passthrough":{"allow":false,"bypass_cache":false}}],
 "router":{"default_backends":[{"backend":"up"}],
           "rules":[{"model_prefix":"sse-","backend":"mock"}]}}
JSON

# Prices for the governed key's cost budget (LiteLLM format).
echo '{"gpt-4o-mini":{"input_cost_per_token":1.5e-7,"output_cost_per_token":6e-7}}' > "$work/pricing.json"

start() { "$@" & pids+=($!); }
start taskset -c 1 /usr/sbin/nginx -p "$work/up" -c "$work/up/nginx.conf"
start taskset -c 1 build/src/ditto-mock-upstream --listen 127.0.0.1:$MOCK --workers 1
start taskset -c 0 /usr/sbin/nginx -p "$work/ngx" -c "$work/ngx/nginx.conf"
start taskset -c 0 build/src/ditto-gateway "$work/gateway.json" --listen 127.0.0.1:$GW \
  --workers 1 --log-level warn --proxy-max-in-flight 4096 --pricing-litellm "$work/pricing.json"
# The same gateway on the Redis store (its own Redis, on the load generator's core). The Redis
# also serves TLS on $REDIST, with a CA and certificate made here (docs/redis.md, "TLS").
(cd "$work" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=bench-ca -keyout ca.key -out ca.pem &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
    -keyout redis.key -out redis.csr &&
  printf 'subjectAltName=IP:127.0.0.1' > san.ext &&
  openssl x509 -req -in redis.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
    -extfile san.ext -out redis.pem) 2>/dev/null
start taskset -c 1 redis-server --port $REDIS --bind 127.0.0.1 --save "" --appendonly no --logfile "" \
  --tls-port $REDIST --tls-cert-file "$work/redis.pem" --tls-key-file "$work/redis.key" \
  --tls-auth-clients no
sleep 0.3
start taskset -c 0 build/src/ditto-gateway "$work/gateway.json" --listen 127.0.0.1:$GWR \
  --workers 1 --log-level warn --proxy-max-in-flight 4096 --pricing-litellm "$work/pricing.json" \
  --redis redis://127.0.0.1:$REDIS --redis-prefix bench --redis-layout 1
# The same gateway with the proxy cache on: after the first request every one is an L1 hit.
start taskset -c 0 build/src/ditto-gateway "$work/gateway.json" --listen 127.0.0.1:$GWC \
  --workers 1 --log-level warn --proxy-max-in-flight 4096 --proxy-cache
# The same gateway as a user starts it: default flags (the access log at info, to a file as a
# log collector would read it) but for one worker, as every gateway here.
start taskset -c 0 build/src/ditto-gateway "$work/gateway.json" --listen 127.0.0.1:$GWD \
  --workers 1 2>"$work/gwd.log"
# The Redis gateway on key layout 2, the default (docs/redis.md, "Layout v2"), its own prefix in
# the same Redis; the one above runs layout 1, which replicas not yet moved still run.
start taskset -c 0 build/src/ditto-gateway "$work/gateway.json" --listen 127.0.0.1:$GWR2 \
  --workers 1 --log-level warn --proxy-max-in-flight 4096 --pricing-litellm "$work/pricing.json" \
  --redis redis://127.0.0.1:$REDIS --redis-prefix bench2
# The same as the one above, over TLS.
start taskset -c 0 build/src/ditto-gateway "$work/gateway.json" --listen 127.0.0.1:$GWT \
  --workers 1 --log-level warn --proxy-max-in-flight 4096 --pricing-litellm "$work/pricing.json" \
  --redis rediss://127.0.0.1:$REDIST --redis-tls-ca "$work/ca.pem" --redis-prefix bench3
# The same as GWR2, on a 3-primary Redis Cluster (docs/redis.md, "Redis Cluster"), its nodes on
# the load generator's core as the single Redis is.
for i in 0 1 2; do
  mkdir -p "$work/cluster$i"
  start taskset -c 1 redis-server --port "${CLUSTER[$i]}" --bind 127.0.0.1 --save "" \
    --appendonly no --logfile "" --dir "$work/cluster$i" --cluster-enabled yes \
    --cluster-config-file nodes.conf --cluster-port $((CLUSTER[i] + 10))
done
sleep 0.3
redis-cli --cluster create "${CLUSTER[@]/#/127.0.0.1:}" --cluster-yes >/dev/null
for _ in $(seq 100); do
  ok=0
  for p in "${CLUSTER[@]}"; do
    redis-cli -p "$p" CLUSTER INFO | grep -q cluster_state:ok && ok=$((ok + 1))
  done
  [[ $ok == 3 ]] && break
  sleep 0.1
done
start taskset -c 0 build/src/ditto-gateway "$work/gateway.json" --listen 127.0.0.1:$GWK \
  --workers 1 --log-level warn --proxy-max-in-flight 4096 --pricing-litellm "$work/pricing.json" \
  --redis "redis+cluster://127.0.0.1:${CLUSTER[0]},127.0.0.1:${CLUSTER[1]},127.0.0.1:${CLUSTER[2]}" \
  --redis-prefix bench4
sleep 1
# nginx's master only supervises: its one worker does the proxying, and is what we measure.
ngx_master=$(cat "$work/ngx/nginx.pid"); ngx_pid=$(pgrep -P "$ngx_master" | head -1); gw_pid=${pids[3]}
gwr_pid=${pids[5]}; gwc_pid=${pids[6]}; gwd_pid=${pids[7]}; gwr2_pid=${pids[8]}; gwt_pid=${pids[9]}
gwk_pid=${pids[13]}
# Script calls (EVALSHA/EVAL) = Redis round trips of the request path; commands run inside
# the scripts are counted by Redis under their own names, so they are left out.
redis_cmds() { redis-cli -p $REDIS INFO commandstats | awk -F'[:=,]' '/^cmdstat_eval(sha)?:/ {n += $3} END {print n+0}'; }
# Redis's CPU inside those scripts (their usec includes the commands they run), as
# bench/redis_scripts.py measures it in isolation (issue 22's target: <= 20 us per request).
redis_usec() { redis-cli -p $REDIS INFO commandstats | awk -F'[:=,]' '/^cmdstat_eval(sha)?:/ {n += $5} END {print n+0}'; }

# Correctness first: the relayed body must be byte-identical to the upstream's.
printf '%s' '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}' > "$work/body.json"
direct=$(curl -s -X POST -d @"$work/body.json" http://127.0.0.1:$UP/v1/chat/completions)
via_gw=$(curl -s -X POST -H 'Authorization: Bearer vk-bench' -H 'Content-Type: application/json' -d @"$work/body.json" http://127.0.0.1:$GW/v1/chat/completions)
via_ngx=$(curl -s -X POST -d @"$work/body.json" http://127.0.0.1:$NGX/v1/chat/completions)
[[ "$direct" == "$via_gw" && "$direct" == "$via_ngx" ]] || { echo "bench: bodies differ" >&2; exit 1; }
sse_body='{"model":"sse-gpt","stream":true,"messages":[]}'
sse_direct=$(curl -sN -X POST -d "$sse_body" -H 'Content-Type: application/json' http://127.0.0.1:$MOCK/v1/chat/completions)
sse_gw=$(curl -sN -X POST -d "$sse_body" -H 'Content-Type: application/json' -H 'Authorization: Bearer vk-bench' http://127.0.0.1:$GW/v1/chat/completions)
[[ "$sse_direct" == "$sse_gw" ]] || { echo "bench: SSE bodies differ" >&2; exit 1; }

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# run NAME CORE CONNS URL SCRIPT [PID-for-CPU]
results=()
run() {
  local name=$1 core=$2 conns=$3 url=$4 script=$5 pid=${6:-}
  local t0=0; [[ -n "$pid" ]] && t0=$(cpu_ticks "$pid")
  local out; out=$(taskset -c "$core" wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$script" "$url")
  local rps p50 p99 reqs cpu_us="-"
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  # wrk prints 812.00us / 1.23ms / 2.00s: normalise to microseconds.
  to_us='function us(v) { if (v ~ /us$/) return v+0; if (v ~ /ms$/) return v*1000; if (v ~ /s$/) return v*1e6; return v }'
  p50=$(awk "$to_us"' $1=="50%" {printf "%.0f", us($2)}' <<<"$out")
  p99=$(awk "$to_us"' $1=="99%" {printf "%.0f", us($2)}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "bench: $name had non-2xx responses" >&2; exit 1; fi
  if [[ -n "$pid" ]]; then
    local t1; t1=$(cpu_ticks "$pid")
    cpu_us=$(awk -v d=$((t1 - t0)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", d / hz / n * 1e6}')
  fi
  results+=("$(printf '%-34s %12s %10s %10s %12s' "$name" "$rps" "$p50" "$p99" "$cpu_us")")
  eval "rps_${7:-x}=$rps; p50_${7:-x}=$p50; cpu_${7:-x}=$cpu_us"
}

chat=bench/chat.lua; sse=bench/sse.lua
run "ditto-gateway GET /health"   1 64 "http://127.0.0.1:$GW/health" bench/get.lua "$gw_pid" health
run "upstream direct, 64 conns"   1 64 "http://127.0.0.1:$UP/v1/chat/completions" $chat "" up64
run "nginx proxy_pass, 64 conns"  1 64 "http://127.0.0.1:$NGX/v1/chat/completions" $chat "$ngx_pid" ngx64
run "ditto-gateway, 64 conns"     1 64 "http://127.0.0.1:$GW/v1/chat/completions" $chat "$gw_pid" gw64
run "ditto-gateway default flags, 64 conns" 1 64 "http://127.0.0.1:$GWD/v1/chat/completions" $chat "$gwd_pid" gwd64
# The same with rpm/tpm limits, a token budget and a USD budget on the key (bench/chat-gov.lua).
run "ditto-gateway governed, 64 conns" 1 64 "http://127.0.0.1:$GW/v1/chat/completions" bench/chat-gov.lua "$gw_pid" gov64
# The same question in the Anthropic dialect: request and answer translated (docs/dialects.md).
run "ditto-gateway Anthropic dialect, 64 conns" 1 64 "http://127.0.0.1:$GW/v1/messages" bench/messages.lua "$gw_pid" msg64
# Only the first of these requests goes upstream (the concurrent first ones wait for it).
run "ditto-gateway cache hit (L1), 64 conns" 1 64 "http://127.0.0.1:$GWC/v1/chat/completions" $chat "$gwc_pid" hit64
c0=$(redis_cmds); u0=$(redis_usec)
run "governed, Redis layout 1, 64 conns" 1 64 "http://127.0.0.1:$GWR/v1/chat/completions" bench/chat-gov.lua "$gwr_pid" govr64
c1=$(redis_cmds); u1=$(redis_usec)
run "governed, Redis layout 2 (default), 64 conns" 1 64 "http://127.0.0.1:$GWR2/v1/chat/completions" bench/chat-gov.lua "$gwr2_pid" govr2
c2=$(redis_cmds); u2=$(redis_usec); keys2=$(redis-cli -p $REDIS EVAL "return #redis.call('KEYS', ARGV[1])" 0 'bench2:*')
run "governed, Redis layout 2 over TLS, 64 conns" 1 64 "http://127.0.0.1:$GWT/v1/chat/completions" bench/chat-gov.lua "$gwt_pid" govtls
run "governed, Redis Cluster (3 primaries), 64 conns" 1 64 "http://127.0.0.1:$GWK/v1/chat/completions" bench/chat-gov.lua "$gwk_pid" govk
# Latency: everything on core 1 for these runs.
taskset -apc 1 "$ngx_pid" >/dev/null; taskset -apc 1 "$gw_pid" >/dev/null
run "upstream direct, 1 conn"     1 1 "http://127.0.0.1:$UP/v1/chat/completions" $chat "" up1
run "nginx proxy_pass, 1 conn"    1 1 "http://127.0.0.1:$NGX/v1/chat/completions" $chat "$ngx_pid" ngx1
run "ditto-gateway, 1 conn"       1 1 "http://127.0.0.1:$GW/v1/chat/completions" $chat "$gw_pid" gw1
mock_pid=${pids[1]}
taskset -apc 1 "$mock_pid" >/dev/null
ttfb_direct=$(taskset -c 1 python3 bench/sse_probe.py ttfb $MOCK 300)
ttfb_gw=$(taskset -c 1 python3 bench/sse_probe.py ttfb $GW 300 --key vk-bench)
ttfb_ngx=$(taskset -c 1 python3 bench/sse_probe.py ttfb $NGX 300 --prefix /sse)
taskset -apc 0 "$ngx_pid" >/dev/null; taskset -apc 0 "$gw_pid" >/dev/null
run "mock SSE direct, 64 conns"   1 64 "http://127.0.0.1:$MOCK/v1/chat/completions" $sse "" mock64
run "nginx SSE relay, 64 conns"   1 64 "http://127.0.0.1:$NGX/sse/v1/chat/completions" $sse "$ngx_pid" ngxsse
run "ditto-gateway SSE relay, 64 conns" 1 64 "http://127.0.0.1:$GW/v1/chat/completions" bench/sse-gw.lua "$gw_pid" gwsse

idle=$(python3 bench/sse_probe.py idle $GW 1000 "$gw_pid" --key vk-bench)

echo
echo "ditto-gateway bench: ${secs}s per run, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
printf '%-34s %12s %10s %10s %12s\n' "run" "requests/s" "p50 us" "p99 us" "CPU us/req"
printf '%s\n' "${results[@]}"
awk -v a="$rps_gw64" -v b="$rps_ngx64" 'BEGIN {printf "\nthroughput ratio gateway/nginx (64 conns): %.2f\n", a/b}'
lines=$(grep -c 'proxy.response' "$work/gwd.log" || true)
# shellcheck disable=SC2154  # cpu_* and rps_* are set by run() through eval
awk -v a="$rps_gwd64" -v b="$rps_gw64" -v ca="$cpu_gwd64" -v cb="$cpu_gw64" -v l="$lines" 'BEGIN {printf "default flags (access log at info, %d lines) / --log-level warn (64 conns): %.2f; CPU per request %.1f vs %.1f us (%+.1f us)\n", l, a/b, ca, cb, ca-cb}'
awk -v a="$rps_msg64" -v b="$rps_gw64" -v ca="$cpu_msg64" -v cb="$cpu_gw64" 'BEGIN {printf "Anthropic dialect (translated both ways) / chat (64 conns): %.2f; CPU per request %.1f vs %.1f us (%+.1f us)\n", a/b, ca, cb, ca-cb}'
awk -v a="$rps_hit64" -v b="$rps_ngx64" 'BEGIN {printf "cache hit (L1) / nginx proxy_pass (64 conns): %.2f\n", a/b}'
awk -v a="$rps_gov64" -v b="$rps_gw64" 'BEGIN {printf "governed key (limits + budgets + cost) / plain key (64 conns): %.3f, %.2f us more CPU per request\n", a/b, 1e6/a - 1e6/b}'
awk -v a="$rps_govr64" -v b="$rps_gov64" -v c=$((c1 - c0)) -v u=$((u1 - u0)) -v secs="$secs" 'BEGIN {printf "Redis layout 1 / memory store, governed key (64 conns): %.2f; Redis round trips (script calls) per request: %.2f; Redis CPU in scripts per request: %.1f us\n", a/b, c/(a*secs), u/(a*secs)}'
# shellcheck disable=SC2154
awk -v a="$rps_govr2" -v b="$rps_gov64" -v r="$rps_govr64" -v c=$((c2 - c1)) -v u=$((u2 - u1)) -v secs="$secs" -v k="$keys2" 'BEGIN {printf "Redis layout 2 (default) / memory store, governed key (64 conns): %.2f (layout 1: %.2f); script calls per request: %.2f; Redis CPU in scripts per request: %.1f us; keys under its prefix after the run: %d\n", a/b, r/b, c/(a*secs), u/(a*secs), k}'
awk -v a="$rps_govtls" -v b="$rps_govr2" -v ca="$cpu_govtls" -v cb="$cpu_govr2" 'BEGIN {printf "Redis over TLS / plain TCP, layout 2, governed key (64 conns): %.2f; gateway CPU per request %.1f vs %.1f us\n", a/b, ca, cb}'
awk -v a="$rps_govk" -v b="$rps_govr2" -v ca="$cpu_govk" -v cb="$cpu_govr2" 'BEGIN {printf "Redis Cluster (3 primaries) / single Redis, layout 2, governed key (64 conns): %.2f; gateway CPU per request %.1f vs %.1f us\n", a/b, ca, cb}'
awk -v a="$rps_gwsse" -v b="$rps_ngxsse" 'BEGIN {printf "SSE relay ratio gateway/nginx (64 conns):  %.2f\n", a/b}'
echo "added p50 at 1 conn over the direct upstream: nginx $((p50_ngx1 - p50_up1)) us, ditto-gateway $((p50_gw1 - p50_up1)) us"
read -r d50 d90 <<<"$ttfb_direct"; read -r g50 g90 <<<"$ttfb_gw"; read -r n50 n90 <<<"$ttfb_ngx"
# Any proxy adds two hops (and their wake-ups) to the first byte: nginx is the yardstick.
echo "SSE time to first byte, 1 conn, median (p90): direct ${d50} (${d90}) us, via nginx ${n50} (${n90}) us, via gateway ${g50} (${g90}) us; gateway - nginx $((g50 - n50)) us"
read -r rss0 rss1 drss <<<"$idle"
echo "1000 idle SSE streams held: gateway RSS ${rss0} MB -> ${rss1} MB (+${drss} MB)"
