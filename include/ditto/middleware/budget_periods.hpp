#pragma once

// Budget periods (docs/governance.md, "Budget periods"): which ledger a day, week or month
// budget counts in, by the calendar of its time zone.

#include <cstdint>
#include <string>
#include <vector>

#include "ditto/config/gateway_config.hpp"
#include "ditto/core/time_zone.hpp"

namespace ditto::middleware {

/// The gateway's calendar clock, unix ms: the system clock, shifted by the environment's
/// DITTO_CALENDAR_OFFSET_SECONDS (read once; for tests that need a period boundary now). Budget
/// periods and key expiry are judged by it; the windows handed to the stores are shifted back
/// to their own, unshifted, clocks.
std::int64_t calendar_now_ms();
std::int64_t calendar_offset_seconds();

/// A period's bounds, unix seconds: [start, end).
struct period_span {
    std::int64_t start = 0;
    std::int64_t end = 0;
};

/// The period of kind `p` (not lifetime) that holds `unix_seconds` in `tz`: from local midnight,
/// the Monday of its ISO week, or the 1st of its month, to the next one.
period_span period_at(config::budget_period p, const core::time_zone& tz,
                      std::int64_t unix_seconds);

/// True when [start, end) is one of `b`'s periods as configured now (its kind and time zone):
/// a ledger left from before the budget's period changed is not.
bool period_matches(const config::budget_config& b, std::int64_t start, std::int64_t end);

/// Within this many seconds of a boundary an admission names the ledgers of both periods and
/// the store's clock picks one. lua/admit.lua refuses a replica clock more than 300 s from
/// Redis's; the margin covers the time between reading our clock and the replica's second.
inline constexpr std::int64_t period_overlap_seconds = 330;
/// A past period's ledger is kept this long after the period ends.
inline constexpr std::int64_t period_ledger_retention_seconds = 90LL * 86'400;

/// One ledger a budget line may count in, with the window (store clock, unix seconds, 0:
/// unbounded) in which it does, and when it may be dropped (0: never).
struct ledger_choice {
    std::string scope_id;
    std::int64_t valid_from = 0;
    std::int64_t valid_until = 0;
    std::int64_t expire_at = 0;
};

/// The ledgers of `scope_id`'s budget at calendar second `now`: the scope itself for a lifetime
/// budget; the period's `<scope>@<start>-<end>`, and near a boundary its neighbour's too.
std::vector<ledger_choice> ledgers_for(const std::string& scope_id, const config::budget_config& b,
                                       const core::time_zone& tz, std::int64_t now);

}  // namespace ditto::middleware
