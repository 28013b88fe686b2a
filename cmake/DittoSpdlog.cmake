# spdlog (Debian: libspdlog-dev), the compiled library and its fmt.
include(DittoRequire)
find_package(spdlog QUIET CONFIG)
ditto_require_found(spdlog_FOUND "spdlog" libspdlog-dev)
