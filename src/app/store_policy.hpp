#pragma once

// What the gateway does when the shared store fails (SPEC §0.8, docs/redis.md): rate limits
// fall back to a local limiter, settlements that could not be written are retried until the
// store is back, and budgets fail closed or open as configured (the budget step decides).

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "ditto/store/budget_store.hpp"
#include "ditto/store/rate_limiter.hpp"

namespace ditto::app {

/// Admits through `shared`; when it cannot decide, through `local` (per process), so a Redis
/// outage degrades limits to per-replica instead of failing or dropping them.
std::shared_ptr<store::rate_limiter> with_local_fallback(
    std::shared_ptr<store::rate_limiter> shared, std::shared_ptr<store::rate_limiter> local);

/// Commits and rollbacks that fail are kept (up to a bound) and retried on `background` with
/// backoff until they succeed: both are idempotent by reservation id, so a retry can never
/// count twice, and the request's answer does not wait for the store to come back.
std::shared_ptr<store::budget_store> with_settle_retry(std::shared_ptr<store::budget_store> inner,
                                                       boost::asio::any_io_executor background);

}  // namespace ditto::app
