#!/bin/sh
# The container image's entrypoint (Dockerfile, docs/deployment.md).
#
#   (no arguments, the image's CMD "demo")  the bundled mock upstream on 127.0.0.1:9090 and a
#       gateway in front of it, as scripts/run.sh starts them: the README's curl lines work
#       against the container with no OpenAI key. Demo values only (configs/demo.env).
#   anything else  the gateway's own arguments: `ditto-gateway "$@"`, exactly as before, so
#       a real deployment (configs/kubernetes/base/deployment.yaml `args:`) runs the gateway
#       alone as PID 1 with its own config and secrets.
#
# The demo listens on DITTO_LISTEN (0.0.0.0:8080) and the mock on DITTO_MOCK_LISTEN
# (127.0.0.1:9090): the image check (scripts/image-check.sh) moves them off ports a shared
# machine may be using.
set -eu
if [ "${1:-demo}" != demo ]; then
  exec /usr/local/bin/ditto-gateway "$@"
fi
mock_listen="${DITTO_MOCK_LISTEN:-127.0.0.1:9090}"
/usr/local/bin/ditto-mock-upstream --listen "$mock_listen" --log-level warn &
export DITTO_MOCK_URL="http://$mock_listen/v1"
# exec: the gateway gets the signals (SIGTERM drains); the mock goes with the container.
exec /usr/local/bin/ditto-gateway /etc/ditto/demo.json --dotenv /etc/ditto/demo.env \
  --listen "${DITTO_LISTEN:-0.0.0.0:8080}" --admin-token-env DITTO_DEMO_ADMIN --proxy-cache \
  --prometheus-metrics --drain-timeout-secs 30
