# nlohmann/json (Debian: nlohmann-json3-dev). Used only in .cpp files.
include(DittoRequire)
find_package(nlohmann_json 3.10 QUIET CONFIG)
ditto_require_found(nlohmann_json_FOUND "nlohmann/json" nlohmann-json3-dev)
