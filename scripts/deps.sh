#!/usr/bin/env bash
# Installs the Debian 12 packages ditto-gateway needs to build, test and demo, and only those
# that are missing (so a second run does not touch apt at all). Uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  libboost1.81-dev libssl-dev nlohmann-json3-dev libhiredis-dev
  libcli11-dev libre2-dev libmimalloc-dev libgtest-dev googletest redis-server clang-format
  prometheus  # promtool checks the /metrics/prometheus output in the tests
  python3-yaml  # parses configs/kubernetes/*.yaml in the tests
  nginx-light  # the front proxy of scripts/cluster.sh, which the cluster test runs
  shellcheck  # the lint stage checks every script
)
# Extra sets: `deps.sh bench` adds the load generator (nginx, the reference proxy, is in the base set); `deps.sh fuzz`
# clang with libFuzzer and the sanitizer runtimes, and llvm-symbolizer for readable reports.
if [[ "${1:-}" == "bench" ]]; then
  packages+=(wrk)
elif [[ "${1:-}" == "fuzz" ]]; then
  packages+=(clang libclang-rt-14-dev llvm-14)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
