#!/usr/bin/env bash
# The one test command (README, .ci/run): install what is missing, then run stages, each
# stopping the run at its first failure (docs/testing.md):
#   asan   build with AddressSanitizer + UBSan (warnings as errors), run every test  build-asan/
#   tsan   the concurrency-heavy suites under ThreadSanitizer                       build-tsan/
#   fuzz   each libFuzzer harness for FUZZ_SECS (20) seconds                         build-fuzz/
#   plain  the release build (-O2) and every test                                   build/
# The default is "asan tsan fuzz": with "plain" too, a clean run on 2 cores takes ~27 min,
# too close to CI's 30. The release build is what scripts/run.sh and the Dockerfile build.
#   DITTO_TEST_STAGES="plain asan tsan fuzz" bash scripts/test.sh     # everything
set -euo pipefail
cd "$(dirname "$0")/.."
stages="${DITTO_TEST_STAGES:-asan tsan fuzz}"
scripts/deps.sh
for stage in $stages; do
  start=$SECONDS
  echo "== test.sh: stage $stage" >&2
  case "$stage" in
    plain)
      scripts/build.sh "$@"
      (cd "${BUILD_DIR:-build}" && ctest --output-on-failure --timeout 300 -j "${TEST_JOBS:-2}")
      ;;
    asan | tsan) scripts/sanitize.sh "$stage" ;;
    fuzz) FUZZ_SECS="${FUZZ_SECS:-20}" scripts/fuzz.sh ;;
    *) echo "test.sh: unknown stage '$stage' (plain asan tsan fuzz)" >&2; exit 2 ;;
  esac
  echo "== test.sh: stage $stage passed in $((SECONDS - start)) s" >&2
done
