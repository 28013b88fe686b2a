# hiredis (Debian: libhiredis-dev 0.14): only its RESP reader is used; Asio owns the socket.
include(DittoRequire)
ditto_pkg_config_target(HIREDIS hiredis libhiredis-dev ditto::hiredis)
