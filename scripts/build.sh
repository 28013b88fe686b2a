#!/usr/bin/env bash
# Configures (once) and builds ditto-gateway into build/ with warnings as errors.
# Extra arguments are passed to the CMake configure step, e.g. -DDITTO_SANITIZE=address,undefined
# (use BUILD_DIR=build-asan for a separate tree).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${BUILD_DIR:-build}"
jobs="${JOBS:-$(nproc)}"
if [[ ! -f "$build_dir/build.ninja" || $# -gt 0 ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DDITTO_WERROR=ON "$@" >/dev/null
fi
# DITTO_TARGETS: build only these (e.g. "ditto-gateway ditto-mock-upstream"); default all.
# shellcheck disable=SC2086  # a list of target names on purpose
cmake --build "$build_dir" -j "$jobs" ${DITTO_TARGETS:+--target $DITTO_TARGETS}
