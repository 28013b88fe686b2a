#pragma once

// A governed request's two store operations (docs/governance.md; docs/redis.md, "Layout v2"):
// `admit` checks and charges every rate limit and reserves every budget line, all or nothing;
// `settle` corrects the rate charge, commits or rolls back the reservation and writes the
// request's audit record, exactly once. The chain has this one shape whatever the store: the
// memory store does both without waiting, Redis in one script call each.

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ditto/store/budget_store.hpp"
#include "ditto/store/rate_limiter.hpp"
#include "ditto/store/spend_log.hpp"

namespace ditto::store {

struct admission {
    std::string id;  ///< unique per request
    std::string key_id;
    /// The scopes with rate limits; null: none. Owned by the caller (the key snapshot), alive
    /// until admit() returns.
    const std::vector<rate_scope>* rate = nullptr;
    std::uint64_t charge_tokens = 0;  ///< counted against tpm
    /// The budget lines to reserve; none for a cache hit or a free request, which are admitted
    /// on their rate limits only (and so cost no budget).
    std::vector<budget_line> lines;
};

/// What settle() needs of an admission; made and read by the same governor.
struct admission_ticket {
    std::string id;
    rate_charge rate;         ///< empty scope_ids: no rate charge
    bool reserved = false;    ///< a reservation was made
    std::int64_t second = 0;  ///< Redis layout v2: the second whose bucket holds the entry
    /// Redis layout v2: the scopes of the entry, in the order the admission passed them.
    std::vector<std::string> scopes;
};

struct admission_result {
    boost::system::error_code error;  ///< the store could not decide
    bool error_in_budget = false;     ///< the error came from the budget part
    bool admitted = false;
    /// Refused on a rate limit (`rate_scope`, `reason` "rpm>N" / "tpm>N", `retry_after`) or on
    /// a budget line (`blocked_line`, `limit`, `attempted`).
    bool by_rate = false;
    std::size_t rate_scope = 0;
    std::string reason;
    std::uint32_t retry_after_seconds = 0;
    std::size_t blocked_line = 0;
    std::uint64_t limit = 0;
    std::uint64_t attempted = 0;
    admission_ticket ticket;  ///< when admitted
    /// When admitted: the budget lines skipped by their window (budget_line::valid_from).
    std::vector<std::size_t> skipped_lines;
};

/// An audit record that travels with the settlement (one store call for both).
struct settle_record {
    std::string kind;
    std::string payload_json;
    bool vetted =
        false;  ///< already judged against the log's redactor (audit_log::append_redacted)
};

struct settle_request {
    admission_ticket ticket;
    bool commit = false;  ///< spend `actual`; otherwise roll the reservation back
    actual_amounts actual;
    bool refund = false;                  ///< give the rpm place and the charged tokens back
    std::optional<std::uint64_t> tokens;  ///< tpm: replace the charge with this many
    std::optional<settle_record> record;
    /// What a served request spent, for the spend buckets (spend_log.hpp); counted with the
    /// settlement, once, even when the record is sampled out.
    std::optional<spend_sample> spend;
};

/// Thread-safe.
class governor {
  public:
    virtual ~governor() = default;
    virtual boost::asio::awaitable<admission_result> admit(admission a) = 0;
    /// admit() when it can decide without waiting (the memory store); nullopt when the caller
    /// must await admit() (docs/architecture.md).
    virtual std::optional<admission_result> try_admit(const admission& /*a*/) {
        return std::nullopt;
    }
    /// Settles once; a second settlement of the same ticket is a no-op. An error is the store's
    /// (the record and the charges are then retried or released by the reaper).
    virtual boost::asio::awaitable<boost::system::error_code> settle(settle_request r) = 0;
    /// settle() without waiting (the memory store); nullopt when the caller must await settle().
    virtual std::optional<boost::system::error_code> try_settle(const settle_request& /*r*/) {
        return std::nullopt;
    }
};

struct store_set;

/// The governor made of a store set's rate limiter, budget store and audit log: admit = rate
/// admission then reservation (a refused or failed reservation gives the rate charge back);
/// settle = the three writes. `fail_open`: a reservation the store cannot decide admits the
/// request without one (--redis-failure-mode open).
std::shared_ptr<governor> make_composite_governor(const store_set& s, bool fail_open);

}  // namespace ditto::store
