#!/usr/bin/env bash
# The README's two commands, verbatim, on a brand-new Debian 12 (docs/testing.md, stage
# `fresh`): nothing this machine already has installed can make them pass.
#
#   1. bootstrap  mmdebstrap --variant=apt bookworm, from this machine's apt sources, into a
#                 tarball (build-fresh/debian12.tar, which the `image` stage reuses as its
#                 base image), unpacked into a scratch root with /proc, /sys and /dev mounted
#                 and `127.0.0.1 localhost` in /etc/hosts (a real machine has one; without
#                 it `localhost` does not resolve and the TLS tests fail for that alone).
#   2. try it     a clone of HEAD in /src, then `cd /src && bash scripts/run.sh` in the chroot;
#                 once the banner is out and /health answers, every command of the README's
#                 "A 5-minute tour" section, taken from README.md itself and run in the
#                 chroot, is checked against the table below (status or exit code, and a
#                 string the answer must contain). A tour command without a table entry, or an
#                 entry that matches no command, fails the check: the doc cannot drift.
#                 Then SIGINT to run.sh's process group (what Ctrl-C does) and run.sh must
#                 exit 0 (the gateway exits 0 after a drain, docs/cli.md) within 40 s.
#   3. test it    the README's test command in the same chroot, restricted to
#                 DITTO_TEST_STAGES=plain (the full default would not fit CI's 90 minutes
#                 twice over); FRESH_TEST_STAGES overrides it, FRESH_TEST_STAGES=none skips it.
#
# Everything is bounded by timeouts; on exit, whatever happens, the processes left in the
# chroot are killed, everything mounted is unmounted and the scratch root is removed.
# Needs root (mmdebstrap, mount, chroot). Prints per-phase timings at the end.
#
# Environment: FRESH_DIR (scratch dir, default a mktemp under /tmp), FRESH_KEEP=1 (keep it),
# FRESH_TARBALL (use this tarball instead of bootstrapping), FRESH_TEST_STAGES (plain),
# DITTO_CPU_LOCK (a lock file: hold it with flock around the chroot's build and test run,
# so shared machines never build twice at once).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

[[ $(id -u) -eq 0 ]] || { echo "fresh-check: needs root (mmdebstrap, mount, chroot)" >&2; exit 1; }
scripts/deps.sh fresh

build_timeout="${FRESH_BUILD_TIMEOUT:-2400}"   # run.sh: apt-get install + full build, 2 cores
test_timeout="${FRESH_TEST_TIMEOUT:-2400}"
test_stages="${FRESH_TEST_STAGES:-plain}"
work="${FRESH_DIR:-$(mktemp -d /tmp/ditto-fresh.XXXXXX)}"
root="$work/root"
log="$work/run.log"
mkdir -p "$root" build-fresh
tarball="${FRESH_TARBALL:-$repo/build-fresh/debian12.tar}"
# A clean environment, as a login on a new machine has: nothing from this shell leaks in.
chroot_env=(env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  TERM=dumb)
# The one thing kept from run to run: the chroot's compiler cache (FRESH_CCACHE=0: none), on
# this machine under /var/cache. It cannot hide a missing package: ccache hashes every header a
# cached compile read, so a header that is gone is a miss and the compiler's own error, and
# linking is never cached. It saves most of the chroot's two full builds (docs/testing.md).
ccache_host="${FRESH_CCACHE_DIR:-/var/cache/ditto-fresh-ccache}"
if [[ ${FRESH_CCACHE:-1} == 1 ]]; then chroot_env+=(CCACHE_DIR=/var/cache/ditto-ccache); fi

now() { date +%s; }
fail() { echo "fresh-check: FAIL: $*" >&2; exit 1; }
declare -A phase

# ---- cleanup: kill, unmount, remove -------------------------------------------------
in_chroot_pids() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    [[ "$r" == "$root" || "$r" == "$root"/* ]] && echo "${p#/proc/}"
  done
  return 0
}
mounted_under_root() { awk -v r="$root" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo; }
cleanup() {
  local rc=$? pids
  set +e
  exec 9>&-  # drops the CPU lock if a phase still held it
  pids=$(in_chroot_pids)
  if [[ -n "$pids" ]]; then
    # shellcheck disable=SC2086  # a list of pids
    kill -TERM $pids 2>/dev/null; sleep 2
    pids=$(in_chroot_pids)
    # shellcheck disable=SC2086
    [[ -n "$pids" ]] && kill -KILL $pids 2>/dev/null && sleep 1
  fi
  for m in dev sys proc var/cache/ditto-ccache; do
    mountpoint -q "$root/$m" && { umount -R "$root/$m" || umount -R -l "$root/$m"; }
  done
  if [[ -n "$(mounted_under_root)" ]]; then
    echo "fresh-check: still mounted, NOT removing $work:" >&2; mounted_under_root >&2
    rc=1
  elif [[ "${FRESH_KEEP:-0}" != 1 ]]; then
    # --one-file-system: never descend into a mount (belt and braces after the check above).
    rm -rf --one-file-system "$work"
  fi
  [[ -n "${stamper_pid:-}" ]] && kill "$stamper_pid" 2>/dev/null
  [[ -n "${partial:-}" ]] && rm -rf --one-file-system "$partial"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

lock() { [[ -n "${DITTO_CPU_LOCK:-}" ]] || return 0; exec 9>"$DITTO_CPU_LOCK"; flock 9; }
unlock() { [[ -n "${DITTO_CPU_LOCK:-}" ]] || return 0; flock -u 9; exec 9>&-; }

# ---- 1. bootstrap -------------------------------------------------------------------
t=$(now)
if [[ -z "${FRESH_TARBALL:-}" ]]; then
  # The apt sources this machine is configured with (mmdebstrap's own default would be
  # deb.debian.org and security.debian.org, which a CI network may not reach).
  sources=()
  [[ -s /etc/apt/sources.list ]] && grep -q '^deb ' /etc/apt/sources.list && sources+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] && sources+=("$f")
  done
  echo "fresh-check: mmdebstrap --variant=apt bookworm from ${sources[*]:-the default mirror of mmdebstrap}" >&2
  # The name must end in .tar: mmdebstrap picks the output format from it.
  partial="${tarball%.tar}.partial.tar"
  timeout 900 mmdebstrap --quiet --variant=apt bookworm "$partial" "${sources[@]}"
  mv "$partial" "$tarball"
fi
tar -C "$root" -xf "$tarball"
echo "127.0.0.1 localhost" >"$root/etc/hosts"
[[ -s "$root/etc/resolv.conf" ]] || cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev"
if [[ ${FRESH_CCACHE:-1} == 1 ]]; then
  mkdir -p "$ccache_host" "$root/var/cache/ditto-ccache"
  mount --bind "$ccache_host" "$root/var/cache/ditto-ccache"
fi
phase[bootstrap]=$(($(now) - t))

# ---- 2. try it: clone, run.sh, the tour ---------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p=$1
  while port_busy "$p"; do p=$((p + 1)); done
  echo "$p"
}
# The README's ports unless something on this (shared) machine already listens there; then
# run.sh gets DITTO_PORT / DITTO_MOCK_PORT and the tour's URLs are rewritten to match.
gw_port=$(free_port "${FRESH_GW_PORT:-8080}")
mock_port=$(free_port "${FRESH_MOCK_PORT:-9090}")
[[ $mock_port == "$gw_port" ]] && mock_port=$(free_port $((gw_port + 1)))

t_clone=$(now)
if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
  echo "fresh-check: note: uncommitted changes are not checked (the chroot gets a clone of HEAD)" >&2
fi
git clone -q --no-hardlinks "$repo" "$root/src"
git -C "$root/src" checkout -q --detach "$(git rev-parse HEAD)"

# Each line of run.sh's output gets a timestamp, for the phase times.
exec {stamp_fd}> >(while IFS= read -r line; do printf '%(%s)T %s\n' -1 "$line"; done >"$log")
stamper_pid=$!
t_cloned=$(now)
lock
t_run=$(now)
# Waiting for the CPU lock is not part of what a new user waits for.
lock_wait=$((t_run - t_cloned))
# setsid: run.sh gets a process group of its own, as in a terminal, so SIGINT reaches it
# and its children the way Ctrl-C does. 9>&- : the CPU lock is ours, not the chroot's.
setsid chroot "$root" "${chroot_env[@]}" DITTO_PORT="$gw_port" DITTO_MOCK_PORT="$mock_port" \
  bash -c 'cd /src && bash scripts/run.sh' >&"$stamp_fd" 2>&1 9>&- &
run_pid=$!

deadline=$(($(now) + build_timeout))
until grep -q 'ditto-gateway is starting on' "$log"; do
  kill -0 "$run_pid" 2>/dev/null || { tail -40 "$log" >&2; fail "scripts/run.sh exited before its banner"; }
  (($(now) < deadline)) || { tail -40 "$log" >&2; fail "no banner within $build_timeout s"; }
  sleep 2
done
unlock
t_banner=$(now)
deadline=$(($(now) + 30))
until chroot "$root" "${chroot_env[@]}" curl -fsS -o /dev/null "http://127.0.0.1:$gw_port/health" 2>/dev/null; do
  kill -0 "$run_pid" 2>/dev/null || { tail -40 "$log" >&2; fail "the gateway exited after the banner"; }
  (($(now) < deadline)) || { tail -40 "$log" >&2; fail "/health did not answer within 30 s of the banner"; }
  sleep 0.5
done
t_first=$(now)
# deps = run.sh start to apt's last line (nothing if nothing was installed); build = the rest.
deps_end=$(awk '/^[0-9]+ (Setting up|Processing triggers)/ {t=$1} END {print t}' "$log")
phase[deps]=$((${deps_end:-$t_run} - t_run))
phase[build]=$((t_banner - ${deps_end:-$t_run}))
phase[clone_to_first_curl]=$((t_first - t_clone - lock_wait))

# What each tour command must answer: a substring of the command (the first entry contained
# in it applies, so the more specific come first), the status (HTTP status for curl, from
# curl's write-out on stderr; "exit=N" for other commands; "-" when the command pipes curl's
# output into grep, whose exit status then is the check) and a string the output contains.
IFS= read -r -d '' checks <<'TABLE' || true  # read -d '': the whole table; its status is 1 at EOF
-D - -o /dev/null	-	x-ditto-cache: hit
curl -sN http://127.0.0.1:8080/v1/chat/completions	200	data: [DONE]
curl -s http://127.0.0.1:8080/v1/chat/completions	200	"chat.completion"
curl -sN http://127.0.0.1:9090/v1/chat/completions	200	data: [DONE]
curl -s http://127.0.0.1:9090/v1/chat/completions	200	"model":"gpt-4o-mini"
Bearer wrong	401	"error"
/v1/models -H 'Authorization: Bearer vk-demo-123'	200	"gpt-4o-mini"
8080/health	200	"status":"ok"
/metrics/prometheus	-	requests_by_key
8080/metrics	200	"backend_calls"
/admin/keys	200	"id"
/admin/audit/export	200	"hash"
--dotenv configs/demo.env --check-config	exit=0	configs/demo.json: OK (1 backends, 1 virtual keys, 0 router rules)
> /tmp/bad.json	exit=0	
/tmp/bad.json --check-config	exit=1	virtual_keys[0]
TABLE

# The tour (scripts/readme-tour.sh): every command counts, the curls to the gateway and to
# the mock (:9090), and the build/ binaries' --check-config lines.
mapfile -t tour < <(scripts/readme-tour.sh)
((${#tour[@]} >= 10)) || fail "only ${#tour[@]} commands found in README.md's tour (the awk above needs updating?)"

# curl's write-out to stderr (%{stderr}, curl >= 7.63): the status of every curl, even one
# whose output goes through a pipe, without changing the command.
mkdir -p "$root/tmp/fresh-curl"
printf 'write-out = "%%{stderr}@status %%{http_code}\\n"\n' >"$root/tmp/fresh-curl/.curlrc"

t_tour=$(now)
declare -A used
failures=0
n=0
for cmd in "${tour[@]}"; do
  n=$((n + 1))
  key="" want="" needle=""
  while IFS=$'\t' read -r k s w; do
    [[ -n "$k" ]] || continue
    if [[ "$cmd" == *"$k"* ]]; then key=$k want=$s needle=$w; break; fi
  done <<<"$checks"
  if [[ -z "$key" ]]; then
    echo "fresh-check: tour command $n has no check in scripts/fresh-check.sh: $cmd" >&2
    failures=$((failures + 1)); continue
  fi
  used[$key]=1
  run_cmd=${cmd//127.0.0.1:8080/127.0.0.1:$gw_port}
  run_cmd=${run_cmd//127.0.0.1:9090/127.0.0.1:$mock_port}
  rc=0
  timeout 30 chroot "$root" "${chroot_env[@]}" CURL_HOME=/tmp/fresh-curl \
    bash -c "cd /src && $run_cmd" >"$work/out" 2>"$work/err" || rc=$?
  got_status=$(sed -n 's/^@status //p' "$work/err" | tail -1)
  ok=1
  case "$want" in
    -) ((rc == 0)) || ok=0 ;;
    exit=*) [[ "$rc" == "${want#exit=}" ]] || ok=0 ;;
    *) [[ $rc -eq 0 && "$got_status" == "$want" ]] || ok=0 ;;
  esac
  # curl's answer is its stdout; another command's messages may go to stderr (--check-config).
  out_files=("$work/out")
  [[ "$cmd" == curl* ]] || out_files+=("$work/err")
  if [[ -n "$needle" ]] && ! grep -qF -- "$needle" "${out_files[@]}"; then ok=0; fi
  if ((ok)); then
    echo "fresh-check: tour $n ok ($want${got_status:+, got $got_status}): ${cmd:0:90}" >&2
  else
    echo "fresh-check: tour $n FAILED: $cmd" >&2
    echo "  want $want and '$needle'; exit $rc, status '${got_status}'; output:" >&2
    head -c 600 "$work/out" >&2; echo >&2; grep -v '^@status' "$work/err" | head -5 >&2
    failures=$((failures + 1))
  fi
done
while IFS=$'\t' read -r k _ _; do
  [[ -z "$k" || -n "${used[$k]:-}" ]] || { echo "fresh-check: check '$k' matches no README tour command" >&2; failures=$((failures + 1)); }
done <<<"$checks"
phase[tour]=$(($(now) - t_tour))
((failures == 0)) || fail "$failures tour check(s) failed"

# Ctrl-C: SIGINT to run.sh's process group. The gateway drains and exits 0, run.sh's EXIT
# trap stops the mock, so run.sh exits 0 (130 would mean bash died of the signal itself).
kill -INT -- "-$run_pid"
rc=0
deadline=$(($(now) + 40))
while kill -0 "$run_pid" 2>/dev/null; do
  (($(now) < deadline)) || fail "scripts/run.sh still running 40 s after SIGINT"
  sleep 0.5
done
wait "$run_pid" || rc=$?
((rc == 0)) || { tail -20 "$log" >&2; fail "scripts/run.sh exited $rc after SIGINT (want 0)"; }
sleep 1
[[ -z "$(in_chroot_pids)" ]] || { ps -o pid,args -p "$(in_chroot_pids | paste -sd,)" >&2; fail "processes left in the chroot after SIGINT"; }
echo "fresh-check: SIGINT: scripts/run.sh exited 0, nothing left running" >&2

# ---- 3. test it ---------------------------------------------------------------------
if [[ "$test_stages" != none ]]; then
  lock
  t=$(now)  # after the lock: waiting for it is not the test command's time
  rc=0
  timeout "$test_timeout" chroot "$root" "${chroot_env[@]}" DITTO_TEST_STAGES="$test_stages" \
    bash -c 'cd /src && bash scripts/test.sh' >"$work/test.log" 2>&1 9>&- || rc=$?
  unlock
  phase[test]=$(($(now) - t))
  grep -E '^== test.sh|tests passed|tests failed' "$work/test.log" >&2 || true
  ((rc == 0)) || { tail -60 "$work/test.log" >&2; fail "DITTO_TEST_STAGES='$test_stages' bash scripts/test.sh exited $rc"; }
fi

echo "fresh-check: passed. Times (s): bootstrap ${phase[bootstrap]}, run.sh deps ${phase[deps]}," \
  "run.sh build ${phase[build]}, clone to first answered curl ${phase[clone_to_first_curl]}," \
  "tour ${phase[tour]} (${#tour[@]} commands)," \
  "test command (DITTO_TEST_STAGES=$test_stages) ${phase[test]:-skipped}" >&2
