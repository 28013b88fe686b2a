#!/usr/bin/env bash
# The `image` stage of scripts/test.sh (docs/testing.md, docs/deployment.md): builds the
# Dockerfile and runs the image's own entrypoint and command, the demo, then the README's
# chat completion against it. Docker is not available on our CI machines; buildah is:
#
#   base images   debian:12 and debian:12-slim are one mmdebstrap --variant=apt bookworm
#                 tarball (build-fresh/debian12.tar, made by the `fresh` stage, or here if
#                 missing), imported with `podman import` and tagged with `buildah tag`, so
#                 the build pulls nothing from a container registry (none is reachable);
#   build         buildah bud --isolation chroot --network host (no OCI runtime: the sandbox
#                 refuses the setrlimit podman's runtime needs, buildah's chroot isolation
#                 works), vfs storage in a scratch directory removed at the end;
#   run           buildah from + buildah run --isolation chroot --network host of the image's
#                 ENTRYPOINT and CMD, on free loopback ports (DITTO_LISTEN / DITTO_MOCK_LISTEN,
#                 scripts/image-entrypoint.sh); the README's first tour curl must get 200 and a
#                 chat.completion; then SIGTERM and the processes must be gone.
#
# Prints the build time and the image size. Needs root. IMAGE_KEEP=1 keeps the storage.
# DITTO_CPU_LOCK: a lock file held (flock) around the image build.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[[ $(id -u) -eq 0 ]] || { echo "image-check: needs root" >&2; exit 1; }
scripts/deps.sh fresh

work=$(mktemp -d /tmp/ditto-image.XXXXXX)
store=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)
tarball="$repo/build-fresh/debian12.tar"
img=localhost/ditto-gateway:ci
fail() { echo "image-check: FAIL: $*" >&2; exit 1; }
now() { date +%s; }

ctr_root=""
in_ctr_pids() {
  local p r
  [[ -n "$ctr_root" ]] || return 0
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    [[ "$r" == "$ctr_root" || "$r" == "$ctr_root"/* ]] && echo "${p#/proc/}"
  done
  return 0
}
cleanup() {
  local rc=$? pids
  set +e
  exec 9>&-
  [[ -n "${run_pid:-}" ]] && kill -TERM -- "-$run_pid" 2>/dev/null
  pids=$(in_ctr_pids)
  if [[ -n "$pids" ]]; then
    # shellcheck disable=SC2086  # a list of pids
    kill -TERM $pids; sleep 2
    pids=$(in_ctr_pids)
    # shellcheck disable=SC2086
    [[ -n "$pids" ]] && kill -KILL $pids 2>/dev/null
  fi
  [[ -n "${ctr:-}" ]] && buildah "${store[@]}" rm "$ctr" >/dev/null 2>&1
  if grep -q " $work/" /proc/self/mountinfo; then
    awk -v w="$work/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l
  fi
  if [[ "${IMAGE_KEEP:-0}" != 1 ]]; then rm -rf --one-file-system "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- base images ----------------------------------------------------------------------
t=$(now)
if [[ ! -f "$tarball" ]]; then
  mkdir -p build-fresh
  sources=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -s "$f" ]] && grep -qE '^(deb |Types:)' "$f" && sources+=("$f")
  done
  timeout 900 mmdebstrap --quiet --variant=apt bookworm "$work/debian12.tar" "${sources[@]}"
  mv "$work/debian12.tar" "$tarball"
fi
# The tarball's /etc/apt/sources.list names this machine's mirror, which the image build's
# apt-get then uses: the configured mirror is the only one the network reaches.
timeout 300 podman "${store[@]}" import "$tarball" docker.io/library/debian:12 >/dev/null
timeout 60 buildah "${store[@]}" tag docker.io/library/debian:12 docker.io/library/debian:12-slim
t_base=$(($(now) - t))

# ---- build ----------------------------------------------------------------------------
if [[ -n "${DITTO_CPU_LOCK:-}" ]]; then exec 9>"$DITTO_CPU_LOCK"; flock 9; fi
t=$(now)  # after the lock: waiting for it is not the build's time
timeout 3600 buildah "${store[@]}" bud --isolation chroot --network host --pull-never \
  --layers=false -t "$img" . 9>&- >"$work/bud.log" 2>&1 || { tail -40 "$work/bud.log" >&2; fail "buildah bud"; }
exec 9>&-
t_build=$(($(now) - t))
size=$(buildah "${store[@]}" images --format '{{.Size}}' "$img")
echo "image-check: built $img in $t_build s, size $size (base images $t_base s)" >&2

# ---- run its own entrypoint and command -------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
gw_port=18080 mock_port=19090
while port_busy "$gw_port"; do gw_port=$((gw_port + 1)); done
while port_busy "$mock_port" || ((mock_port == gw_port)); do mock_port=$((mock_port + 1)); done

ctr=$(buildah "${store[@]}" from --pull-never "$img")
ctr_root=$(buildah "${store[@]}" mount "$ctr")
mapfile -t argv < <(buildah "${store[@]}" inspect --format \
  '{{range .OCIv1.Config.Entrypoint}}{{println .}}{{end}}{{range .OCIv1.Config.Cmd}}{{println .}}{{end}}' "$img" | sed '/^$/d')
echo "image-check: buildah run ${argv[*]} (gateway 127.0.0.1:$gw_port, mock 127.0.0.1:$mock_port)" >&2
setsid buildah "${store[@]}" run --isolation chroot --network host \
  --env "DITTO_LISTEN=127.0.0.1:$gw_port" --env "DITTO_MOCK_LISTEN=127.0.0.1:$mock_port" \
  "$ctr" -- "${argv[@]}" >"$work/ctr.log" 2>&1 &
run_pid=$!
deadline=$(($(now) + 30))
until curl -fsS -o /dev/null "http://127.0.0.1:$gw_port/health" 2>/dev/null; do
  kill -0 "$run_pid" 2>/dev/null || { cat "$work/ctr.log" >&2; fail "the container exited"; }
  (($(now) < deadline)) || { cat "$work/ctr.log" >&2; fail "/health did not answer within 30 s"; }
  sleep 0.5
done

# The README's chat completion: the first curl of its tour, taken from README.md.
chat=$(scripts/readme-tour.sh | head -1)
[[ "$chat" == "curl -s http://127.0.0.1:8080/v1/chat/completions"* ]] || fail "README tour's first curl is not the chat completion: $chat"
chat=${chat//127.0.0.1:8080/127.0.0.1:$gw_port}
out=$(bash -c "$chat -w '\n@status %{http_code}'")
if ! grep -q '^@status 200$' <<<"$out" || ! grep -q '"chat.completion"' <<<"$out"; then
  echo "$out" >&2; fail "the README's chat completion against the image"
fi
echo "image-check: README chat completion against the image: 200, chat.completion" >&2

kill -TERM -- "-$run_pid"
deadline=$(($(now) + 40))
while kill -0 "$run_pid" 2>/dev/null || [[ -n "$(in_ctr_pids)" ]]; do
  (($(now) < deadline)) || fail "the container still runs 40 s after SIGTERM"
  sleep 0.5
done
run_pid=""
echo "image-check: passed. base images ${t_base} s, buildah bud ${t_build} s, image size $size" >&2
