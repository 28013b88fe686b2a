#!/usr/bin/env bash
# Stage `monitoring` of scripts/test.sh (docs/observability.md, "How the dashboard and rules
# are tested"): configs/monitoring against a real Prometheus, the server and promtool of
# Debian's prometheus package.
#   1. promtool checks rules.yaml; the Kubernetes monitoring overlay's PrometheusRule is what
#      tests/monitoring/prometheusrule.py makes of it.
#   2. redis-server on a free port, ditto-mock-upstream and two gateway replicas on that Redis
#      (port 0 each), with keys that hit a rate limit, a token budget, a guardrail and the cache
#      (both tiers: the second replica is served from Redis), and two backends, one of them down
#      (a closed port: circuit breaker, failed health checks and failed attempts).
#   3. prometheus on a free port, scraping both replicas every second and evaluating a copy of
#      the rules every second (the copy differs only in its alerts' `for:`, 1s, so that they
#      can fire within the run); its data in a temporary directory.
#   4. a little traffic (curl, bounded), then tests/monitoring/check_queries.py: every
#      dashboard query (variables substituted) and every rule expression through /api/v1/query
#      must parse and return series, and the backend-down and budget alerts must fire.
#   5. Redis stopped: DittoGatewayRedisUnavailable must fire.
# Metrics the gateway does not export yet are listed in tests/monitoring/pending-metrics.txt:
# what needs them is reported PENDING, not failed. Everything listens on 127.0.0.1 and is
# stopped on exit. About 30 s.
#
#   bash scripts/monitoring-check.sh                              # builds the two binaries first
#   DITTO_BIN_DIR=/tmp/bins bash scripts/monitoring-check.sh      # those binaries, no build
#   DITTO_MONITORING_KEEP=1 ...                                   # keep the work dir (logs)
set -euo pipefail
cd "$(dirname "$0")/.."
python=/usr/bin/python3  # Debian's, which has python3-yaml (scripts/deps.sh)

scripts/deps.sh
if [[ -z ${DITTO_BIN_DIR:-} ]]; then
  DITTO_TARGETS="ditto-gateway ditto-mock-upstream" scripts/build.sh >/dev/null
fi
bin_dir=${DITTO_BIN_DIR:-build/src}
for b in ditto-gateway ditto-mock-upstream; do
  [[ -x $bin_dir/$b ]] || { echo "monitoring-check: no $bin_dir/$b" >&2; exit 1; }
done

start=$SECONDS
source scripts/checks-common.sh monitoring  # work, pids, port_of (cleanup kept below)
redis_pid=
cleanup() {  # the shared one, but DITTO_MONITORING_KEEP keeps the work directory
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n ${DITTO_MONITORING_KEEP:-} ]]; then
    echo "monitoring-check: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() {
  echo "monitoring-check: FAILED: $*" >&2
  local f
  for f in "$work"/*.log; do
    [[ -s $f ]] || continue
    echo "--- $(basename "$f") (last 20 lines)" >&2
    tail -n 20 "$f" >&2
  done
  exit 1
}

# 1. The files themselves.
promtool check rules configs/monitoring/rules.yaml >/dev/null || fail "promtool check rules configs/monitoring/rules.yaml"
"$python" tests/monitoring/prometheusrule.py --check || fail "the PrometheusRule is not rules.yaml"
"$python" -c 'import json, sys; json.load(open(sys.argv[1]))' configs/monitoring/grafana-dashboard.json ||
  fail "grafana-dashboard.json is not JSON"

# 2. Redis, the mock, two gateways.
free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_http() {  # URL SECONDS: until URL answers 2xx
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -sf -o /dev/null --max-time 2 "$1" && return 0
    sleep 0.1
  done
  fail "$1 did not answer within $2 s"
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  >"$work/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
for ((i = 0; i < 50; i++)); do
  [[ $(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null) == PONG ]] && break
  sleep 0.1
done
[[ $(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null) == PONG ]] || fail "redis-server did not start"

"$bin_dir/ditto-mock-upstream" --listen 127.0.0.1:0 --workers 1 2>"$work/mock.log" &
pids+=($!)
mock_port=$(port_of "$work/mock.log")
down_port=$(free_port)  # nothing listens there: the backend that is down

# Prices, so that the USD-governed key has a spend.
cat >"$work/pricing.json" <<'EOF'
{"gpt-4o-mini": {"input_cost_per_token": 1.5e-7, "output_cost_per_token": 6e-7},
 "gpt-4o": {"input_cost_per_token": 2.5e-6, "output_cost_per_token": 1e-5},
 "text-embedding-3-small": {"input_cost_per_token": 2e-8, "output_cost_per_token": 0}}
EOF
# capped: 100 tokens. Each of its requests (an 88-byte body, max_tokens 1, a new one each time
# so that the cache does not answer it) reserves 22 + 1 and is settled at the mock's 22 + 9:
# three are admitted (93 tokens: 93%), the next ones are refused.
cat >"$work/gateway.json" <<EOF
{
  "backends": [
    {"name": "primary", "base_url": "http://127.0.0.1:$mock_port/v1"},
    {"name": "standby", "base_url": "http://127.0.0.1:$down_port/v1", "timeout_seconds": 2}
  ],
  "virtual_keys": [
    {"id": "team-a", "token": "vk-team-a", "tenant_id": "acme", "cache": {"enabled": true},
     "budget": {"total_usd_micros": 1000000000}},
    {"id": "limited", "token": "vk-limited", "limits": {"rpm": 2}},
    {"id": "capped", "token": "vk-capped", "budget": {"total_tokens": 100}},
    {"id": "guarded", "token": "vk-guarded", "guardrails": {"deny_models": ["gpt-4o"]}},
    {"id": "pinned", "token": "vk-pinned", "route": "standby"}
  ],
  "router": {"default_backends": [{"backend": "primary", "weight": 1},
                                  {"backend": "standby", "weight": 1}]}
}
EOF
gateways=()
for r in 1 2; do
  "$bin_dir/ditto-gateway" "$work/gateway.json" --listen 127.0.0.1:0 --workers 1 \
    --redis "redis://127.0.0.1:$redis_port/0" --redis-prefix ditto-monitoring \
    --proxy-cache --prometheus-metrics --pricing-litellm "$work/pricing.json" \
    --proxy-circuit-breaker --proxy-health-checks --proxy-health-check-interval-secs 1 \
    --log-level info 2>"$work/gateway$r.log" &
  pids+=($!)
done
for r in 1 2; do gateways+=("http://127.0.0.1:$(port_of "$work/gateway$r.log")"); done
g1=${gateways[0]} g2=${gateways[1]}

# 3. Prometheus.
prom_port=$(free_port)
prom=http://127.0.0.1:$prom_port
"$python" tests/monitoring/check_queries.py test-rules configs/monitoring/rules.yaml "$work/rules.yaml" 1s
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [$work/rules.yaml]
scrape_configs:
  - job_name: ditto-gateway
    metrics_path: /metrics/prometheus
    static_configs:
      - targets: ['${g1#http://}', '${g2#http://}']
EOF
promtool check config "$work/prometheus.yml" >/dev/null || fail "promtool check config"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn 2>"$work/prometheus.log" &
pids+=($!)
wait_http "$prom/-/ready" 30
for ((i = 0; i < 100; i++)); do
  up=$(curl -s --max-time 2 "$prom/api/v1/query" --data-urlencode 'query=sum(up{job="ditto-gateway"})' |
    "$python" -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)') || up=0
  [[ $up == 2 ]] && break
  sleep 0.2
done
[[ $up == 2 ]] || fail "Prometheus does not see both gateways up"
echo "monitoring-check: redis :$redis_port, mock :$mock_port, gateways $g1 $g2, prometheus $prom ($((SECONDS - start)) s)" >&2

# 4. Traffic: 6 rounds, a second apart, each of every kind (status codes kept in statuses.txt).
send() {  # LABEL GATEWAY KEY PATH BODY [HEADER...]
  local label=$1 gw=$2 key=$3 path=$4 body=$5
  shift 5
  local hdr=() h code
  for h in "$@"; do hdr+=(-H "$h"); done
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$gw$path" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' "${hdr[@]}" -d "$body") || code=000
  echo "$label $code" >>"$work/statuses.txt"
}
chat() { printf '{"model":"%s","messages":[{"role":"user","content":"%s"}]}' "$1" "$2"; }
for round in 1 2 3 4 5 6; do
  send cache-fill "$g1" vk-team-a /v1/chat/completions "$(chat gpt-4o-mini hello)"
  send cache-redis "$g2" vk-team-a /v1/chat/completions "$(chat gpt-4o-mini "hello $round")"
  send cache-redis "$g1" vk-team-a /v1/chat/completions "$(chat gpt-4o-mini "hello $round")"
  send model "$g2" vk-team-a /v1/chat/completions "$(chat gpt-4o "round $round")"
  send stream "$g1" vk-team-a /v1/chat/completions \
    '{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"s"}]}'
  send embeddings "$g2" vk-team-a /v1/embeddings '{"model":"text-embedding-3-small","input":"hi"}'
  send upstream-500 "$g1" vk-team-a /v1/chat/completions "$(chat gpt-4o-mini "fail $round")" 'x-mock-status: 500'
  send rate-limited "$g1" vk-limited /v1/chat/completions "$(chat gpt-4o-mini "r $round")"
  for c in a b; do
    send capped "$g1" vk-capped /v1/chat/completions \
      "{\"model\":\"gpt-4o-mini\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"capped$round$c\"}]}"
  done
  send guarded "$g2" vk-guarded /v1/chat/completions "$(chat gpt-4o "g $round")"
  send pinned "$g1" vk-pinned /v1/chat/completions "$(chat gpt-4o-mini "p $round")"
  send bad-key "$g2" vk-wrong /v1/chat/completions "$(chat gpt-4o-mini x)"
  sleep 1
done
# Each induced condition happened (the config above produces them; a change that stops one
# would leave queries without series for reasons this check should name).
for want in 'cache-fill 200' 'cache-redis 200' 'stream 200' 'embeddings 200' 'upstream-500 500' \
  'rate-limited 429' 'capped 200' 'capped 402' 'guarded 403' 'pinned 502' 'bad-key 401'; do
  grep -qx "$want" "$work/statuses.txt" || fail "no '$want' among the answers: $(sort "$work/statuses.txt" | uniq -c | tr '\n' ' ')"
done
echo "monitoring-check: traffic: $(sort "$work/statuses.txt" | uniq -c | awk '{printf "%s %s×%s, ", $2, $3, $1}')($((SECONDS - start)) s)" >&2
sleep 3  # the last answers scraped, and the rules evaluated over them

# 5. Every query and rule expression, and the alerts that must fire.
gw_args=(--gateway "$g1" --gateway "$g2")
timeout 150 "$python" tests/monitoring/check_queries.py queries --prometheus "$prom" "${gw_args[@]}" \
  --job ditto-gateway \
  --expect-firing 'DittoGatewayBackendDown{backend="standby"}' \
  --expect-firing 'DittoGatewayBudgetExhausted{virtual_key_id="capped"}' \
  --expect-firing 'DittoGatewayBudgetNearlyExhausted{scope="key", id="capped", unit="tokens"}' \
  --expect-silent 'DittoGatewayBackendDown{backend="primary"}' \
  --expect-silent 'DittoGatewayBudgetExhausted{virtual_key_id="team-a"}' ||
  fail "dashboard queries, rule expressions or alerts (above)"

# 6. Redis down.
kill "$redis_pid"
wait "$redis_pid" 2>/dev/null || true
timeout 60 "$python" tests/monitoring/check_queries.py redis-down --prometheus "$prom" "${gw_args[@]}" ||
  fail "DittoGatewayRedisUnavailable (above)"
echo "monitoring-check: passed in $((SECONDS - start)) s" >&2
