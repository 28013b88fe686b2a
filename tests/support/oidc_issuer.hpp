#pragma once

// A small OpenID Connect issuer the test runs (docs/access.md, "Tests"): discovery and a JWKS
// over real loopback HTTP, keys made with OpenSSL (jwt_signer.hpp), published or not at the
// test's choice, and an outage switch (every connection reset). Thread-safe.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/jwt_signer.hpp"
#include "support/raw_server.hpp"

namespace ditto::test {

class oidc_issuer {
  public:
    oidc_issuer();
    /// http://127.0.0.1:PORT (also `iss`).
    std::string url() const;
    /// Makes a key; published in the JWKS at once unless `publish` is false.
    const signing_key& add_key(const std::string& alg, const std::string& kid, bool publish = true);
    void publish(const std::string& kid, bool on);
    /// Every connection reset: discovery and JWKS unreachable.
    void set_down(bool down) { down_ = down; }
    int jwks_fetches() const { return jwks_fetches_.load(); }
    /// The request target of the last JWKS fetch (path and query).
    std::string last_jwks_target() const;
    /// A token by key `kid` with iss = url(), aud, exp = now + ttl, and `extra` claims (a JSON
    /// object's members, without braces: `"sub":"ana","groups":["admin"]`).
    std::string token(const std::string& kid, const std::string& extra, long long ttl = 300,
                      const std::string& aud = "ditto-gateway") const;
    /// The same with another `iss`.
    std::string token_for(const std::string& iss, const std::string& kid, const std::string& extra,
                          long long ttl, const std::string& aud) const;

  private:
    void serve(int fd);
    std::string jwks() const;

    mutable std::mutex mu_;
    std::map<std::string, std::unique_ptr<signing_key>> keys_;
    std::vector<std::string> published_;
    std::string last_jwks_target_;
    std::atomic<bool> down_{false};
    std::atomic<int> jwks_fetches_{0};
    /// Set once the server runs; read by its connection threads (which start before the
    /// constructor returns), hence atomic rather than through server_.
    std::atomic<int> port_{0};
    std::unique_ptr<raw_server> server_;  // last: stopped first
};

}  // namespace ditto::test
