#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ditto/config/gateway_config.hpp"
#include "ditto/middleware/guardrails.hpp"
#include "ditto/middleware/scopes.hpp"
#include "ditto/store/rate_limiter.hpp"

namespace ditto::middleware {

/// The control plane in force: the virtual keys (indexed by token lookup key, sha256 hex),
/// the router, and the guardrails compiled for both. Immutable once built; replaced as a
/// whole when keys or router change, so a request sees one consistent version of all three.
class key_snapshot {
  public:
    key_snapshot(const std::vector<config::virtual_key_config>& keys,
                 config::router_config router = {});
    /// The key whose lookup key is `lookup_hex`, or null.
    const config::virtual_key_config* find(std::string_view lookup_hex) const;
    std::size_t size() const { return by_lookup_.size(); }
    const config::router_config& router() const { return router_; }
    const guardrails_index& guardrails() const { return *guardrails_; }
    /// Every scope id of every key (SPEC §6.1), for dropping counters of removed scopes.
    std::vector<std::string> scope_ids() const;

    /// What a key is counted in, computed once per snapshot rather than per request.
    struct key_scopes {
        std::vector<key_scope> all;           ///< key, tenant, project, user (those with ids)
        std::vector<store::rate_scope> rate;  ///< the scopes with rpm or tpm (SPEC §3.4)
        bool cost_budget = false;             ///< some scope has total_usd_micros (§3.8)
    };
    /// `key` must come from this snapshot (find()).
    const key_scopes& scopes(const config::virtual_key_config& key) const;

  private:
    std::unordered_map<std::string, config::virtual_key_config> by_lookup_;
    /// By the address of a key in by_lookup_ (node-based: addresses are stable).
    std::unordered_map<const config::virtual_key_config*, key_scopes> scopes_;
    config::router_config router_;
    std::unique_ptr<guardrails_index> guardrails_;
};

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
