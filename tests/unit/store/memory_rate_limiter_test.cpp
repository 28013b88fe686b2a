#include "ditto/store/memory/memory_rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace ditto::store {
namespace {

constexpr std::int64_t base_minute = 28'000'000;  // some minute in 2023

class MemoryRateLimiter : public ::testing::Test {
  protected:
    void at(std::int64_t minute_offset, std::int64_t s) {
        now_ = (base_minute + minute_offset) * 60 + s;
    }

    rate_decision admit(std::vector<rate_scope> scopes, std::uint64_t tokens = 0) {
        return rl_.admit_now(scopes, tokens);
    }

    int admit_until_blocked(const std::vector<rate_scope>& scopes, std::uint64_t tokens = 0) {
        int n = 0;
        while (rl_.admit_now(scopes, tokens).admitted) {
            ++n;
            if (n > 10'000) {
                break;
            }
        }
        return n;
    }

    std::int64_t now_ = base_minute * 60;
    memory_rate_limiter rl_{[this] { return now_; }};
};

rate_scope rpm(std::string id, std::uint32_t n) {
    return {std::move(id), n, std::nullopt};
}
rate_scope tpm(std::string id, std::uint32_t n) {
    return {std::move(id), std::nullopt, n};
}

TEST_F(MemoryRateLimiter, RpmExact) {
    at(0, 10);
    for (int i = 0; i < 3; ++i) {
        const auto d = admit({rpm("key-1", 3)});
        ASSERT_TRUE(d.admitted) << i;
        EXPECT_EQ(d.charge.scope_ids, std::vector<std::string>{"key-1"});
        EXPECT_EQ(d.charge.minute, base_minute);
    }
    const auto d = admit({rpm("key-1", 3)});
    EXPECT_FALSE(d.admitted);
    EXPECT_EQ(d.blocked_scope, 0u);
    EXPECT_EQ(d.reason, "rpm>3");
    EXPECT_EQ(d.retry_after_seconds, 50u);
    EXPECT_TRUE(d.charge.scope_ids.empty());
    EXPECT_FALSE(d.error);
}

TEST_F(MemoryRateLimiter, TpmCountsTokens) {
    EXPECT_TRUE(admit({tpm("k", 100)}, 40).admitted);
    EXPECT_TRUE(admit({tpm("k", 100)}, 40).admitted);
    const auto d = admit({tpm("k", 100)}, 30);  // 110 > 100
    EXPECT_FALSE(d.admitted);
    EXPECT_EQ(d.reason, "tpm>100");
    EXPECT_EQ(d.retry_after_seconds, 60u);
    EXPECT_TRUE(admit({tpm("k", 100)}, 20).admitted);  // exactly 100
    EXPECT_FALSE(admit({tpm("k", 100)}, 1).admitted);
    EXPECT_FALSE(admit({tpm("other", 100)}, 101).admitted);  // one request over the limit
}

TEST_F(MemoryRateLimiter, ZeroLimitAlwaysBlocks) {
    auto d = admit({rpm("k", 0)});
    EXPECT_FALSE(d.admitted);
    EXPECT_EQ(d.reason, "rpm>0");
    d = admit({tpm("k", 0)}, 0);
    EXPECT_FALSE(d.admitted);
    EXPECT_EQ(d.reason, "tpm>0");
}

TEST_F(MemoryRateLimiter, BothLimitsRpmReportedFirst) {
    const rate_scope both{"k", 1u, 10u};
    EXPECT_TRUE(admit({both}, 5).admitted);
    EXPECT_EQ(admit({both}, 5).reason, "rpm>1");
    EXPECT_EQ(admit({rate_scope{"j", 5u, 10u}}, 11).reason, "tpm>10");
}

TEST_F(MemoryRateLimiter, MultiScopeAllOrNone) {
    const std::vector<rate_scope> scopes{rpm("key-1", 5), rpm("tenant:t", 1)};
    const auto first = admit(scopes);
    ASSERT_TRUE(first.admitted);
    EXPECT_EQ(first.charge.scope_ids, (std::vector<std::string>{"key-1", "tenant:t"}));
    for (int i = 0; i < 3; ++i) {
        const auto d = admit(scopes);
        EXPECT_FALSE(d.admitted);
        EXPECT_EQ(d.blocked_scope, 1u);
        EXPECT_EQ(d.reason, "rpm>1");
    }
    // The key holds only the first request: with rpm=2 exactly one more is admitted.
    EXPECT_EQ(admit_until_blocked({rpm("key-1", 2)}), 1);
    // The first failing scope is reported.
    const auto d = admit({rpm("a", 0), rpm("b", 0)});
    EXPECT_EQ(d.blocked_scope, 0u);
}

TEST_F(MemoryRateLimiter, UnlimitedScopeIsChargedButNeverBlocks) {
    const rate_scope free_scope{"user:u", std::nullopt, std::nullopt};
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(admit({free_scope}, 1000).admitted);
    }
    const auto d = admit({rpm("key-1", 5), free_scope});
    ASSERT_TRUE(d.admitted);
    EXPECT_EQ(d.charge.scope_ids.size(), 2u);
    // 101 requests were counted for it.
    EXPECT_EQ(admit_until_blocked({rpm("user:u", 101)}), 0);
    EXPECT_EQ(admit_until_blocked({rpm("user:u", 102)}), 1);
}

TEST_F(MemoryRateLimiter, SlidingWindow) {
    at(0, 0);
    EXPECT_EQ(admit_until_blocked({rpm("k", 10)}), 10);
    // s=0 of the next minute: the previous minute weighs fully, 0*60 + 10*60 = 600.
    at(1, 0);
    EXPECT_EQ(admit_until_blocked({rpm("k", 10)}), 0);
    // s=30: (cur+1)*60 + 10*30 <= 600 holds for cur+1 <= 5.
    at(1, 30);
    EXPECT_EQ(admit_until_blocked({rpm("k", 10)}), 5);
    const auto d = admit({rpm("k", 10)});
    EXPECT_EQ(d.reason, "rpm>10");
    EXPECT_EQ(d.retry_after_seconds, 30u);
    // s=59: (cur+1)*60 + 10*1 <= 600 holds for cur+1 <= 9; cur is 5, so 4 more.
    at(1, 59);
    EXPECT_EQ(admit_until_blocked({rpm("k", 10)}), 4);
    EXPECT_EQ(admit({rpm("k", 10)}).retry_after_seconds, 1u);
    // Next minute: prev = 9, at s=45: (cur+1)*60 + 9*15 = ... <= 600 → cur+1 <= 7.75 → 7.
    at(2, 45);
    EXPECT_EQ(admit_until_blocked({rpm("k", 10)}), 7);
    // Two minutes later both windows are gone.
    at(4, 0);
    EXPECT_EQ(admit_until_blocked({rpm("k", 10)}), 10);
}

TEST_F(MemoryRateLimiter, SlidingWindowTokens) {
    at(0, 0);
    EXPECT_TRUE(admit({tpm("k", 1000)}, 1000).admitted);
    // s=45: (cur+n)*60 + 1000*15 <= 60000 → cur+n <= 750.
    at(1, 45);
    EXPECT_FALSE(admit({tpm("k", 1000)}, 751).admitted);
    EXPECT_TRUE(admit({tpm("k", 1000)}, 750).admitted);
    EXPECT_FALSE(admit({tpm("k", 1000)}, 1).admitted);
}

TEST_F(MemoryRateLimiter, RefundSameMinuteOnly) {
    at(0, 5);
    const auto a = admit({rpm("k", 2)}, 7);
    ASSERT_TRUE(admit({rpm("k", 2)}).admitted);
    ASSERT_FALSE(admit({rpm("k", 2)}).admitted);
    rl_.refund_now(a.charge);
    EXPECT_TRUE(admit({rpm("k", 2)}).admitted);
    EXPECT_FALSE(admit({rpm("k", 2)}).admitted);

    // A refund in a later minute changes nothing.
    at(1, 0);
    const auto b = admit({rpm("j", 1)});
    ASSERT_TRUE(b.admitted);
    at(2, 59);  // prev = 1: 1*60 + 1*1 > 60
    ASSERT_FALSE(admit({rpm("j", 1)}).admitted);
    rl_.refund_now(b.charge);
    EXPECT_FALSE(admit({rpm("j", 1)}).admitted);
    // Also when no admission has rolled the stored window yet.
    at(5, 0);
    const auto b2 = admit({rpm("y", 2)});
    ASSERT_TRUE(b2.admitted);
    at(6, 30);  // prev = 1 weighs 30: (cur+1)*60 + 30 <= 120 → one admission
    rl_.refund_now(b2.charge);
    EXPECT_EQ(admit_until_blocked({rpm("y", 2)}), 1);

    // Refunds never go below zero.
    at(3, 0);
    const auto c = admit({rpm("z", 1)});
    ASSERT_TRUE(c.admitted);
    rl_.refund_now(c.charge);
    rl_.refund_now(c.charge);
    EXPECT_EQ(admit_until_blocked({rpm("z", 1)}), 1);
}

TEST_F(MemoryRateLimiter, RefundCoversAllScopes) {
    const std::vector<rate_scope> scopes{tpm("key-1", 100), tpm("tenant:t", 100)};
    const auto a = admit(scopes, 100);
    ASSERT_TRUE(a.admitted);
    ASSERT_FALSE(admit({tpm("tenant:t", 100)}, 1).admitted);
    rl_.refund_now(a.charge);
    EXPECT_TRUE(admit(scopes, 100).admitted);
}

TEST_F(MemoryRateLimiter, SettleCorrectsTokens) {
    const auto a = admit({tpm("k", 100)}, 90);
    ASSERT_TRUE(a.admitted);
    EXPECT_FALSE(admit({tpm("k", 100)}, 20).admitted);
    rl_.settle_now(a.charge, 10);  // cur_tok 10
    EXPECT_TRUE(admit({tpm("k", 100)}, 80).admitted);
    EXPECT_FALSE(admit({tpm("k", 100)}, 11).admitted);

    // Upward: an estimate of 10 that used 100 fills the window.
    const auto b = admit({tpm("u", 100)}, 10);
    ASSERT_TRUE(b.admitted);
    rl_.settle_now(b.charge, 100);
    EXPECT_FALSE(admit({tpm("u", 100)}, 1).admitted);
    EXPECT_TRUE(admit({tpm("u", 100)}, 0).admitted);

    // A later minute: the settlement is ignored.
    const auto c = admit({tpm("m", 100)}, 50);
    ASSERT_TRUE(c.admitted);
    at(1, 0);
    rl_.settle_now(c.charge, 0);
    at(1, 30);  // prev = 50 weighs 25
    EXPECT_FALSE(admit({tpm("m", 100)}, 76).admitted);
    EXPECT_TRUE(admit({tpm("m", 100)}, 75).admitted);
}

TEST_F(MemoryRateLimiter, RetainOnlyDropsScopes) {
    for (const char* id : {"a", "b", "c"}) {
        ASSERT_TRUE(admit({rpm(id, 1)}).admitted);
    }
    EXPECT_EQ(rl_.scope_count(), 3u);
    rl_.retain_only({"b", "not-there"});
    EXPECT_EQ(rl_.scope_count(), 1u);
    EXPECT_TRUE(admit({rpm("a", 1)}).admitted);   // counters were dropped
    EXPECT_FALSE(admit({rpm("b", 1)}).admitted);  // kept
    rl_.retain_only({});
    EXPECT_EQ(rl_.scope_count(), 0u);
}

TEST_F(MemoryRateLimiter, ConcurrentAdmissionsNeverOvershoot) {
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([this, &admitted, t] {
            const std::vector<rate_scope> scopes{rpm("key-1", 50),
                                                 rpm("user:" + std::to_string(t), 1000)};
            for (int i = 0; i < 200; ++i) {
                if (rl_.admit_now(scopes, 1).admitted) {
                    admitted.fetch_add(1, std::memory_order_relaxed);
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(admitted.load(), 50);
}

struct coro_result {
    bool first = false;
    bool second = false;
    bool after_refund = false;
    bool after_settle = false;
    bool done = false;
};

boost::asio::awaitable<void> exercise(memory_rate_limiter* rl, coro_result* out) {
    const std::vector<rate_scope> scopes{rate_scope{"key-1", 1u, 100u}};
    const rate_decision a = co_await rl->admit(scopes, 60);
    out->first = a.admitted;
    const rate_decision b = co_await rl->admit(scopes, 1);
    out->second = b.admitted;
    co_await rl->refund(a.charge);
    const rate_decision c = co_await rl->admit(scopes, 60);
    out->after_refund = c.admitted;
    co_await rl->refund(c.charge);
    const rate_decision d = co_await rl->admit(scopes, 10);
    co_await rl->settle_tokens(d.charge, 100);
    co_await rl->refund(d.charge);  // takes back the request and the estimate of 10
    const rate_decision e = co_await rl->admit(scopes, 11);
    out->after_settle = e.admitted;  // 90 + 11 > 100
    out->done = true;
}

TEST_F(MemoryRateLimiter, AwaitableApi) {
    boost::asio::io_context ioc;
    coro_result r;
    boost::asio::co_spawn(ioc, exercise(&rl_, &r), boost::asio::detached);
    ioc.run();
    EXPECT_TRUE(r.done);
    EXPECT_TRUE(r.first);
    EXPECT_FALSE(r.second);
    EXPECT_TRUE(r.after_refund);
    EXPECT_FALSE(r.after_settle);
}

TEST(MemoryRateLimiterClock, DefaultsToSystemClock) {
    memory_rate_limiter rl;
    const auto d = rl.admit_now({rate_scope{"k", 1u, std::nullopt}}, 0);
    ASSERT_TRUE(d.admitted);
    EXPECT_NEAR(static_cast<double>(d.charge.minute),
                static_cast<double>(memory_rate_limiter::system_seconds() / 60), 1.0);
}

}  // namespace
}  // namespace ditto::store
