#!/usr/bin/env bash
# The one test command (README, .ci/run): install what is missing, then run stages, each
# stopping the run at its first failure (docs/testing.md):
#   build  the release binaries (-O2, warnings as errors), as scripts/run.sh and the
#          Dockerfile build them: -O2 warns where -O1 does not                       build/
#   asan   build with AddressSanitizer + UBSan (warnings as errors), run every test  build-asan/
#   tsan   the concurrency-heavy suites under ThreadSanitizer                       build-tsan/
#   fuzz   each libFuzzer harness for FUZZ_SECS (20) seconds                         build-fuzz/
#   plain  the release build of everything and every test                           build/
# The default is "build asan tsan fuzz" (docs/testing.md has the times); "plain" is the same
# suite as "asan" without sanitizers, a further ~2 minutes of tests and test builds.
#   DITTO_TEST_STAGES="plain asan tsan fuzz" bash scripts/test.sh     # everything
set -euo pipefail
cd "$(dirname "$0")/.."
stages="${DITTO_TEST_STAGES:-build asan tsan fuzz}"
scripts/deps.sh
for stage in $stages; do
  start=$SECONDS
  echo "== test.sh: stage $stage" >&2
  case "$stage" in
    build) DITTO_TARGETS="ditto-gateway ditto-mock-upstream" scripts/build.sh "$@" ;;
    plain)
      scripts/build.sh "$@"
      (cd "${BUILD_DIR:-build}" && ctest --output-on-failure --timeout 300 -j "${TEST_JOBS:-2}")
      ;;
    asan | tsan) scripts/sanitize.sh "$stage" ;;
    fuzz) FUZZ_SECS="${FUZZ_SECS:-20}" scripts/fuzz.sh ;;
    *) echo "test.sh: unknown stage '$stage' (build asan tsan fuzz plain)" >&2; exit 2 ;;
  esac
  echo "== test.sh: stage $stage passed in $((SECONDS - start)) s" >&2
done
