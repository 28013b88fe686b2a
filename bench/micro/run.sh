#!/usr/bin/env bash
# Builds and runs the microbenchmarks against the project's libraries (build/ must exist).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/build.sh >/dev/null
out=$(mktemp -d /tmp/ditto-micro.XXXXXX)
trap 'rm -rf "$out"' EXIT
lib=build/src
g++ -std=gnu++20 -O2 -Iinclude bench/micro/metrics_record.cpp $lib/libditto_metrics.a \
  $lib/libditto_core.a -o "$out/metrics_record" -lpthread
taskset -c 1 "$out/metrics_record"
g++ -std=gnu++20 -O2 -Iinclude bench/micro/log_event.cpp $lib/libditto_observe.a \
  $lib/libditto_config.a $lib/libditto_log.a $lib/libditto_core.a -o "$out/log_event" \
  -lre2 -lcrypto -lpthread
# stderr to a file, as a log collector would take it; the lines themselves are not kept.
taskset -c 1 "$out/log_event" 2>"$out/log_event.log"
echo "log_event wrote $(wc -l <"$out/log_event.log") lines" >&2
g++ -std=gnu++20 -O2 -Iinclude bench/micro/dialect_translate.cpp $lib/libditto_dialect.a \
  $lib/libditto_core.a -o "$out/dialect_translate" -lcrypto
taskset -c 1 "$out/dialect_translate"
g++ -std=gnu++20 -O2 -Iinclude bench/micro/trace_encode.cpp $lib/libditto_trace.a \
  $lib/libditto_core.a -o "$out/trace_encode" -lcrypto
taskset -c 1 "$out/trace_encode"
g++ -std=gnu++20 -O2 -Iinclude -Itests bench/micro/jwt_verify.cpp tests/support/jwt_signer.cpp \
  $lib/libditto_jwt.a $lib/libditto_core.a -o "$out/jwt_verify" -lcrypto
taskset -c 1 "$out/jwt_verify"
