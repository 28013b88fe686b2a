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
