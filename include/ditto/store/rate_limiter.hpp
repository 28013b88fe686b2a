#pragma once

// The rate-limit part of the store interface (docs/governance.md, "Rate limits"). Implementations:
// the in-memory store (one process) and, next, the Redis store (one Lua call per admission).

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ditto::store {

/// One scope's limits for an admission. Scope ids as in docs/governance.md (`key-1`, `tenant:t`,
/// `tenant:t:project:p`, `project:p`, `tenant:t:user:u`, `user:u`).
struct rate_scope {
    std::string id;
    std::optional<std::uint32_t> rpm;  ///< nullopt: no request limit; 0: always blocked
    std::optional<std::uint32_t> tpm;  ///< nullopt: no token limit; 0: always blocked
};

/// What an admission charged, so it can be refunded or corrected later.
struct rate_charge {
    std::vector<std::string> scope_ids;
    std::uint64_t tokens = 0;
    std::int64_t minute = 0;  ///< the window the charge went into (unix time / 60)
    bool local = false;       ///< charged to the local fallback limiter (shared store down)
};

struct rate_decision {
    boost::system::error_code error;  ///< the store could not decide (Redis down)
    bool admitted = false;
    std::size_t blocked_scope = 0;  ///< index into the scopes, when not admitted
    std::string reason;             ///< "rpm>N" or "tpm>N", when not admitted
    std::uint32_t retry_after_seconds = 0;
    rate_charge charge;  ///< when admitted
};

/// Admission across several scopes at once: every scope admits one request and `tokens`
/// tokens, or none is charged. The window is the weighted two-window sliding algorithm:
/// with `s` seconds into the current minute, a scope admits while
/// `(cur + n) * 60 + prev * (60 - s) <= limit * 60`. Thread-safe.
class rate_limiter {
  public:
    virtual ~rate_limiter() = default;
    virtual boost::asio::awaitable<rate_decision> admit(std::vector<rate_scope> scopes,
                                                        std::uint64_t tokens) = 0;
    /// The same admission when it can be decided without waiting (the memory store); nullopt
    /// when it cannot, and then the caller awaits admit(). Lets the chain skip a coroutine
    /// frame (docs/architecture.md).
    virtual std::optional<rate_decision> try_admit(const std::vector<rate_scope>& /*scopes*/,
                                                   std::uint64_t /*tokens*/) {
        return std::nullopt;
    }
    /// Takes back one request and the charged tokens; only within the same minute.
    virtual boost::asio::awaitable<void> refund(rate_charge charge) = 0;
    /// refund() and settle_tokens() done without waiting (the memory store): true when done,
    /// false when the caller must await the coroutine form. Lets a request settle without a
    /// coroutine frame (docs/architecture.md).
    virtual bool try_refund(const rate_charge& /*charge*/) { return false; }
    virtual bool try_settle_tokens(const rate_charge& /*charge*/, std::uint64_t /*actual*/) {
        return false;
    }
    /// Replaces the charged estimate with `actual` tokens; only within the same minute.
    virtual boost::asio::awaitable<void> settle_tokens(rate_charge charge,
                                                       std::uint64_t actual) = 0;
};

}  // namespace ditto::store
