# RE2 (Debian: libre2-dev): the SPEC's regexes (guardrails, redaction) use RE2 syntax,
# including inline flags like (?i) that std::regex does not support.
include(DittoRequire)
ditto_pkg_config_target(RE2 re2 libre2-dev ditto::re2)
