# Boost 1.81 (Debian: libboost1.81-dev). The default Debian Boost is 1.74, which lacks the
# Asio/Beast coroutine fixes we rely on, so the version is exact.
# Only the headers: Boost.System has been header-only since 1.69 (its library is an empty stub),
# and its CMake component lives in another package (libboost-system1.81-dev) that a new machine
# lacks. docs/build.md explains the choice.
include(DittoRequire)
find_package(Boost 1.81.0 EXACT QUIET CONFIG)
ditto_require_found(Boost_FOUND "Boost 1.81 headers (Asio, Beast, System)" libboost1.81-dev)
