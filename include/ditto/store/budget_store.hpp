#pragma once

// The budget part of the store interface (docs/governance.md, "Budgets"): token and USD
// reservations across several scopes at once, committed at the actual amount or rolled
// back. The Redis store does a reservation in one Lua call; the memory store under the
// locks of the scopes' shards.

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ditto::store {

/// What a ledger counts: tokens, or micro-dollars (integer µUSD).
enum class budget_metric : std::uint8_t { tokens = 0, usd_micros = 1 };

/// One scope's share of a reservation. Scope ids as in docs/governance.md, "Rate limits".
struct budget_line {
    std::string scope_id;
    budget_metric metric = budget_metric::tokens;
    std::optional<std::uint64_t> limit;  ///< nullopt: no budget, the spend is only recorded
    std::uint64_t amount = 0;            ///< reserved now
    /// Budget periods (docs/governance.md): near a period boundary the admission names the
    /// ledgers of both periods, and the store's clock (Redis TIME with Redis) picks the one
    /// whose window holds it. Unix seconds by the store's clock; 0: unbounded. A line outside
    /// its window is skipped: nothing checked, reserved or spent.
    std::int64_t valid_from = 0;
    std::int64_t valid_until = 0;
    /// Unix second at which a ledger this reservation creates may be dropped (a past period's,
    /// after its retention); 0: kept.
    std::int64_t expire_at = 0;

    bool counts_at(std::int64_t unix_seconds) const {
        return (valid_from == 0 || unix_seconds >= valid_from) &&
               (valid_until == 0 || unix_seconds < valid_until);
    }
};

/// A reservation: every line admits its amount, or none is reserved.
struct reservation {
    std::string id;  ///< unique per request; reserving an id twice is a no-op (idempotent)
    std::string key_id;
    std::vector<budget_line> lines;
};

struct reserve_result {
    boost::system::error_code error;  ///< the store could not decide
    bool admitted = false;
    bool duplicate = false;        ///< the id was already reserved (admitted, nothing added)
    std::size_t blocked_line = 0;  ///< the first line over its limit, when not admitted
    std::uint64_t limit = 0;       ///< that line's limit
    std::uint64_t attempted = 0;   ///< its spent + reserved + amount
    std::vector<std::size_t> skipped_lines;  ///< lines outside their window (admitted)
};

/// The amounts a commit records as spent, per metric; nullopt commits what was reserved.
struct actual_amounts {
    std::optional<std::uint64_t> tokens;
    std::optional<std::uint64_t> usd_micros;
};

struct ledger_entry {
    std::string scope_id;
    std::uint64_t spent = 0;
    std::uint64_t reserved = 0;
    std::int64_t updated_at_ms = 0;
};

struct reap_result {
    boost::system::error_code error;
    std::uint64_t scanned = 0;  ///< reservations looked at
    std::uint64_t reaped = 0;   ///< released (or that would be, in a dry run)
    std::uint64_t released_tokens = 0;
    std::uint64_t released_usd_micros = 0;
    std::int64_t cutoff_ms =
        0;  ///< unix ms, by the store's clock: reservations made then or before
};

/// Thread-safe. Every reservation ends in exactly one commit or rollback; one left open
/// (a crashed replica) is released by reap() once its lease has passed.
class budget_store {
  public:
    virtual ~budget_store() = default;
    /// Admits when, for every line with a limit, spent + reserved + amount <= limit.
    virtual boost::asio::awaitable<reserve_result> reserve(reservation r) = 0;
    /// The same reservation when it can be made without waiting (the memory store); nullopt
    /// when it cannot, and then the caller awaits reserve(). Lets the chain skip a coroutine
    /// frame (docs/architecture.md).
    virtual std::optional<reserve_result> try_reserve(const reservation& /*r*/) {
        return std::nullopt;
    }
    /// Releases the reservation and adds the actual amounts to `spent` of each of its
    /// lines. An unknown (already settled or reaped) id is a no-op.
    virtual boost::asio::awaitable<boost::system::error_code> commit(std::string id,
                                                                     actual_amounts actual) = 0;
    /// Releases the reservation without spending. An unknown id is a no-op.
    virtual boost::asio::awaitable<boost::system::error_code> rollback(std::string id) = 0;
    /// commit() and rollback() done without waiting (the memory store); nullopt when the
    /// caller must await the coroutine form (docs/architecture.md).
    virtual std::optional<boost::system::error_code> try_commit(const std::string& /*id*/,
                                                                const actual_amounts& /*a*/) {
        return std::nullopt;
    }
    virtual std::optional<boost::system::error_code> try_rollback(const std::string& /*id*/) {
        return std::nullopt;
    }
    /// Every ledger of `metric`, sorted by scope id.
    virtual boost::asio::awaitable<std::vector<ledger_entry>> ledgers(budget_metric metric) = 0;
    /// Releases (or, with `dry_run`, counts) up to `limit` reservations at least `older_than`
    /// old. Their age is judged by the store's own clock, the one that stamped them (Redis TIME
    /// for Redis), never by the caller's: a replica whose clock runs ahead would otherwise
    /// release reservations still in use (docs/redis.md, "Reaping").
    virtual boost::asio::awaitable<reap_result> reap(std::chrono::milliseconds older_than,
                                                     std::size_t limit, bool dry_run) = 0;
};

}  // namespace ditto::store
