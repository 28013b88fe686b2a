#!/usr/bin/env bash
# Soak: mixed traffic against one gateway for N minutes (default 10), RSS sampled every second.
# Traffic: chat over 2,000 prompts with the proxy cache (misses, hits, evictions) and injected
# upstream faults; a governed key (limits, budgets, costs) streamed and not; requests the gateway
# refuses itself; clients leaving at every stage; admin and metrics reads. Passes when the RSS of
# the last minute is no higher than that of the minute after warm-up (+5% or 4 MB, whichever is
# more), and when no token or USD reservation is left outstanding once the traffic stops.
# Bounded: every load generator has a duration; everything started here is stopped on exit.
# Usage: bench/soak.sh [minutes] ; SOAK_REDIS=1 runs the gateway on a Redis store.
set -euo pipefail
cd "$(dirname "$0")/.."
mins="${1:-10}"; secs=$((mins * 60))
ulimit -n 65536 2>/dev/null || true
scripts/deps.sh bench
scripts/build.sh >/dev/null
work=$(mktemp -d /tmp/ditto-soak.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
MOCK=18301; GW=18303; REDIS=18305; ADMIN=soak-admin
cat > "$work/gateway.json" <<JSON
{"backends":[{"name":"mock","base_url":"http://127.0.0.1:$MOCK/v1"}],
 "virtual_keys":[{"id":"soak","token":"vk-soak","enabled":true,"limits":{},"budget":{},
   "cache":{"enabled":true},"guardrails":{},"passthrough":{"allow":false,"bypass_cache":false}},
  {"id":"governed","token":"vk-gov","enabled":true,"tenant_id":"acme",
   "limits":{"rpm":4000000000,"tpm":4000000000},
   "budget":{"total_tokens":1000000000000000,"total_usd_micros":1000000000000000},
   "cache":{"enabled":false},"guardrails":{},"passthrough":{"allow":false,"bypass_cache":false}}],
 "router":{"default_backends":[{"backend":"mock"}]}}
JSON
echo '{"gpt-4o-mini":{"input_cost_per_token":1.5e-7,"output_cost_per_token":6e-7}}' > "$work/pricing.json"
store=()
if [[ "${SOAK_REDIS:-0}" == 1 ]]; then
  redis-server --port $REDIS --bind 127.0.0.1 --save "" --appendonly no --logfile "" & pids+=("$!")
  sleep 0.3
  store=(--redis "redis://127.0.0.1:$REDIS" --redis-prefix soak)
fi
build/src/ditto-mock-upstream --listen 127.0.0.1:$MOCK --workers 1 --log-level warn & pids+=("$!")
build/src/ditto-gateway "$work/gateway.json" --listen 127.0.0.1:$GW --workers 2 --log-level warn \
  --proxy-cache --proxy-cache-max-entries 1000 --prometheus-metrics --admin-token "$ADMIN" \
  --pricing-litellm "$work/pricing.json" --proxy-max-in-flight 4096 "${store[@]}" \
  2>"$work/gateway.log" & gw=$!; pids+=("$gw")
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$GW/ready" && break; sleep 0.2; done

rss() { awk '/VmRSS/ {print $2}' "/proc/$gw/status"; }
( t=0; while ((t <= secs + 5)); do echo "$t $(rss)"; sleep 1; t=$((t + 1)); done ) > "$work/rss.txt" & pids+=("$!")
url="http://127.0.0.1:$GW/v1/chat/completions"
wrk -t1 -c16 -d"${secs}s" -s bench/soak/mixed-chat.lua "$url" > "$work/chat.txt" & pids+=("$!")
wrk -t1 -c4 -d"${secs}s" -s bench/soak/governed.lua "$url" > "$work/gov.txt" & pids+=("$!")
wrk -t1 -c2 -d"${secs}s" -s bench/soak/refused.lua "$url" > "$work/refused.txt" & pids+=("$!")
python3 bench/soak/disconnects.py $GW "$secs" > "$work/disconnects.txt" & pids+=("$!")
( end=$((SECONDS + secs)); while ((SECONDS < end)); do
    curl -s -o /dev/null -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$GW/admin/audit?limit=50"
    curl -s -o /dev/null "http://127.0.0.1:$GW/metrics/prometheus"; sleep 1; done ) & pids+=("$!")
for ((m = 1; m <= mins; m++)); do
  sleep 60; echo "soak: minute $m/$mins, gateway RSS $(( $(rss) / 1024 )) MB"
done
sleep 8  # the load generators end; streams and settlements finish
kill -0 "$gw" || { echo "soak: the gateway died" >&2; exit 1; }

echo "chat:     $(awk '/requests in/ {print $1}' "$work/chat.txt") requests, $(awk '/Non-2xx/ {print $NF}' "$work/chat.txt") non-2xx (faults injected on purpose)"
echo "governed: $(awk '/requests in/ {print $1}' "$work/gov.txt") requests"
echo "refused:  $(awk '/requests in/ {print $1}' "$work/refused.txt") requests"
echo "left early: $(cat "$work/disconnects.txt")"
budgets=$(curl -s -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$GW/admin/budgets")
costs=$(curl -s -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$GW/admin/costs")
echo "budgets: $budgets"
python3 - "$work/rss.txt" "$secs" "$budgets" "$costs" <<'PY'
import json, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
secs = int(sys.argv[2])
warm = max(60, secs // 5)
first = [r for t, r in rows if warm <= t < warm + 60]
last = [r for t, r in rows if secs - 60 <= t < secs]
ok = True
if first and last:
    base, end = max(first), max(last)
    allowed = base + max(base * 0.05, 4096)
    print(f"RSS: start {rows[0][1] // 1024} MB, after warm-up (max of minute {warm // 60 + 1}) "
          f"{base / 1024:.1f} MB, last minute max {end / 1024:.1f} MB, overall max "
          f"{max(r for _, r in rows) / 1024:.1f} MB -> {'flat' if end <= allowed else 'GROWING'}")
    ok &= end <= allowed
left = [b for b in json.loads(sys.argv[3]) if b.get("reserved_tokens")] + \
       [c for c in json.loads(sys.argv[4]) if c.get("reserved_usd_micros")]
print("outstanding reservations:", left if left else "none")
ok &= not left
sys.exit(0 if ok else 1)
PY
