#pragma once

// The Redis store (docs/redis.md): every part of the store interface shared by all replicas
// that use the same Redis and prefix.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "ditto/store/redis/redis_connection.hpp"
#include "ditto/store/store.hpp"

namespace ditto::store::redis {

struct redis_store_options {
    redis_url url;
    std::string prefix = "ditto";
    redis_options connection;
    /// Audit records expire after this; 0 keeps them (docs/redis.md: default 30 days).
    std::chrono::seconds audit_retention{30 * 24 * 3600};
    /// Spend buckets expire this long after their last write (docs/governance.md).
    std::chrono::seconds spend_retention{90 * 24 * 3600};
    /// How often the control version is checked for changes made by another replica.
    std::chrono::milliseconds control_poll{50};
    /// The key layout (docs/redis.md, "Layout v2"): 2 gives the set layout v2's governor,
    /// ledgers, reaper and audit stream.
    int layout = 2;
    /// Layout 2 on a prefix of layout 1: move it (lua/migrate.lua) instead of refusing to start.
    bool migrate = false;
};

/// `background` runs the control-plane poll (the change feed). The returned set's `health`
/// pings Redis.
store_set make_redis_store(redis_store_options options, boost::asio::any_io_executor background);

}  // namespace ditto::store::redis
