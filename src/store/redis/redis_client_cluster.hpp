#pragma once

// The shared part of a Redis Cluster client (redis_client_cluster.cpp): the slot map all of a
// store's threads route by. Private to the Redis store.

#include <atomic>
#include <memory>
#include <mutex>

#include "cluster_map.hpp"
#include "redis_client.hpp"

namespace ditto::store::redis {

struct redis_client::cluster_state {
    mutable std::mutex mu;
    std::shared_ptr<const cluster_map> map;  ///< guarded by mu; null until first read
    /// Bumped on every change of `map`: a thread's cached routes are stale when it differs.
    std::atomic<std::uint64_t> version{0};
    /// One refresh at a time per store; the others route by the map they have.
    std::atomic<bool> refreshing{false};
    /// After a connection error, at most one refresh a second (a node that is down for good
    /// would otherwise cost every request routed to it a refresh).
    std::atomic<std::int64_t> last_refresh_ms{0};
    /// The node asked first on the next refresh: each one asks the next node.
    std::atomic<std::size_t> next_node{0};
};

/// Drops this thread's cached routes of `client` (its close_all()).
void forget_cluster_routes(std::uint64_t client);

/// The one reply of a pipeline of one command.
inline redis_result single(redis_pipeline_result r) {
    redis_result out;
    out.error = r.error;
    if (!r.error && !r.replies.empty())
        out.reply = std::move(r.replies.front());
    return out;
}

}  // namespace ditto::store::redis
