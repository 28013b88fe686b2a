#pragma once

// The whole store interface (docs/architecture.md): what the middleware and the Admin API
// see. The composition root (app/) picks the implementation: memory now, Redis next.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ditto/store/audit_log.hpp"
#include "ditto/store/budget_store.hpp"
#include "ditto/store/cache_store.hpp"
#include "ditto/store/control_store.hpp"
#include "ditto/store/dedup_store.hpp"
#include "ditto/store/governor.hpp"
#include "ditto/store/rate_limiter.hpp"
#include "ditto/store/spend_log.hpp"

namespace ditto::store {

struct store_set {
    std::string name;  ///< "memory" or "redis"
    std::shared_ptr<rate_limiter> limits;
    std::shared_ptr<budget_store> budgets;
    std::shared_ptr<audit_log> audit;
    /// The spend buckets (spend_log.hpp), which audit_log::append_spent() and settlements
    /// count in; null where the store keeps none (Redis key layout 1).
    std::shared_ptr<spend_log> spend;
    /// Admission and settlement of governed requests (governor.hpp), over the parts above.
    std::shared_ptr<store::governor> governance;
    std::shared_ptr<control_store> control;
    /// The proxy cache's shared tier; null for the memory store (L1 only).
    std::shared_ptr<cache_store> cache;
    /// x-request-id records (dedup_store.hpp): this process's for the memory store, every
    /// replica's for Redis.
    std::shared_ptr<dedup_store> dedup;
    /// Readiness (`store.redis` in `/ready`, docs/http-server.md): nullopt when healthy, else what
    /// is wrong. Null for the memory store, which is always ready.
    std::function<boost::asio::awaitable<std::optional<std::string>>()> health;
    /// Runs once at start-up, before any request: an error message refuses the start (a Redis
    /// prefix that holds another key layout, docs/redis.md). May be null.
    std::function<boost::asio::awaitable<std::optional<std::string>>()> claim;
    /// Stops background work and closes connections (at shutdown). A connection used later
    /// (the background's last writes) opens again. May be null.
    std::function<void()> close;
    /// The last step of the exit, after close(): closes again, and any later use fails at once
    /// instead of opening a connection that would hold the exit up. May be null.
    std::function<void()> seal;
};

}  // namespace ditto::store
