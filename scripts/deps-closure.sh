#!/usr/bin/env bash
# The dependency-closure check (stage `closure` of scripts/test.sh, docs/testing.md): every
# file the build in BUILD_DIR (default build/) read from outside the source and build trees
# must come from a Debian package that scripts/deps.sh installs, or from the dependency
# closure of those (Depends, Pre-Depends, and the packages that Provide a virtual one).
# A build that works only because this machine happens to have a package installed fails
# here, on any machine: that is how libboost-system1.81-dev slipped through (issue 18).
#
# What the build read, from Ninja and CMake's own records:
#   headers      `ninja -t deps` (the compiler's depfiles) of every object built so far;
#   libraries    the LINK_LIBRARIES of every link step in build.ninja: absolute paths, and
#                -lNAME resolved the way the compiler would (gcc -print-file-name);
#   CMake files  the inputs of build.ninja's RERUN_CMAKE step: every CMakeLists, module and
#                package config file (e.g. BoostConfig.cmake) the configure step read.
# Each file is mapped to its package with `dpkg -S` (through its real path too, since
# /lib is /usr/lib on Debian 12). Files no package owns fail as well (/usr/local, pip, ...).
#
#   bash scripts/deps-closure.sh [BUILD_DIR] [SET...]    # SET: extra deps.sh sets (fuzz)
#
# Exceptions, one a line, "package: why": files the build reads only when they are present.
optional="libgmock-dev: GTestConfig.cmake includes GMockTargets.cmake OPTIONAL; no target uses GMock"
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build}"
shift || true
[[ -f "$build_dir/build.ninja" ]] || { echo "deps-closure: no $build_dir/build.ninja (build first)" >&2; exit 2; }
bld=$(cd "$build_dir" && pwd -P)
# The source tree that build was configured from (not necessarily this checkout).
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$bld/CMakeCache.txt")
src=$(cd "$src" && pwd -P)

listed=$(scripts/deps.sh --list)
for set in "$@"; do listed+=$'\n'$(scripts/deps.sh --list "$set"); done
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$bld/CMakeCache.txt")

work=$(mktemp -d /tmp/ditto-closure.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Headers (depfiles). Entries are absolute or relative to the build directory.
ninja -C "$bld" -t deps | awk '/^    / {print $1}' >"$work/headers.raw"
# Link lines: LINK_LIBRARIES of every link statement.
sed -n 's/^ *LINK_LIBRARIES = //p' "$bld/build.ninja" | tr ' ' '\n' | sed '/^$/d' | sort -u >"$work/libs.raw"
# The configure step's inputs: the RERUN_CMAKE statement, `$`-continued lines joined.
awk '/^build build\.ninja.*: RERUN_CMAKE/ {on = 1}
     on {line = line $0; if ($0 !~ /\$$/) exit; sub(/\$$/, "", line)}
     END {print line}' "$bld/build.ninja" | tr ' ' '\n' | sed -n 's/^\(\/.*\)/\1/p' >"$work/cmake.raw"

: >"$work/files"
while IFS= read -r f; do
  case "$f" in /*) ;; *) f="$bld/$f" ;; esac
  echo "header $f" >>"$work/files"
done <"$work/headers.raw"
while IFS= read -r t; do
  case "$t" in
    -l*) lib=$("$compiler" -print-file-name="lib${t#-l}.so")
      [[ "$lib" == /* ]] || lib=$("$compiler" -print-file-name="lib${t#-l}.a")
      [[ "$lib" == /* ]] || { echo "deps-closure: cannot resolve $t" >&2; echo "unresolved $t" >>"$work/files"; continue; }
      echo "library $lib" >>"$work/files" ;;
    -*) ;;  # linker flags (-pthread, -Wl,...): no file
    /*) echo "library $t" >>"$work/files" ;;
    *) [[ "$t" == *.a || "$t" == *.so* ]] && echo "library $bld/$t" >>"$work/files" ;;
  esac
done <"$work/libs.raw"
while IFS= read -r f; do echo "cmake $f" >>"$work/files"; done <"$work/cmake.raw"

optional="$optional" listed="$listed" src="$src" bld="$bld" python3 - "$work/files" <<'PY'
import os, re, subprocess, sys

src, bld = os.environ["src"], os.environ["bld"]
listed = set(os.environ["listed"].split())
optional = dict(l.split(": ", 1) for l in os.environ["optional"].splitlines() if l.strip())

# 1. The files from outside both trees, by kind.
outside = {}
for line in open(sys.argv[1]):
    kind, path = line.rstrip("\n").split(" ", 1)
    if kind == "unresolved":
        outside.setdefault(path, kind)
        continue
    norm = os.path.normpath(path)
    real = os.path.realpath(norm)
    if any(p == t or p.startswith(t + "/") for p in (norm, real) for t in (src, bld)):
        continue
    outside.setdefault(norm, kind)

# 2. Their packages: dpkg -S on the path, else on its real path and the /usr-merged twin.
def candidates(p):
    real = os.path.realpath(p)
    out = [p, real]
    for q in (p, real):
        if q.startswith("/usr/"):
            out.append(q[4:])
        else:
            out.append("/usr" + q)
    return list(dict.fromkeys(out))

owner = {}
def dpkg_s(paths):
    res = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True)
    for line in res.stdout.splitlines():
        if line.startswith("diversion by"):
            continue
        pkgs, _, path = line.partition(": ")
        for p in pkgs.split(", "):
            owner.setdefault(path, set()).add(p.split(":")[0])

for pass_ in range(2):
    todo = [q for p in outside if not any(c in owner for c in candidates(p)) for q in (candidates(p) if pass_ else [p])]
    for i in range(0, len(todo), 500):
        dpkg_s(todo[i:i + 500])

file_pkgs, unowned = {}, []
for p, kind in sorted(outside.items()):
    pk = set()
    for c in candidates(p):
        pk |= owner.get(c, set())
    if kind == "unresolved" or not pk:
        unowned.append((kind, p))
    else:
        file_pkgs[p] = (kind, pk)

# 3. The closure of deps.sh's list over the installed packages.
q = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Status}\t${Depends}, ${Pre-Depends}\t${Provides}\n"],
                   capture_output=True, text=True, check=True).stdout
deps, providers, installed = {}, {}, set()
name = lambda s: re.sub(r"[:\s(].*", "", s.strip())
for line in q.splitlines():
    pkg, status, dep, prov = (line.split("\t") + ["", "", ""])[:4]
    if not status.endswith("installed") or " installed" not in status:
        continue
    installed.add(pkg)
    deps[pkg] = [[name(a) for a in alt.split("|") if name(a)] for alt in dep.split(",") if alt.strip()]
    for v in prov.split(","):
        if name(v):
            providers.setdefault(name(v), set()).add(pkg)

missing_listed = sorted(p for p in listed if p not in installed)
closure, stack = set(), [p for p in listed if p in installed]
while stack:
    p = stack.pop()
    if p in closure:
        continue
    closure.add(p)
    for alts in deps.get(p, []):
        for a in alts:   # every installed alternative counts: apt may have picked any of them
            for c in ({a} if a in installed else set()) | providers.get(a, set()):
                if c not in closure:
                    stack.append(c)

bad = {}
ignored = {}
for p, (kind, pk) in file_pkgs.items():
    if pk & set(optional):
        ignored.setdefault(" ".join(sorted(pk)), []).append(p)
    elif not pk & closure:
        for k in sorted(pk):
            bad.setdefault(k, []).append(f"{kind} {p}")

by_kind = {}
for kind, _ in file_pkgs.values():
    by_kind[kind] = by_kind.get(kind, 0) + 1
pkgs = set().union(*(pk for _, pk in file_pkgs.values())) if file_pkgs else set()
print(f"deps-closure: {len(file_pkgs)} files from outside the tree "
      f"({', '.join(f'{n} {k}' for k, n in sorted(by_kind.items()))}) from {len(pkgs)} packages; "
      f"closure of scripts/deps.sh's {len(listed)} packages: {len(closure)} installed packages", file=sys.stderr)
print(f"deps-closure: packages: {' '.join(sorted(pkgs))}", file=sys.stderr)
rc = 0
for k, files in sorted(ignored.items()):
    print(f"deps-closure: ignored {len(files)} file(s) of {k}: {optional.get(k, '')}", file=sys.stderr)
if missing_listed:
    print(f"deps-closure: listed but not installed: {' '.join(missing_listed)}", file=sys.stderr)
    rc = 1
for k, files in sorted(bad.items()):
    print(f"deps-closure: FAIL: package {k} is not in scripts/deps.sh nor a dependency of one there; the build read:",
          file=sys.stderr)
    for f in files[:5]:
        print(f"    {f}", file=sys.stderr)
    if len(files) > 5:
        print(f"    ... and {len(files) - 5} more", file=sys.stderr)
    rc = 1
for kind, p in unowned:
    print(f"deps-closure: FAIL: {kind} {p} belongs to no Debian package", file=sys.stderr)
    rc = 1
if rc == 0:
    print("deps-closure: every package is in scripts/deps.sh or its dependency closure", file=sys.stderr)
sys.exit(rc)
PY
