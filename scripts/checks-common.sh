# shellcheck shell=bash  # sourced by the check scripts (sdk, console, monitoring), which are bash
# What the check scripts share: a private work directory, the `pids` they start (stopped, and
# the directory removed, on exit), and port_of for servers started on port 0.
# Usage: source scripts/checks-common.sh NAME   (NAME names the directory and the messages)
check_name=$1
work=$(mktemp -d "/tmp/ditto-$check_name.XXXXXX")
chmod 700 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Port 0 everywhere: each process prints the port it got, so parallel runs never collide.
port_of() {  # LOG: waits (10 s at most) for the "listening on http://HOST:PORT" line
  local i
  for ((i = 0; i < 100; i++)); do
    if grep -qo 'listening on http://[^ "]*:[0-9]*' "$1"; then
      grep -o 'listening on http://[^ "]*:[0-9]*' "$1" | head -1 | sed 's/.*://'
      return 0
    fi
    sleep 0.1
  done
  echo "$check_name-check: no listening line in $1:" >&2
  cat "$1" >&2
  return 1
}
