#!/usr/bin/env bash
# The `lint` stage of scripts/test.sh (docs/testing.md), a few seconds: `bash -n` and
# ShellCheck at all severities on every shell script under scripts/ (a finding the code is
# right about gets a targeted disable directive with the reason, on its line),
# bench/, .ci/ and tests/, and clang-format --dry-run -Werror (.clang-format) on every C++
# source, so a formatting slip fails CI instead of the next editor's reformat.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v shellcheck >/dev/null || ! command -v clang-format >/dev/null; then scripts/deps.sh; fi

# Shell scripts: *.sh, and files whose first line names sh or bash (.ci/run has no suffix).
scripts=()
while IFS= read -r -d '' f; do
  if [[ "$f" == *.sh ]] || head -n1 "$f" | grep -qE '^#!.*\b(ba)?sh\b'; then scripts+=("$f"); fi
done < <(find scripts bench .ci tests -type f ! -name '*.py' ! -name '*.lua' -print0 | sort -z)
((${#scripts[@]} > 0)) || { echo "lint: no scripts found" >&2; exit 1; }
for f in "${scripts[@]}"; do bash -n "$f"; done
# -x: follow `source bench/common.sh` and check it in context.
shellcheck -x "${scripts[@]}"
echo "lint: bash -n and shellcheck: ${#scripts[@]} scripts clean" >&2

mapfile -d '' sources < <(find src include tests bench \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) -print0 | sort -z)
clang-format --dry-run -Werror "${sources[@]}"
echo "lint: clang-format: ${#sources[@]} C++ files clean" >&2
