# GoogleTest (Debian: libgtest-dev, googletest).
include(DittoRequire)
find_package(GTest QUIET CONFIG)
ditto_require_found(GTest_FOUND "GoogleTest" libgtest-dev)
