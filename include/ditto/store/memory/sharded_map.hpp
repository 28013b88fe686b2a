#pragma once

// Scope counters split over independently locked shards, so workers touching unrelated
// scopes never wait on one lock. An operation over several scopes locks their shards in
// ascending order (each once), which makes multi-scope updates atomic without deadlock.

#include <algorithm>
#include <array>
#include <boost/container/small_vector.hpp>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ditto::store {

template <class Value, std::size_t ShardCount = 64>
class sharded_map {
  public:
    using map_type = std::unordered_map<std::string, Value>;
    // Inline: a request's scopes (key, tenant, project, user) fit, so taking the locks
    // allocates nothing.
    using locks = boost::container::small_vector<std::unique_lock<std::mutex>, 8>;

    static std::size_t shard_of(std::string_view id) noexcept {
        return std::hash<std::string_view>{}(id) % ShardCount;
    }

    /// Locks the shards holding `ids` (any range of strings), ascending, each once.
    template <class Ids>
    locks lock(const Ids& ids) {
        std::array<bool, ShardCount> want{};
        for (const auto& id : ids)
            want[shard_of(id)] = true;
        locks out;
        for (std::size_t i = 0; i < ShardCount; ++i) {
            if (want[i])
                out.emplace_back(shards_[i].mu);
        }
        return out;
    }

    /// The map of `id`'s shard; the caller holds that shard's lock.
    map_type& map_of(std::string_view id) { return shards_[shard_of(id)].map; }

    /// Runs `fn(map)` on every shard, one lock at a time.
    template <class Fn>
    void for_each_shard(Fn&& fn) {
        for (auto& sh : shards_) {
            const std::lock_guard<std::mutex> lock(sh.mu);
            fn(sh.map);
        }
    }
    template <class Fn>
    void for_each_shard(Fn&& fn) const {
        for (const auto& sh : shards_) {
            const std::lock_guard<std::mutex> lock(sh.mu);
            fn(sh.map);
        }
    }

  private:
    struct alignas(64) shard {
        mutable std::mutex mu;
        map_type map;
    };
    std::array<shard, ShardCount> shards_;
};

}  // namespace ditto::store
