#pragma once

// Replicas behind a Redis that fails over (Sentinel, a Cluster primary and its replica): the
// checks both fail-over suites make of the answers under load and of the ledger afterwards.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "support/inspect.hpp"
#include "support/load.hpp"
#include "support/replicas.hpp"
#include "support/wait.hpp"

namespace ditto::test {

using namespace std::chrono_literals;

inline const std::string admin_token = "adm-failover";
inline constexpr auto redis_timeout = 250ms;
inline constexpr std::uint64_t per_request = 27;  // exact_chat: charge = reported usage

class FailoverReplicas : public Replicas {
  protected:
    using Replicas::Replicas;

    /// The flags both suites start their gateways with, after `--redis URL`.
    static std::vector<std::string> failover_args(const std::string& url) {
        return {"--redis",
                url,
                "--redis-timeout-ms",
                std::to_string(redis_timeout.count()),
                "--admin-token",
                admin_token,
                "--reservation-lease-secs",
                "8"};
    }

    std::optional<token_ledger> ledger() {
        return read_token_ledger(gws[0]->port, admin_token, "key-b");
    }

    /// Both gateways admit again, every worker of each (each has its own connection, which
    /// may still be waiting out its reconnect backoff): 8 requests in a row on each gateway
    /// succeed. Every 200 on the way counts in `ok`.
    bool both_serve(std::uint64_t& ok) {
        return eventually(
            [&] {
                int served = 0;
                for (int i = 0; i < 16; ++i) {
                    const auto r = post(i % 2, "vk-b");
                    if (r && r->status == 200) {
                        ++ok;
                        ++served;
                    }
                }
                return served == 16;
            },
            10s, 50ms);
    }

    /// After a fail-over: nothing stays reserved once the reaper has released what the new
    /// primary never saw settled; never more spent than was used (asynchronous replication
    /// can only lose writes: docs/redis.md, "What a fail-over can lose"); then exact again.
    void ledger_exact_from_now_on(std::uint64_t ok) {
        std::optional<token_ledger> l;
        const bool settled = eventually(
            [&] {
                l = ledger();
                return l && l->reserved == 0;
            },
            20s, 200ms);
        ASSERT_TRUE(settled) << "still reserved: " << (l ? l->reserved : 0);
        EXPECT_EQ(l->spent % per_request, 0u);
        EXPECT_LE(l->spent, ok * per_request) << ok << " successes";
        std::printf("ledger after the fail-over: %llu of %llu successes counted\n",
                    static_cast<unsigned long long>(l->spent / per_request),
                    static_cast<unsigned long long>(ok));
        const std::uint64_t before = l->spent;
        for (int i = 0; i < 20; ++i) {
            const auto r = post(i % 2, "vk-b");
            ASSERT_TRUE(r);
            ASSERT_EQ(r->status, 200) << r->body;
        }
        l = ledger();
        ASSERT_TRUE(l);
        EXPECT_EQ(l->spent, before + 20 * per_request);
        EXPECT_EQ(l->reserved, 0u);
    }

    /// Answers other than 200 and 503 store_unavailable fail the test; returns the 200s.
    std::uint64_t check(const std::vector<answer>& answers, const std::string& what) {
        const tally t = count_answers(answers, what);
        std::printf(
            "%s: %zu answers (%llu ok, %llu store_unavailable), slowest 200 %lld ms, "
            "slowest 503 %lld ms\n",
            what.c_str(), answers.size(), static_cast<unsigned long long>(t.ok),
            static_cast<unsigned long long>(t.unavailable),
            static_cast<long long>(t.slowest_ok.count()),
            static_cast<long long>(t.slowest_503.count()));
        EXPECT_EQ(t.unanswered + t.other, 0u) << what;
        // As in the fault suite (redis_fault_test.cpp): a refusal within one command deadline,
        // an admitted request within its three meetings with Redis.
        EXPECT_LE(t.slowest_503, redis_timeout + 250ms) << what;
        EXPECT_LE(t.slowest_ok, 3 * redis_timeout + 500ms) << what;
        return t.ok;
    }
};

}  // namespace ditto::test
