# Boost 1.81 (Debian: libboost1.81-dev). The default Debian Boost is 1.74, which lacks the
# Asio/Beast coroutine fixes we rely on, so the version is exact.
include(DittoRequire)
find_package(Boost 1.81.0 EXACT QUIET CONFIG COMPONENTS system)
ditto_require_found(Boost_FOUND "Boost 1.81 (Asio, Beast, System)" libboost1.81-dev)
