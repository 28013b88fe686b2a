#!/usr/bin/env bash
# Builds and runs the suite under sanitizers, in trees of their own (docs/testing.md):
#   scripts/sanitize.sh asan   ASan + UBSan, every test           (build-asan/)
#   scripts/sanitize.sh tsan   TSan, the concurrency-heavy suites (build-tsan/)
# Sanitizer trees build at -O1 with line tables only: a third less compile time than -O2 -g,
# and reports still name file:line.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:?usage: scripts/sanitize.sh asan|tsan}"
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1")
# Concurrency-heavy: shared state across workers and threads (memory store, cache tiers,
# single-flight, metrics shards, backend health, the server's drain), and the real gateway
# with several workers under traffic; the span exporter's and the identity providers' loops on
# the background thread.
tsan_tests=(store_unit_tests store_contract_tests cache_unit_tests gateway_integration_tests
  proxy_integration_tests cache_integration_tests routing_integration_tests
  observability_integration_tests fault_integration_tests redis_integration_tests
  tracing_integration_tests access_integration_tests)
case "$kind" in
  asan)
    export BUILD_DIR=build-asan
    scripts/build.sh -DDITTO_SANITIZE=address,undefined "${flags[@]}"
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    cd build-asan
    ctest --output-on-failure --timeout 600 -j "${TEST_JOBS:-2}"
    ;;
  tsan)
    export BUILD_DIR=build-tsan
    cmake -S . -B build-tsan -G Ninja -DDITTO_WERROR=ON -DDITTO_SANITIZE=thread "${flags[@]}" >/dev/null
    cmake --build build-tsan -j "${JOBS:-$(nproc)}" --target ditto-gateway ditto-mock-upstream "${tsan_tests[@]}"
    # halt_on_error: a race ends the process, so the test that provoked it fails.
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
    cd build-tsan
    regex="^($(IFS='|'; echo "${tsan_tests[*]}"))\$"
    ctest --output-on-failure --timeout 600 -j "${TEST_JOBS:-2}" -R "$regex"
    ;;
  *) echo "sanitize.sh: unknown kind '$kind' (asan|tsan)" >&2; exit 2 ;;
esac
