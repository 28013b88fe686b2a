#!/usr/bin/env bash
# The one test command (README, .ci/run): install what is missing, then run stages, each
# stopping the run at its first failure (docs/testing.md):
#   lint     bash -n + shellcheck on every script, clang-format on every C++ file (seconds)
#   build    the release binaries (-O2, warnings as errors), as scripts/run.sh and the
#            Dockerfile build them: -O2 warns where -O1 does not                     build/
#   sdk      the official openai, @anthropic-ai/sdk, ai + @ai-sdk/openai and @langchain/openai
#            npm packages and Gemini REST against the gateway before a chat-only mock
#            (scripts/sdk-check.sh; `npm ci`, so it needs the npm registry)       build/
#   monitoring  configs/monitoring against a real Prometheus: two gateways on a Redis under a
#            little traffic, every dashboard query and rule expression through its HTTP API,
#            the backend-down, budget and Redis alerts firing, promtool check rules
#            (scripts/monitoring-check.sh, about 30 s)                           build/
#   console  the operator console in Debian's chromium driven by puppeteer-core: sign in, keys,
#            spend, audit export verified, tenant confinement, CSP, first-load size
#            (scripts/console-check.sh, `npm ci`; screenshots to a temporary directory)  build/
#   closure  every header, library and CMake file that build read from outside the tree
#            comes from a package scripts/deps.sh installs (or one they depend on)   build/
#   asan     build with AddressSanitizer + UBSan (warnings as errors), every test    build-asan/
#   tsan     the concurrency-heavy suites under ThreadSanitizer                     build-tsan/
#   fuzz     each libFuzzer harness for FUZZ_SECS (20) seconds                       build-fuzz/
#   fresh    the README's two commands on a brand-new Debian 12 root (chroot): run.sh and
#            its tour, then the test command's plain stage (scripts/fresh-check.sh, root)
#   image    the Dockerfile built with buildah and its demo answering the README's chat
#            completion (scripts/image-check.sh, root)
#   plain    the release build of everything and every test                         build/
# The default is "lint build sdk monitoring console closure asan tsan fuzz fresh image" (docs/testing.md has the
# times); "plain" is the same suite as "asan" without sanitizers, a further ~2 minutes of
# tests and test builds (and what `fresh` runs in its chroot).
#   DITTO_TEST_STAGES="plain asan tsan fuzz" bash scripts/test.sh     # the suites only
set -euo pipefail
cd "$(dirname "$0")/.."
stages="${DITTO_TEST_STAGES:-lint build sdk monitoring console closure asan tsan fuzz fresh image}"
scripts/deps.sh
for stage in $stages; do
  start=$SECONDS
  echo "== test.sh: stage $stage" >&2
  case "$stage" in
    lint) scripts/lint.sh ;;
    sdk) scripts/sdk-check.sh ;;
    monitoring) scripts/monitoring-check.sh ;;
    console)
      # docs/console/*.png are regenerated on purpose (DITTO_SHOTS=docs/console), not by CI.
      shots=$(mktemp -d /tmp/ditto-shots.XXXXXX)
      DITTO_SHOTS=$shots scripts/console-check.sh
      rm -rf "$shots"
      ;;
    closure) scripts/deps-closure.sh "${BUILD_DIR:-build}" ;;
    fresh) scripts/fresh-check.sh ;;
    image) scripts/image-check.sh ;;
    build) DITTO_TARGETS="ditto-gateway ditto-mock-upstream" scripts/build.sh "$@" ;;
    plain)
      scripts/build.sh "$@"
      (cd "${BUILD_DIR:-build}" && ctest --output-on-failure --timeout 300 -j "${TEST_JOBS:-2}")
      ;;
    asan | tsan) scripts/sanitize.sh "$stage" ;;
    fuzz) FUZZ_SECS="${FUZZ_SECS:-20}" scripts/fuzz.sh ;;
    *) echo "test.sh: unknown stage '$stage' (lint build sdk monitoring console closure asan tsan fuzz fresh image plain)" >&2; exit 2 ;;
  esac
  echo "== test.sh: stage $stage passed in $((SECONDS - start)) s" >&2
done
