#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/config/gateway_config.hpp"
#include "ditto/core/flat_index.hpp"
#include "ditto/core/hash.hpp"
#include "ditto/middleware/guardrails.hpp"
#include "ditto/middleware/scopes.hpp"
#include "ditto/store/rate_limiter.hpp"

namespace ditto::middleware {

/// A list of virtual keys shared, not copied, by a config version and its snapshot: with a
/// million keys every copy costs hundreds of megabytes and a second of start-up.
using key_list = std::vector<config::virtual_key_config>;

/// The control plane in force: the virtual keys (indexed by token lookup key, the 32 bytes
/// of the sha256), the router, and the guardrails compiled for both. Immutable once built;
/// replaced as a whole when keys or router change, so a request sees one consistent version
/// of all three.
class key_snapshot {
  public:
    key_snapshot(std::shared_ptr<const key_list> keys, config::router_config router = {});
    /// Copies `keys` (small configs and tests).
    explicit key_snapshot(const key_list& keys, config::router_config router = {});
    /// The key whose lookup key (the sha256 of a presented token) is `lookup`, or null.
    const config::virtual_key_config* find(const core::sha256_digest& lookup) const;
    /// The key whose rotated-out `previous_token` has the lookup key `lookup`, or null
    /// (docs/governance.md, "Rotation"); its grace period is the caller's to check.
    const config::virtual_key_config* find_previous(const core::sha256_digest& lookup) const;
    std::size_t size() const { return size_; }
    const key_list& keys() const { return *keys_; }
    const config::router_config& router() const { return router_; }
    /// The router a request routes by (docs/routing.md, "Canary"): the canary's for the share
    /// of request ids it holds, else the stable one; with the version label metrics and the
    /// audit carry, `r-` and 12 hex digits of the router's SHA-256 (the same on every replica).
    struct routing {
        const config::router_config* router = nullptr;
        std::string_view version;
        bool canary = false;
    };
    routing router_for(std::string_view request_id) const;
    const std::string& router_version() const { return stable_version_; }
    /// The canary's version label; empty without one.
    const std::string& canary_version() const { return canary_version_; }
    const guardrails_index& guardrails() const { return *guardrails_; }
    /// The guardrails for a request of `key` (from this snapshot) for `model`: a matching
    /// rule's, else the key's own, found at build time rather than per request.
    const compiled_guardrails& guardrails_for(const config::virtual_key_config& key,
                                              std::string_view model) const {
        if (const auto* rule = guardrails_->rule_for(key, model))
            return *rule;
        return *scopes(key).rails;
    }
    /// Every scope id of every key (docs/governance.md, "Rate limits"), for dropping counters of
    /// removed scopes.
    std::vector<std::string> scope_ids() const;

    /// A key's `model_limits` entry (docs/governance.md, "Per-model limits"): a scope of its
    /// own, `<key>#model:<pattern>`, counted with the key's scopes in the same admission.
    struct model_scope {
        std::string prefix;  ///< the pattern without its trailing `*`
        bool exact = true;
        key_scope scope;                        ///< id, budget and its zone (no limits_config)
        std::optional<store::rate_scope> rate;  ///< when it has rpm or tpm
    };

    /// What a key is counted in, computed once per snapshot rather than per request.
    struct key_scopes {
        std::vector<key_scope> all;           ///< key, tenant, project, user (those with ids)
        std::vector<store::rate_scope> rate;  ///< the scopes with rpm or tpm (docs/governance.md)
        bool cost_budget = false;             ///< some scope has a USD budget (docs/governance.md)
        const compiled_guardrails* rails = nullptr;  ///< the key's own guardrails
        std::vector<model_scope> models;             ///< its model_limits
        /// The key's parts of its spend rows' names (store::spend_dims), encoded once here
        /// rather than for every request served: `<key>|` and `|<tenant>|<project>|<user>`.
        std::string spend_head, spend_tail;
        /// The model_limits entry for `model`: an exact pattern, else the longest prefix.
        const model_scope* model(std::string_view name) const;
    };
    /// `key` must come from this snapshot (find()).
    const key_scopes& scopes(const config::virtual_key_config& key) const {
        return scopes_[static_cast<std::size_t>(&key - keys_->data())];
    }

  private:
    std::shared_ptr<const key_list> keys_;
    std::vector<core::sha256_digest> digests_;  ///< lookup digest by index in keys_
    core::flat_index by_lookup_;                ///< over digests_
    std::size_t size_ = 0;                      ///< distinct lookup digests
    /// Rotated-out tokens' digests and their key's index, sorted: few, so searched in order.
    std::vector<std::pair<core::sha256_digest, std::uint32_t>> previous_;
    std::vector<key_scopes> scopes_;  ///< by index in keys_
    config::router_config router_;
    std::unique_ptr<guardrails_index> guardrails_;
    std::string stable_version_, canary_version_;
    std::uint32_t canary_basis_points_ = 0;  ///< of 10,000
};

/// A router's version label (docs/routing.md, "Canary"): `r-` and the first 12 hex digits of the
/// SHA-256 of its canonical JSON.
std::string router_version_of(const config::router_config& r);

/// The live snapshot, swapped atomically (Admin API and Redis propagation will swap it);
/// readers keep the snapshot they loaded for the whole request. Thread-safe.
class live_keys {
  public:
    explicit live_keys(std::shared_ptr<const key_snapshot> initial)
        : current_(std::move(initial)) {}
    std::shared_ptr<const key_snapshot> load() const {
        std::lock_guard lock(mu_);
        return current_;
    }
    void store(std::shared_ptr<const key_snapshot> next) {
        {
            std::lock_guard lock(mu_);
            current_.swap(next);
        }
        // `next` now holds the old snapshot: the last reference may free a large map, which
        // is done here, outside the lock.
    }

  private:
    // A mutex rather than std::atomic<std::shared_ptr>: libstdc++ 12 builds the latter on a
    // lock bit that ThreadSanitizer cannot see (each swap reported as a race), and one
    // uncontended lock per request costs the same as its internal spin.
    mutable std::mutex mu_;
    std::shared_ptr<const key_snapshot> current_;
};

}  // namespace ditto::middleware
