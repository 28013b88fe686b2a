#!/usr/bin/env bash
# Builds and runs the microbenchmarks against the project's libraries (build/ must exist).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/build.sh >/dev/null
out=$(mktemp -d /tmp/ditto-micro.XXXXXX)
trap 'rm -rf "$out"' EXIT
g++ -std=gnu++20 -O2 -Iinclude bench/micro/metrics_record.cpp build/src/libditto_metrics.a \
  build/src/libditto_core.a -o "$out/metrics_record" -lpthread
taskset -c 1 "$out/metrics_record"
