#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, docs/fuzzing.md) with clang into build-fuzz/ and
# runs each one for FUZZ_SECS seconds on a temporary copy of its seed corpus, so new inputs
# never land in the repository. A crash, timeout, leak or out-of-memory input is printed
# (path, hex dump, base64) and the script exits 1; the temporary directory is then kept.
#
#   bash scripts/fuzz.sh                      # every harness, 60 s each
#   FUZZ_SECS=20 bash scripts/fuzz.sh fuzz_config fuzz_sse_usage
#   FUZZ_SECS=0 bash scripts/fuzz.sh          # only replay the corpora (a regression check)
#
# Environment: FUZZ_SECS (60), BUILD_DIR (build-fuzz), JOBS (build jobs, nproc), FUZZ_ARGS
# (extra libFuzzer flags, e.g. "-max_len=65536").
set -euo pipefail
cd "$(dirname "$0")/.."

all=(fuzz_http_request fuzz_config fuzz_sse_usage fuzz_redact_prometheus fuzz_redis_reply fuzz_dialect)
harnesses=("$@")
[[ ${#harnesses[@]} -eq 0 ]] && harnesses=("${all[@]}")
for h in "${harnesses[@]}"; do
  if [[ ! " ${all[*]} " == *" $h "* ]]; then
    echo "fuzz.sh: unknown harness '$h' (one of: ${all[*]})" >&2
    exit 2
  fi
done
secs="${FUZZ_SECS:-60}"
build_dir="${BUILD_DIR:-build-fuzz}"
jobs="${JOBS:-$(nproc)}"

scripts/deps.sh fuzz
if [[ ! -f "$build_dir/build.ninja" ]]; then
  # Tests stay off: in this tree only the harnesses (and the libraries they link) are built.
  # -O1 with line tables, as the sanitizer trees (scripts/sanitize.sh): much less compile time,
  # and reports still name file:line.
  CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DDITTO_WERROR=ON -DDITTO_FUZZ=ON \
    -DDITTO_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" >/dev/null
fi
cmake --build "$build_dir" -j "$jobs" --target "${harnesses[@]}"

work="$(mktemp -d "${TMPDIR:-/tmp}/ditto-fuzz.XXXXXX")"
failed=()
for h in "${harnesses[@]}"; do
  dir="$work/$h"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp tests/fuzz/corpus/"$h"/* "$dir/corpus/"
  args=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/")
  if [[ "$secs" -eq 0 ]]; then
    args+=(-runs=0)  # replay the corpus once: the seeds and every crash-* input kept there
  else
    args+=(-max_total_time="$secs")
  fi
  [[ -f "tests/fuzz/$h.dict" ]] && args+=(-dict="tests/fuzz/$h.dict")
  # shellcheck disable=SC2206  # FUZZ_ARGS is a list of flags on purpose
  args+=(${FUZZ_ARGS:-})
  echo "== $h: ${secs}s on $(find "$dir/corpus" -type f | wc -l) seeds" >&2
  rc=0
  # libFuzzer stops itself after max_total_time; the outer timeout only guards against a hang
  # outside the fuzzing loop. stdin is closed so no input can make a harness wait on it.
  timeout --kill-after=10 "$((secs * 2 + 60))" \
    "$build_dir/tests/fuzz/$h" "${args[@]}" "$dir/corpus" </dev/null >"$dir/log" 2>&1 || rc=$?
  grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
    "$dir/log" >&2 || true
  artifacts=("$dir"/artifacts/*)
  if [[ $rc -ne 0 || -e "${artifacts[0]}" ]]; then
    failed+=("$h")
    echo "!! $h failed (exit $rc); log: $dir/log" >&2
    grep -E -A30 'ERROR: |invariant broken|WARNING: .*Sanitizer' "$dir/log" | head -60 >&2 || true
    for a in "${artifacts[@]}"; do
      [[ -e "$a" ]] || continue
      echo "-- artifact: $a ($(stat -c %s "$a") bytes)" >&2
      od -A x -t x1z -v "$a" | head -64 >&2
      echo "-- base64:" >&2
      base64 -w 0 "$a" >&2
      echo >&2
    done
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: failures in ${failed[*]}; inputs and logs kept in $work" >&2
  exit 1
fi
rm -rf "$work"
echo "fuzz.sh: ${#harnesses[@]} harness(es), ${secs}s each, no failure" >&2
