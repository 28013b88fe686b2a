#pragma once

// The in-memory rate limiter (docs/governance.md, "Rate limits"): weighted two-window sliding
// counters per scope, kept in 64 independently locked shards so admissions of unrelated scopes
// never contend on one lock.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ditto/store/memory/sharded_map.hpp"
#include "ditto/store/rate_limiter.hpp"

namespace ditto::store {

class memory_rate_limiter final : public rate_limiter {
  public:
    using clock_fn = std::function<std::int64_t()>;

    /// `now_seconds` returns unix seconds; defaults to the system clock.
    explicit memory_rate_limiter(clock_fn now_seconds = system_seconds);

    boost::asio::awaitable<rate_decision> admit(std::vector<rate_scope> scopes,
                                                std::uint64_t tokens) override;
    std::optional<rate_decision> try_admit(const std::vector<rate_scope>& scopes,
                                           std::uint64_t tokens) override {
        return admit_now(scopes, tokens);
    }
    boost::asio::awaitable<void> refund(rate_charge charge) override;
    bool try_refund(const rate_charge& charge) override {
        refund_now(charge);
        return true;
    }
    bool try_settle_tokens(const rate_charge& charge, std::uint64_t actual) override {
        settle_now(charge, actual);
        return true;
    }
    boost::asio::awaitable<void> settle_tokens(rate_charge charge, std::uint64_t actual) override;

    /// Synchronous forms of the awaitables above (they do no I/O).
    rate_decision admit_now(const std::vector<rate_scope>& scopes, std::uint64_t tokens);
    void refund_now(const rate_charge& charge);
    void settle_now(const rate_charge& charge, std::uint64_t actual);

    /// Drops the counters of every scope not listed (called when keys change).
    void retain_only(const std::vector<std::string>& live_ids);
    std::size_t scope_count() const;

    static std::int64_t system_seconds();

  private:
    struct counters {
        std::int64_t minute = 0;
        std::uint64_t cur_req = 0;
        std::uint64_t cur_tok = 0;
        std::uint64_t prev_req = 0;
        std::uint64_t prev_tok = 0;
    };

    /// Runs `apply` on each scope of `charge` still in the charge's minute, under its lock.
    template <class Apply>
    void for_charged_scopes(const rate_charge& charge, Apply&& apply);

    clock_fn now_;
    sharded_map<counters> shards_;
};

}  // namespace ditto::store
