#pragma once

// The cache's first tier (docs/caching.md, "Tiers"): one per process, shared by every worker.
//
// Entries are spread over shards by key hash, each with its own lock, LRU list and index,
// so a hit locks one shard for a few pointer moves and workers hitting different keys do
// not contend. The bounds (entry count and total bytes) are process-wide: a store that
// crosses one evicts least-recently-used entries, shard by shard, until it holds again.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "ditto/cache/entry.hpp"

namespace ditto::cache {

struct memory_limits {
    std::uint64_t max_entries = 1024;
    std::uint64_t max_total_bytes = 64ULL * 1024 * 1024;
};

class memory_cache {
  public:
    using clock = std::chrono::steady_clock;

    explicit memory_cache(memory_limits limits);
    memory_cache(const memory_cache&) = delete;
    memory_cache& operator=(const memory_cache&) = delete;

    /// The live entry under `key` (now the most recently used), or null; an expired one is
    /// removed.
    std::shared_ptr<const entry> get(const std::string& key, clock::time_point now);
    /// Stores (or replaces) `key` until `expires`, then evicts until the bounds hold. An
    /// entry larger than the byte bound on its own is not stored (and replaces nothing).
    void put(const std::string& key, std::shared_ptr<const entry> e, clock::time_point expires,
             clock::time_point now);
    bool erase(const std::string& key);
    /// Removes everything; returns how many entries there were.
    std::uint64_t clear();
    /// Removes the entries whose metadata `match` accepts; returns how many.
    std::uint64_t erase_if(const std::function<bool(const entry_metadata&)>& match);

    std::uint64_t entries() const { return entries_.load(std::memory_order_relaxed); }
    std::uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
    std::uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

  private:
    struct node {
        std::string key;
        std::shared_ptr<const entry> value;
        clock::time_point expires;
        std::uint64_t bytes = 0;
    };
    struct alignas(64) shard {
        std::mutex mu;
        std::list<node> lru;  ///< most recently used first
        std::unordered_map<std::string, std::list<node>::iterator> index;
    };
    static constexpr std::size_t shard_count = 16;

    shard& shard_for(const std::string& key);
    // Callers hold s.mu.
    void remove_locked(shard& s, std::list<node>::iterator it);
    bool evict_one(const shard& keep_shard, const std::string& keep_key);
    void prune_expired(clock::time_point now);

    memory_limits limits_;
    std::array<shard, shard_count> shards_;
    std::atomic<std::uint64_t> entries_{0};
    std::atomic<std::uint64_t> bytes_{0};
    std::atomic<std::uint64_t> evictions_{0};
    std::atomic<std::size_t> evict_cursor_{0};
    std::atomic<clock::rep> last_prune_{0};
};

}  // namespace ditto::cache
