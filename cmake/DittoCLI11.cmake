# CLI11 (Debian: libcli11-dev), header-only; used by src/main.cpp and the mock only.
include(DittoRequire)
find_package(CLI11 QUIET CONFIG)
ditto_require_found(CLI11_FOUND "CLI11" libcli11-dev)
