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
  tzdata  # IANA time zones of day/week/month budgets (not in a minimal Debian root)
)
# kubectl renders the Kustomize overlays of configs/kubernetes in the tests (tests/deploy). Debian's
# kubernetes-client (1.20) only where there is no kubectl: it conflicts with one from elsewhere.
command -v kubectl >/dev/null || packages+=(kubernetes-client)
# Extra sets: `deps.sh bench` adds the load generator (nginx, the reference proxy, is in the base set); `deps.sh fuzz`
# clang with libFuzzer and the sanitizer runtimes, and llvm-symbolizer for readable reports;
# `deps.sh fresh` what scripts/fresh-check.sh and the image stage need: mmdebstrap builds a
# brand-new Debian 12 root, buildah builds the Dockerfile, podman imports the base image
# (its `run` does not work in our sandbox, buildah's chroot isolation does), psmisc's fuser
# stops what is left in the chroot.
# `deps.sh sdk` Node.js and npm for scripts/sdk-check.sh, which runs `npm ci` with them (the
# SDKs themselves run on the Node 22 its lock file pins). A nodejs from elsewhere (NodeSource)
# that bundles npm and Provides it satisfies `npm`: installing Debian's npm would remove it.
# `deps.sh console` Debian's chromium (and Node.js, npm) for scripts/console-check.sh: puppeteer-core
# drives /usr/bin/chromium and downloads no browser.
# `deps.sh --list [set]` prints the packages, one a line, and installs nothing: the
# dependency-closure check (scripts/deps-closure.sh) reads the list from here.
list_only=0
if [[ "${1:-}" == "--list" ]]; then
  list_only=1
  shift
fi
case "${1:-}" in
  "") ;;
  bench) packages+=(wrk) ;;
  fuzz) packages+=(clang libclang-rt-14-dev llvm-14) ;;
  fresh) packages+=(mmdebstrap buildah podman psmisc) ;;
  sdk) packages+=(nodejs npm) ;;
  console) packages+=(chromium nodejs npm) ;;
  *) echo "deps.sh: unknown set '$1' (bench fuzz fresh sdk console)" >&2; exit 2 ;;
esac
if [[ $list_only -eq 1 ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

# What the installed packages Provide (virtual names, e.g. NodeSource's nodejs provides npm).
provided=" $(dpkg-query -W -f='${Status} ${Provides}\n' 2>/dev/null | sed -n 's/^install ok installed //p' |
  tr ',' '\n' | sed 's/ *([^)]*)//; s/^ *//' | tr '\n' ' ') "
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" &&
    [[ $provided != *" $p "* ]]; then
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
