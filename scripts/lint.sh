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
# tests/sdk/node_modules: the npm packages `npm ci` installs for the sdk stage (not ours).
done < <(find scripts bench .ci tests -path tests/sdk/node_modules -prune -o -type f ! -name '*.py' ! -name '*.lua' -print0 | sort -z)
((${#scripts[@]} > 0)) || { echo "lint: no scripts found" >&2; exit 1; }
for f in "${scripts[@]}"; do bash -n "$f"; done
# -x: follow `source bench/common.sh` and check it in context.
shellcheck -x "${scripts[@]}"
echo "lint: bash -n and shellcheck: ${#scripts[@]} scripts clean" >&2

# Every file git keeps with a #! line must be committed executable: test.sh and the docs run
# scripts by path, and a 100644 script only fails when CI reaches its stage ("Permission
# denied" after a 5-minute build, once). Checked on the index, so a local chmod cannot hide it.
if git rev-parse --git-dir >/dev/null 2>&1; then
  not_exec=()
  while read -r mode _ _ path; do
    [[ "$mode" == 100755 ]] && continue
    [[ -f "$path" ]] && head -c2 "$path" | grep -q '^#!' && not_exec+=("$path")
  done < <(git ls-files -s -- scripts bench .ci tests)
  if ((${#not_exec[@]} > 0)); then
    printf 'lint: has a #! line but is not executable in git (git update-index --chmod=+x): %s\n' "${not_exec[@]}" >&2
    exit 1
  fi
  echo "lint: every #! file in git is executable" >&2
fi

mapfile -d '' sources < <(find src include tests bench -path tests/sdk/node_modules -prune -o \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) -print0 | sort -z)
clang-format --dry-run -Werror "${sources[@]}"
echo "lint: clang-format: ${#sources[@]} C++ files clean" >&2
