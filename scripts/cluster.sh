#!/usr/bin/env bash
# A local multi-replica cluster on loopback (docs/deployment.md): redis-server, the mock
# upstream, three ditto-gateway replicas sharing the Redis, and nginx balancing them.
#
#   scripts/cluster.sh start      # prints how to reach it
#   scripts/cluster.sh restart N  # graceful restart of replica N (1..3): drain, then start
#   scripts/cluster.sh status
#   scripts/cluster.sh stop
#
# Environment: DITTO_CLUSTER_DIR (state, default /tmp/ditto-cluster), DITTO_CLUSTER_PORT
# (the load balancer; replicas use PORT+1..PORT+3, the mock PORT+4, Redis PORT+5; default
# 18200), DITTO_CLUSTER_ARGS (extra gateway flags), DITTO_GATEWAY_BIN / DITTO_MOCK_BIN (the
# binaries, default build/src/). Everything stops with `stop`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir="${DITTO_CLUSTER_DIR:-/tmp/ditto-cluster}"
port="${DITTO_CLUSTER_PORT:-18200}"
# The binaries of build/ by default; the tests pass those of their own tree (a sanitizer tree
# in CI), so the cluster runs what is being tested.
gw_bin="${DITTO_GATEWAY_BIN:-$root/build/src/ditto-gateway}"
mock_bin="${DITTO_MOCK_BIN:-$root/build/src/ditto-mock-upstream}"
redis_port=$((port + 5)); mock_port=$((port + 4))

pid_of() { [[ -f "$dir/$1.pid" ]] && cat "$dir/$1.pid"; }
alive() { local p; p=$(pid_of "$1") && kill -0 "$p" 2>/dev/null; }
wait_port() {  # wait until something listens on 127.0.0.1:$1 (10 s at most)
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "cluster.sh: nothing listens on port $1" >&2; return 1
}

start_replica() {
  local n=$1
  # shellcheck disable=SC2086
  "$gw_bin" "$dir/gateway.json" --listen "127.0.0.1:$((port + n))" --workers 1 \
    --redis "redis://127.0.0.1:$redis_port" --redis-prefix cluster --admin-token cluster-admin \
    --drain-timeout-secs 10 --log-level warn ${DITTO_CLUSTER_ARGS:-} \
    >>"$dir/gateway-$n.log" 2>&1 &
  echo $! >"$dir/gateway-$n.pid"
  wait_port $((port + n))
}

stop_pid() {  # SIGTERM, then wait for the exit (drain included)
  local name=$1 p
  p=$(pid_of "$name") || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 400); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$p" 2>/dev/null || true
  rm -f "$dir/$name.pid"
}

case "${1:-}" in
start)
  [[ -x "$gw_bin" ]] || scripts/build.sh >/dev/null
  mkdir -p "$dir/nginx/logs" "$dir/nginx/tmp"
  if alive lb; then echo "cluster.sh: already running (stop it first)" >&2; exit 1; fi
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --logfile "$dir/redis.log" --daemonize no &
  echo $! >"$dir/redis.pid"
  "$mock_bin" --listen "127.0.0.1:$mock_port" --workers 1 --log-level warn \
    >>"$dir/mock.log" 2>&1 &
  echo $! >"$dir/mock.pid"
  wait_port "$redis_port"; wait_port "$mock_port"
  cat >"$dir/gateway.json" <<JSON
{"backends":[{"name":"mock","base_url":"http://127.0.0.1:$mock_port/v1"}],
 "virtual_keys":[{"id":"cluster","token":"vk-cluster","enabled":true,"limits":{},
   "budget":{"total_tokens":1000000000},"cache":{"enabled":false},"guardrails":{},
   "passthrough":{"allow":false,"bypass_cache":false}}],
 "router":{"default_backends":[{"backend":"mock"}]}}
JSON
  for n in 1 2 3; do start_replica "$n"; done
  # The balancer: keep-alive to the replicas; a replica that refuses a connection (it is
  # draining or restarting) is skipped for the next one. SSE passes unbuffered.
  cat >"$dir/nginx/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $dir/nginx/nginx.pid; error_log $dir/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off; client_body_temp_path $dir/nginx/tmp; proxy_temp_path $dir/nginx/tmp;
  upstream gateways {
    server 127.0.0.1:$((port + 1)) max_fails=0; server 127.0.0.1:$((port + 2)) max_fails=0;
    server 127.0.0.1:$((port + 3)) max_fails=0; keepalive 64;
  }
  server { listen 127.0.0.1:$port;
    location / { proxy_pass http://gateways; proxy_http_version 1.1;
      proxy_set_header Connection ""; proxy_buffering off; proxy_read_timeout 3600s;
      proxy_next_upstream error timeout; proxy_next_upstream_tries 3; } }
}
NGINX
  /usr/sbin/nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" &
  echo $! >"$dir/lb.pid"
  wait_port "$port"
  cat <<EOF2
cluster up: load balancer http://127.0.0.1:$port -> replicas :$((port + 1)) :$((port + 2)) :$((port + 3))
  Redis 127.0.0.1:$redis_port (prefix cluster), mock upstream :$mock_port, state in $dir
  curl -s http://127.0.0.1:$port/v1/chat/completions -H 'Authorization: Bearer vk-cluster' \\
    -H 'Content-Type: application/json' -d '{"model":"m","messages":[]}'
  curl -s http://127.0.0.1:$((port + 1))/admin/keys -H 'Authorization: Bearer cluster-admin'
  scripts/cluster.sh restart 2    # a graceful restart of one replica
  scripts/cluster.sh stop
EOF2
  ;;
restart)
  n="${2:?replica number 1..3}"
  stop_pid "gateway-$n"
  start_replica "$n"
  ;;
status)
  for name in redis mock gateway-1 gateway-2 gateway-3 lb; do
    if alive "$name"; then echo "$name: running (pid $(pid_of "$name"))"; else echo "$name: stopped"; fi
  done
  ;;
stop)
  stop_pid lb
  # The replicas drain in parallel.
  for n in 1 2 3; do stop_pid "gateway-$n" & done
  wait
  stop_pid mock
  stop_pid redis
  ;;
*)
  echo "usage: scripts/cluster.sh start|restart N|status|stop" >&2; exit 2 ;;
esac
