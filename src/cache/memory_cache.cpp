#include "ditto/cache/memory_cache.hpp"

#include <vector>

#include "ditto/core/hash.hpp"

namespace ditto::cache {

memory_cache::memory_cache(memory_limits limits) : limits_(limits) {}

memory_cache::shard& memory_cache::shard_for(const std::string& key) {
    return shards_[core::fnv1a64(key) % shard_count];
}

void memory_cache::remove_locked(shard& s, std::list<node>::iterator it) {
    entries_.fetch_sub(1, std::memory_order_relaxed);
    bytes_.fetch_sub(it->bytes, std::memory_order_relaxed);
    s.index.erase(it->key);
    s.lru.erase(it);
}

std::shared_ptr<const entry> memory_cache::get(const std::string& key, clock::time_point now) {
    auto& s = shard_for(key);
    std::lock_guard lock(s.mu);
    auto found = s.index.find(key);
    if (found == s.index.end())
        return nullptr;
    auto it = found->second;
    if (it->expires <= now) {
        remove_locked(s, it);
        return nullptr;
    }
    s.lru.splice(s.lru.begin(), s.lru, it);
    return it->value;
}

void memory_cache::put(const std::string& key, std::shared_ptr<const entry> e,
                       clock::time_point expires, clock::time_point now) {
    const std::uint64_t size = e->bytes() + key.size();
    if (size > limits_.max_total_bytes || limits_.max_entries == 0)
        return;
    prune_expired(now);
    auto& s = shard_for(key);
    {
        std::lock_guard lock(s.mu);
        if (auto found = s.index.find(key); found != s.index.end())
            remove_locked(s, found->second);
        s.lru.push_front(node{key, std::move(e), expires, size});
        s.index.emplace(key, s.lru.begin());
        entries_.fetch_add(1, std::memory_order_relaxed);
        bytes_.fetch_add(size, std::memory_order_relaxed);
    }
    // Evict outside the shard's lock: one lock at a time, so no ordering between shards.
    while (entries() > limits_.max_entries || bytes() > limits_.max_total_bytes) {
        if (!evict_one(s, key))
            break;
    }
}

// Evicts the least recently used entry of the next non-empty shard (round robin, so one
// busy shard does not lose all its entries to another's stores), never the entry just stored.
bool memory_cache::evict_one(const shard& keep_shard, const std::string& keep_key) {
    for (std::size_t tried = 0; tried < shard_count; ++tried) {
        auto& s = shards_[evict_cursor_.fetch_add(1, std::memory_order_relaxed) % shard_count];
        std::lock_guard lock(s.mu);
        if (s.lru.empty())
            continue;
        auto victim = std::prev(s.lru.end());
        if (&s == &keep_shard && victim->key == keep_key) {
            if (victim == s.lru.begin())
                continue;
            victim = std::prev(victim);
        }
        remove_locked(s, victim);
        evictions_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    return false;
}

// Expired entries are pruned at most once per second (and on lookup; docs/caching.md).
void memory_cache::prune_expired(clock::time_point now) {
    auto last = last_prune_.load(std::memory_order_relaxed);
    const auto now_rep = now.time_since_epoch().count();
    const auto second = std::chrono::duration_cast<clock::duration>(std::chrono::seconds(1));
    if (now_rep - last < second.count() ||
        !last_prune_.compare_exchange_strong(last, now_rep, std::memory_order_relaxed)) {
        return;
    }
    for (auto& s : shards_) {
        std::lock_guard lock(s.mu);
        for (auto it = s.lru.begin(); it != s.lru.end();) {
            auto next = std::next(it);
            if (it->expires <= now)
                remove_locked(s, it);
            it = next;
        }
    }
}

bool memory_cache::erase(const std::string& key) {
    auto& s = shard_for(key);
    std::lock_guard lock(s.mu);
    auto found = s.index.find(key);
    if (found == s.index.end())
        return false;
    remove_locked(s, found->second);
    return true;
}

std::uint64_t memory_cache::clear() {
    std::uint64_t n = 0;
    for (auto& s : shards_) {
        std::list<node> dropped;
        {
            std::lock_guard lock(s.mu);
            n += s.lru.size();
            for (const auto& nd : s.lru) {
                entries_.fetch_sub(1, std::memory_order_relaxed);
                bytes_.fetch_sub(nd.bytes, std::memory_order_relaxed);
            }
            s.index.clear();
            dropped.swap(s.lru);
        }
        // The bodies are freed outside the lock.
    }
    return n;
}

std::uint64_t memory_cache::erase_if(const std::function<bool(const entry_metadata&)>& match) {
    std::uint64_t n = 0;
    for (auto& s : shards_) {
        std::lock_guard lock(s.mu);
        for (auto it = s.lru.begin(); it != s.lru.end();) {
            auto next = std::next(it);
            if (match(it->value->meta)) {
                remove_locked(s, it);
                ++n;
            }
            it = next;
        }
    }
    return n;
}

}  // namespace ditto::cache
