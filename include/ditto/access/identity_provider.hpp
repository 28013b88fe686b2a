#pragma once

// One OpenID Connect issuer as the gateway sees it (docs/access.md): its discovery document and
// JWKS, fetched on the background thread at start, every `jwks_refresh_seconds`, and again when a
// token names a key it does not hold (at most every `jwks_min_refetch_seconds`); and the tokens
// it signed, verified against the keys held. A fetch that fails keeps the keys already held, so
// an issuer that is down does not stop tokens it signed before; a key that was never fetched
// fails closed. A token verified once is remembered per worker until it expires or the key set
// changes, so a client's every request after its first costs a hash lookup, not a signature.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ditto/access/jwt.hpp"
#include "ditto/config/access_settings.hpp"

namespace ditto::access {

/// The endpoints the discovery document names.
struct discovery_info {
    std::string issuer;
    std::string jwks_uri;
    std::string authorization_endpoint;
    std::string token_endpoint;
    std::string end_session_endpoint;  ///< may be empty
};

struct provider_stats {
    std::uint64_t fetches_ok = 0;
    std::uint64_t fetches_failed = 0;
    std::uint64_t keys = 0;
    std::int64_t last_success_ms = 0;  ///< unix ms; 0 when never
};

class identity_provider {
  public:
    /// `name` appears in logs ("operators", "clients").
    identity_provider(std::string name, config::issuer_config idp,
                      boost::asio::any_io_executor background);
    ~identity_provider();
    identity_provider(const identity_provider&) = delete;
    identity_provider& operator=(const identity_provider&) = delete;

    /// Starts fetching (discovery, then the JWKS) on the background executor.
    void start();
    /// Ends the refresh loop; idempotent.
    void stop();

    struct outcome {
        jwt_error error = jwt_error::none;
        std::shared_ptr<const verified_token> token;
        /// An unknown kid for which a fetch is running or was just asked for: waiting for it
        /// may help (verify() does).
        bool refetching = false;
        /// No key set was ever fetched: the issuer could not be reached yet.
        bool no_keys = false;
    };
    /// Never waits: the keys held now decide. An unknown kid asks for a fetch.
    outcome verify_now(std::string_view token);
    /// As verify_now(), but an unknown kid waits, at most `jwks_timeout_ms`, for the fetch it
    /// asked for. Call from a worker's event loop.
    boost::asio::awaitable<outcome> verify(std::string token);

    /// The discovery document's endpoints, once fetched.
    std::optional<discovery_info> discovery() const;
    provider_stats stats() const;
    const config::issuer_config& settings() const;

    struct impl;

  private:
    std::shared_ptr<impl> impl_;
};

}  // namespace ditto::access
