#!/usr/bin/env bash
# N concurrent SSE streams through one gateway (default 10,000), each paced by the mock
# upstream at one event per 500 ms: how many complete, the longest gap between two events a
# client saw (a stall shows as a gap of seconds), and the gateway's RSS before, at peak and
# after. Bounded: the probe gives up after 120 s; everything started here is stopped on exit.
# Usage: bench/sse-many.sh [N] [gateway workers, default 2]
# A process may hold at most `ulimit -Hn` descriptors (20,000 on these VMs, and raising it needs
# CAP_SYS_RESOURCE, which the sandbox drops); a stream holds two in the gateway. Past that, the
# streams are spread over gateway processes sharing the port (SO_REUSEPORT), as replicas would
# be, and the RSS reported is their sum.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"; workers="${2:-2}"
limit=$(ulimit -Hn); ulimit -n "$limit"
procs=$(( (2 * n + 200) / limit + 1 ))
source bench/common.sh sse
MOCK=18501; GW=18503
cat > "$work/gateway.json" <<JSON
{"backends":[{"name":"mock","base_url":"http://127.0.0.1:$MOCK/v1","max_in_flight":100000}],
 "virtual_keys":[{"id":"sse","token":"vk-sse","enabled":true,"limits":{},"budget":{"total_tokens":1000000000000},
   "cache":{"enabled":false},"guardrails":{},"passthrough":{"allow":false,"bypass_cache":false}}],
 "router":{"default_backends":[{"backend":"mock"}]}}
JSON
build/src/ditto-mock-upstream --listen 127.0.0.1:$MOCK --workers 1 --log-level warn & pids+=("$!")
gws=()
for ((i = 0; i < procs; i++)); do
  build/src/ditto-gateway "$work/gateway.json" --listen 127.0.0.1:$GW --workers "$workers" \
    --log-level warn --proxy-max-in-flight 100000 & pids+=("$!"); gws+=("$!")
done
gw=$(IFS=,; echo "${gws[*]}")
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$GW/ready" && break; sleep 0.2; done
read -r completed gap before peak after <<<"$(python3 bench/sse_probe.py many $GW "$n" "$gw" --key vk-sse)"
echo "$n SSE streams, $procs gateway process(es) of $workers workers: $completed completed, longest gap between events ${gap} ms," \
  "gateway RSS ${before} MB -> peak ${peak} MB -> ${after} MB 3 s after"
[[ "$completed" == "$n" ]] || { echo "sse-many: $((n - completed)) streams did not complete" >&2; exit 1; }
