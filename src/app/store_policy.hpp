#pragma once

// What the gateway does when the shared store fails (docs/redis.md, "Failure modes"): rate limits
// fall back to a local limiter, settlements that could not be written are retried until the
// store is back, and budgets fail closed or open as configured (the governor decides).

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "ditto/store/store.hpp"

namespace ditto::app {

/// Admits through `shared`; when it cannot decide, through `local` (per process), so a Redis
/// outage degrades limits to per-replica instead of failing or dropping them.
std::shared_ptr<store::rate_limiter> with_local_fallback(
    std::shared_ptr<store::rate_limiter> shared, std::shared_ptr<store::rate_limiter> local);

/// Budget commits and rollbacks, and audit records, that fail for an outage are kept (up to
/// a bound) and written on `background` with backoff once the store is back: settlements are
/// idempotent by reservation id, so a retry never counts twice, and no answer waits for the
/// store. An audit write the store refuses (an error reply) is still reported.
void with_write_retry(store::store_set& s, boost::asio::any_io_executor background);

/// The same policies for a governor that writes to the shared store itself (Redis layout v2):
/// rate limits fall back to a local limiter, budgets fail closed or open (`fail_open`),
/// settlements that failed for an outage are retried, and records pass `records`' redaction
/// and sampling first (audit_log::stored_payload).
std::shared_ptr<store::governor> with_governor_outages(std::shared_ptr<store::governor> shared,
                                                       std::shared_ptr<store::audit_log> records,
                                                       bool fail_open,
                                                       boost::asio::any_io_executor background);

}  // namespace ditto::app
