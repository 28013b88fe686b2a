#pragma once

// TLS to Redis (`rediss://`, docs/redis.md "TLS"): the client context every connection of a
// store shares. It is made once at start-up, so a CA, certificate or key file that cannot be
// read stops the gateway there, with a message naming the flag, not on the first request.

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace ditto::store::redis {

struct redis_tls_options {
    std::string ca_file;    ///< PEM bundle to trust; empty: the system's CA store
    std::string cert_file;  ///< client certificate chain (PEM) for mTLS; with key_file
    std::string key_file;   ///< its private key (PEM)
    /// No certificate or host-name check at all: a test rig only. The caller logs a warning.
    bool insecure_skip_verify = false;
};

/// A TLS 1.2+ client context; nullptr with `error` set (naming the file, never its content)
/// when a file cannot be used.
std::shared_ptr<boost::asio::ssl::context> make_redis_tls_context(const redis_tls_options& opt,
                                                                  std::string& error);

}  // namespace ditto::store::redis
