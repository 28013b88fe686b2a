# RE2 (Debian: libre2-dev): the config's regexes (guardrails, redaction; docs/configuration.md)
# use RE2 syntax, including inline flags like (?i) that std::regex does not support.
include(DittoRequire)
ditto_pkg_config_target(RE2 re2 libre2-dev ditto::re2)
