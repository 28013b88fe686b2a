# RE2 (Debian: libre2-dev): the SPEC's regexes (guardrails, redaction) use RE2 syntax,
# including inline flags like (?i) that std::regex does not support.
include(DittoRequire)
find_package(PkgConfig QUIET)
ditto_require_found(PKG_CONFIG_FOUND "pkg-config" pkg-config)
pkg_check_modules(RE2 QUIET IMPORTED_TARGET re2)
ditto_require_found(RE2_FOUND "RE2" libre2-dev)
add_library(ditto::re2 ALIAS PkgConfig::RE2)
