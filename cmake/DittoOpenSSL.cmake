# OpenSSL (Debian: libssl-dev): TLS to upstreams and SHA-256.
include(DittoRequire)
find_package(OpenSSL QUIET)
ditto_require_found(OPENSSL_FOUND "OpenSSL" libssl-dev)
