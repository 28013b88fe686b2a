#!/usr/bin/env bash
# Optional compatibility check (needs the npm registry, so not part of scripts/test.sh):
# the official OpenAI Node SDK, unchanged, against the gateway in front of the mock upstream.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
work=$(mktemp -d /tmp/ditto-sdk.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$work" && npm install --silent --no-audit --no-fund openai@4 >/dev/null)
cp tests/sdk/openai_node_check.mjs "$work/"
build/src/ditto-mock-upstream --listen 127.0.0.1:18201 & pids+=($!)
DITTO_MOCK_URL=http://127.0.0.1:18201/v1 build/src/ditto-gateway configs/demo.json \
  --dotenv configs/demo.env --listen 127.0.0.1:18202 --log-level warn & pids+=($!)
sleep 0.5
node "$work/openai_node_check.mjs" http://127.0.0.1:18202/v1 vk-demo-123
