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
cmake --build "$build_dir" -j "$jobs"
