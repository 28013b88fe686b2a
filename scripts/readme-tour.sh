#!/usr/bin/env bash
# Prints the commands of README.md's "A 5-minute tour" section, one a line: the ```sh blocks
# between that heading and the next "## " heading, backslash continuations joined, comment
# and empty lines dropped. scripts/fresh-check.sh runs and checks every one of them, and
# scripts/image-check.sh the first (the chat completion), so a drifted README fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."
awk '
  /^## A 5-minute tour/ {in_s = 1; next}
  in_s && /^## / {exit}
  in_s && /^```sh/ {in_b = 1; next}
  in_s && in_b && /^```/ {in_b = 0; next}
  in_s && in_b {
    line = cont $0; cont = ""
    if (line ~ /\\$/) { sub(/\\$/, "", line); cont = line; next }
    sub(/^[ \t]+/, "", line)
    if (line == "" || line ~ /^#/) next
    print line
  }' README.md
