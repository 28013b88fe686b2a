#pragma once

// The proxy cache (docs/caching.md): the memory tier, the shared tier when the
// store has one, single-flight for concurrent misses, and purge. The middleware decides
// what is eligible and builds the responses; this holds and finds entries.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ditto/cache/entry.hpp"
#include "ditto/cache/memory_cache.hpp"
#include "ditto/cache/single_flight.hpp"
#include "ditto/config/cache_settings.hpp"

namespace ditto::store {
class cache_store;
}  // namespace ditto::store

namespace ditto::cache {

using cache_options = config::proxy_cache_settings;

enum class hit_source : std::uint8_t { memory, redis };

struct lookup_result {
    std::shared_ptr<const entry> hit;  ///< null on a miss
    hit_source source = hit_source::memory;
};

/// A purge (docs/admin-api.md, "Cache purge"): everything, one key, or the entries matching every
/// field given.
struct purge_selector {
    bool all = false;
    std::optional<std::string> cache_key, scope, method, path, model;
    bool empty() const { return !all && !cache_key && !scope && !method && !path && !model; }
    bool matches(const entry_metadata& m) const;
};

struct purge_result {
    bool cleared_memory = false;  ///< `all`: the memory tier was emptied
    std::uint64_t deleted_memory = 0;
    std::optional<std::uint64_t> deleted_redis;  ///< nullopt without a shared tier
    std::optional<std::string> redis_error;      ///< the shared tier failed part-way
};

/// Process-lifetime counters (the Prometheus cache families of docs/observability.md read them).
struct cache_stats {
    std::atomic<std::uint64_t> lookups{0}, misses{0}, hits_memory{0}, hits_redis{0},
        stores_memory{0}, stores_redis{0}, store_errors_redis{0}, coalesced{0}, purges_all{0},
        purges_key{0}, purges_selector{0};
};

class response_cache {
  public:
    response_cache(cache_options options, std::shared_ptr<store::cache_store> shared);
    ~response_cache();

    const cache_options& options() const { return options_; }
    bool has_shared_tier() const { return shared_ != nullptr; }

    /// Memory, then the shared tier (a hit there is copied into memory with a fresh TTL).
    /// Shared-tier errors are misses.
    boost::asio::awaitable<lookup_result> lookup(std::string key);
    /// The shared tier first, then memory (docs/caching.md, "Tiers"). Errors are counted and
    /// logged, never reported to the request.
    boost::asio::awaitable<void> store(std::string key, std::shared_ptr<const entry> e);
    /// A fresh answer too large to store replaces nothing stale: drop the key everywhere.
    boost::asio::awaitable<void> forget(std::string key);
    boost::asio::awaitable<purge_result> purge(purge_selector selector);

    single_flight& flights() { return flights_; }
    memory_cache& memory() { return memory_; }
    cache_stats& stats() { return stats_; }

  private:
    cache_options options_;
    std::shared_ptr<store::cache_store> shared_;
    memory_cache memory_;
    single_flight flights_;
    cache_stats stats_;
};

}  // namespace ditto::cache
