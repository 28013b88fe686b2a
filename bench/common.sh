# shellcheck shell=bash  # sourced by the bench/ scripts, which are bash
# Sourced by the bench/ scripts: installs the load tools, builds, and gives the script a work
# directory and a `pids` array whose processes are stopped (and the directory removed) on exit.
# Usage: source bench/common.sh NAME   (from the repository root)
scripts/deps.sh bench
scripts/build.sh >/dev/null
work=$(mktemp -d "/tmp/ditto-$1.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
