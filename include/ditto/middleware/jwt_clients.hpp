#pragma once

// `/v1/*` clients presenting a JWT in place of a virtual key (docs/access.md, "Clients"). The
// token's identity claim names a key, `jwt:<identity>`, made from the first key template whose
// `when` the claims match: its limits, budgets, guardrails and route, and its tenant, project
// and user (which may name claims). Counters and ledgers are keyed by those ids as for any
// key, in the shared store, so every replica counts one identity in the same place.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ditto/access/identity_provider.hpp"
#include "ditto/config/access_settings.hpp"
#include "ditto/http/gateway_error.hpp"
#include "ditto/middleware/keys.hpp"

namespace ditto::middleware {

class jwt_clients {
  public:
    jwt_clients(config::client_access_config cfg, std::shared_ptr<access::identity_provider> idp);

    struct result {
        /// The identity's key and the snapshot that holds it (the base's router with that one
        /// key); null with `error` set otherwise.
        std::shared_ptr<const key_snapshot> snapshot;
        const config::virtual_key_config* key = nullptr;
        http::gateway_error error = http::gateway_error::invalid_api_key;
        std::string message;
        bool wait = false;  ///< an unknown signing key being fetched: resolve() may help
    };
    /// Never waits (the keys held now decide). `base`: the live snapshot, whose router the
    /// identity's key is routed by.
    result resolve_now(std::string_view token, const std::shared_ptr<const key_snapshot>& base);
    /// As resolve_now(), waiting for a running key fetch (bounded by jwks_timeout_ms).
    boost::asio::awaitable<result> resolve(std::string token,
                                           std::shared_ptr<const key_snapshot> base);

  private:
    result map(const access::identity_provider::outcome& v,
               const std::shared_ptr<const key_snapshot>& base);
    result build(const access::verified_token& t, const std::shared_ptr<const key_snapshot>& base);

    config::client_access_config cfg_;
    std::shared_ptr<access::identity_provider> idp_;
    std::uint64_t instance_;  ///< names this instance in the workers' memories
    // Identities' snapshots, shared by the workers, for the base snapshot they were made
    // from (dropped when it is replaced: a new router).
    std::mutex mu_;
    std::weak_ptr<const key_snapshot> built_for_;
    std::unordered_map<std::string, std::shared_ptr<const key_snapshot>> built_;
};

}  // namespace ditto::middleware
