#!/usr/bin/env bash
# The one "try it" command (README): install what is missing, build, then start the bundled
# mock upstream and a gateway in front of it with configs/demo.json. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# Only what it runs: the test targets are test.sh's business (they triple a first build).
DITTO_TARGETS="ditto-gateway ditto-mock-upstream" scripts/build.sh
gw_port="${DITTO_PORT:-8080}"
mock_port="${DITTO_MOCK_PORT:-9090}"
bin="${BUILD_DIR:-build}/src"

"$bin/ditto-mock-upstream" --listen "127.0.0.1:$mock_port" &
mock_pid=$!
trap 'kill $mock_pid 2>/dev/null || true' EXIT
# The demo config names its upstream as ${DITTO_MOCK_URL}; the key comes from configs/demo.env.
export DITTO_MOCK_URL="http://127.0.0.1:$mock_port/v1"
cat <<MSG

  ditto-gateway is starting on http://127.0.0.1:$gw_port (mock upstream on :$mock_port).
  Try, from another terminal (the virtual key vk-demo-123 comes from configs/demo.env):

    curl -s http://127.0.0.1:$gw_port/v1/chat/completions \\
      -H 'Authorization: Bearer vk-demo-123' -H 'Content-Type: application/json' \\
      -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'

    curl -sN http://127.0.0.1:$gw_port/v1/chat/completions \\
      -H 'Authorization: Bearer vk-demo-123' -H 'Content-Type: application/json' \\
      -d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}'

    curl -s http://127.0.0.1:$gw_port/v1/models -H 'Authorization: Bearer vk-demo-123'
    curl -s http://127.0.0.1:$gw_port/metrics
    curl -s http://127.0.0.1:$gw_port/metrics/prometheus | grep requests_by_key
    curl -s http://127.0.0.1:$gw_port/admin/keys -H 'Authorization: Bearer admin-demo-123'
    curl -s http://127.0.0.1:$gw_port/admin/audit?limit=2 -H 'Authorization: Bearer admin-demo-123'

  Ctrl-C stops the gateway (gracefully) and the mock upstream.

MSG
"$bin/ditto-gateway" configs/demo.json --dotenv configs/demo.env --listen "127.0.0.1:$gw_port" \
  --workers "${DITTO_WORKERS:-2}" --admin-token-env DITTO_DEMO_ADMIN --proxy-cache \
  --prometheus-metrics
