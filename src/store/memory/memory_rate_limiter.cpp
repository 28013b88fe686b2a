#include "ditto/store/memory/memory_rate_limiter.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <ranges>
#include <unordered_set>
#include <utility>

#include "ditto/core/saturating.hpp"

namespace ditto::store {
namespace {

using core::sat_add;
using core::sat_mul;
using core::sub_floor0;

/// The weighted two-window check: blocked when (cur + n) * 60 + prev * (60 - s) > limit * 60.
bool over_limit(std::uint32_t limit, std::uint64_t cur, std::uint64_t n, std::uint64_t prev,
                std::int64_t s) noexcept {
    if (limit == 0) {
        return true;
    }
    const std::uint64_t used =
        sat_add(sat_mul(sat_add(cur, n), 60), sat_mul(prev, static_cast<std::uint64_t>(60 - s)));
    return used > static_cast<std::uint64_t>(limit) * 60;
}

/// Floor division, so a clock before the epoch still yields 0 <= s < 60.
std::pair<std::int64_t, std::int64_t> split_minute(std::int64_t now) noexcept {
    std::int64_t minute = now / 60;
    std::int64_t s = now % 60;
    if (s < 0) {
        s += 60;
        --minute;
    }
    return {minute, s};
}

}  // namespace

memory_rate_limiter::memory_rate_limiter(clock_fn now_seconds) : now_(std::move(now_seconds)) {
    if (!now_) {
        now_ = system_seconds;
    }
}

std::int64_t memory_rate_limiter::system_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

rate_decision memory_rate_limiter::admit_now(const std::vector<rate_scope>& scopes,
                                             std::uint64_t tokens) {
    const auto [minute, s] = split_minute(now_());
    rate_decision d;

    const auto locks = shards_.lock(scopes | std::views::transform(&rate_scope::id));

    // Element pointers of an unordered_map stay valid across rehashes.
    std::vector<counters*> cs;
    cs.reserve(scopes.size());
    for (const rate_scope& sc : scopes) {
        auto [it, inserted] = shards_.map_of(sc.id).try_emplace(sc.id);
        counters& c = it->second;
        if (inserted) {
            c.minute = minute;
        } else if (c.minute == minute - 1) {
            c.prev_req = c.cur_req;
            c.prev_tok = c.cur_tok;
            c.cur_req = 0;
            c.cur_tok = 0;
            c.minute = minute;
        } else if (c.minute < minute - 1) {
            c = counters{};
            c.minute = minute;
        }
        cs.push_back(&c);
    }

    for (std::size_t i = 0; i < scopes.size(); ++i) {
        const rate_scope& sc = scopes[i];
        const counters& c = *cs[i];
        std::string reason;
        if (sc.rpm && over_limit(*sc.rpm, c.cur_req, 1, c.prev_req, s)) {
            reason = "rpm>" + std::to_string(*sc.rpm);
        } else if (sc.tpm && over_limit(*sc.tpm, c.cur_tok, tokens, c.prev_tok, s)) {
            reason = "tpm>" + std::to_string(*sc.tpm);
        }
        if (!reason.empty()) {
            d.admitted = false;
            d.blocked_scope = i;
            d.reason = std::move(reason);
            d.retry_after_seconds = static_cast<std::uint32_t>(std::max<std::int64_t>(60 - s, 1));
            return d;
        }
    }

    // Charge each distinct scope once, so a refund takes back exactly what was added.
    d.admitted = true;
    d.charge.tokens = tokens;
    d.charge.minute = minute;
    d.charge.scope_ids.reserve(scopes.size());
    for (std::size_t i = 0; i < scopes.size(); ++i) {
        counters* c = cs[i];
        if (std::find(cs.begin(), cs.begin() + static_cast<std::ptrdiff_t>(i), c) !=
            cs.begin() + static_cast<std::ptrdiff_t>(i)) {
            continue;
        }
        c->cur_req = sat_add(c->cur_req, 1);
        c->cur_tok = sat_add(c->cur_tok, tokens);
        d.charge.scope_ids.push_back(scopes[i].id);
    }
    return d;
}

void memory_rate_limiter::refund_now(const rate_charge& charge) {
    for_charged_scopes(charge, [&charge](counters& c) {
        c.cur_req = sub_floor0(c.cur_req, 1);
        c.cur_tok = sub_floor0(c.cur_tok, charge.tokens);
    });
}

void memory_rate_limiter::settle_now(const rate_charge& charge, std::uint64_t actual) {
    for_charged_scopes(charge, [&charge, actual](counters& c) {
        c.cur_tok = actual >= charge.tokens ? sat_add(c.cur_tok, actual - charge.tokens)
                                            : sub_floor0(c.cur_tok, charge.tokens - actual);
    });
}

template <class Apply>
void memory_rate_limiter::for_charged_scopes(const rate_charge& charge, Apply&& apply) {
    // Only within the minute of the charge. The stored minute rolls only on admission, so
    // the clock is compared as well.
    if (split_minute(now_()).first != charge.minute)
        return;
    const auto locks = shards_.lock(charge.scope_ids);
    for (const std::string& id : charge.scope_ids) {
        auto& map = shards_.map_of(id);
        auto it = map.find(id);
        if (it != map.end() && it->second.minute == charge.minute)
            apply(it->second);
    }
}

void memory_rate_limiter::retain_only(const std::vector<std::string>& live_ids) {
    const std::unordered_set<std::string> live(live_ids.begin(), live_ids.end());
    shards_.for_each_shard([&live](auto& map) {
        std::erase_if(map, [&live](const auto& kv) { return !live.contains(kv.first); });
    });
}

std::size_t memory_rate_limiter::scope_count() const {
    std::size_t n = 0;
    shards_.for_each_shard([&n](const auto& map) { n += map.size(); });
    return n;
}

boost::asio::awaitable<rate_decision> memory_rate_limiter::admit(std::vector<rate_scope> scopes,
                                                                 std::uint64_t tokens) {
    co_return admit_now(scopes, tokens);
}

boost::asio::awaitable<void> memory_rate_limiter::refund(rate_charge charge) {
    refund_now(charge);
    co_return;
}

boost::asio::awaitable<void> memory_rate_limiter::settle_tokens(rate_charge charge,
                                                                std::uint64_t actual) {
    settle_now(charge, actual);
    co_return;
}

}  // namespace ditto::store
