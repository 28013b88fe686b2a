# shellcheck shell=bash  # sourced by the bench/ scripts, which are bash
# Sourced by the bench/ scripts: installs the load tools, builds, and gives the script a work
# directory and a `pids` array whose processes are stopped (and the directory removed) on exit.
# Usage: source bench/common.sh NAME   (from the repository root)
scripts/deps.sh bench
scripts/build.sh >/dev/null
work=$(mktemp -d "/tmp/ditto-$1.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# nginx.conf's opening lines for DIR: one worker, in the foreground, no access log.
nginx_head() {  # DIR (its logs/ and tmp/ already made)
  cat <<NGINX
worker_processes 1; daemon off; pid $1/nginx.pid; error_log $1/logs/error.log crit;
events { worker_connections 4096; }
http {
  access_log off; client_body_temp_path $1/tmp; proxy_temp_path $1/tmp;
  keepalive_requests 1000000; client_body_buffer_size 1m; client_max_body_size 16m;
NGINX
}

# The reference proxy: nginx proxy_pass with upstream keep-alive in DIR, listening on LISTEN in
# front of 127.0.0.1:UP. EXTRA_HTTP and EXTRA_SERVER are appended to the http and server blocks
# (run.sh's SSE location).
write_nginx_proxy() {  # DIR LISTEN UP [EXTRA_HTTP] [EXTRA_SERVER]
  mkdir -p "$1/logs" "$1/tmp"
  {
    nginx_head "$1"
    cat <<NGINX
  upstream up { server 127.0.0.1:$3; keepalive 128; }
  ${4:-}
  server { listen 127.0.0.1:$2 reuseport backlog=4096;
    ${5:-}
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
NGINX
  } > "$1/nginx.conf"
}

# The benchmark upstream: nginx answering every request with BODY (a chat completion) in DIR, on
# PORT. EXTRA_HTTP is appended to the http block (tracing.sh's collector).
write_nginx_upstream() {  # DIR PORT BODY [EXTRA_HTTP]
  mkdir -p "$1/logs" "$1/tmp"
  {
    nginx_head "$1"
    cat <<NGINX
  server { listen 127.0.0.1:$2 reuseport backlog=4096;
    location / { default_type application/json; return 200 '$3'; } }
  ${4:-}
}
NGINX
  } > "$1/nginx.conf"
}

# One wrk run (bench/tracing.sh, bench/access.sh): 1 thread, CONNS connections for $secs seconds
# from core CORE with SCRIPT, extra ENV=VALUE arguments in wrk's environment; the server PID's
# CPU time over the requests served. Fails on any non-2xx answer. Sets rps_TAG, p50_TAG,
# p99_TAG (us) and cpu_TAG (us of CPU per request), and appends a row to `results`.
results=()
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# shellcheck disable=SC2154  # secs: the sourcing script's seconds per run
wrk_measure() {  # NAME CORE CONNS PORT PID TAG SCRIPT [ENV...]
  local name=$1 core=$2 conns=$3 port=$4 pid=$5 tag=$6 script=$7
  shift 7
  local t0 t1 out rps p50 p99 reqs cpu to_us
  t0=$(cpu_ticks "$pid")
  out=$(env "$@" taskset -c "$core" wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$script" \
    "http://127.0.0.1:$port/v1/chat/completions")
  t1=$(cpu_ticks "$pid")
  if grep -q "Non-2xx" <<<"$out"; then echo "bench: $name had non-2xx responses" >&2; exit 1; fi
  to_us='function us(v) { if (v ~ /us$/) return v+0; if (v ~ /ms$/) return v*1000; if (v ~ /s$/) return v*1e6; return v }'
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk "$to_us"' $1=="50%" {printf "%.0f", us($2)}' <<<"$out")
  p99=$(awk "$to_us"' $1=="99%" {printf "%.0f", us($2)}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  cpu=$(awk -v d=$((t1 - t0)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", d / hz / n * 1e6}')
  results+=("$(printf '%-40s %10s %8s %8s %10s' "$name" "$rps" "$p50" "$p99" "$cpu")")
  eval "rps_$tag=$rps; p50_$tag=$p50; p99_$tag=$p99; cpu_$tag=$cpu"
}

# The rows wrk_measure collected, under a header; median A B C is the middle of three numbers.
print_results() {
  printf '%-40s %10s %8s %8s %10s\n' "run ($secs s each)" "req/s" "p50 us" "p99 us" "CPU us/req"
  printf '%s\n' "${results[@]}"
}
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
