// Retries with an x-request-id across replicas sharing a real redis-server (docs/proxy.md,
// "Retries with x-request-id"; docs/redis.md): a retry on any replica gets the first answer, and
// during a Redis outage on the same replica.

#include "support/redis_layout.hpp"
#include "support/replicas.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

TEST_F(Replicas, AHundredRetriesOverThreeReplicasMakeOneUpstreamCallAndOneCharge) {
    start(3, virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":100000})"));
    constexpr int n = 100;
    const auto answers = in_parallel(n, [&](int i) {
        return post(i % 3, "vk-1", exact_chat,
                    {{"x-request-id", "once"}, {"x-mock-delay-ms", "500"}});
    });
    for (const auto& a : answers) {
        ASSERT_TRUE(a);
        ASSERT_EQ(a->status, 200) << a->body;
        EXPECT_EQ(a->body, answers[0]->body);
        EXPECT_EQ(a->header("x-request-id"), "once");
    }
    EXPECT_EQ(count_header(answers, "x-ditto-request-dedup", "leader"), 1);
    EXPECT_EQ(count_header(answers, "x-ditto-request-dedup", "replay"), n - 1);
    EXPECT_EQ(mock.request_count(), 1);
    // One charge: the mock's 27 tokens.
    EXPECT_EQ(cli(ledger_field("t", "key-1", "spent_tokens")), "27");
    EXPECT_EQ(cli(ledger_field("t", "key-1", "reserved_tokens")), "0");
    // The record is kept for 24 hours, under the key docs/redis.md names.
    const auto pttl = std::stoll(
        cli({"PTTL", "t:proxy_request_idempotency:ditto-proxy-request-dedup-v1|key-1|once"}));
    EXPECT_GT(pttl, 23LL * 3600 * 1000);
    EXPECT_LE(pttl, 24LL * 3600 * 1000);
    // Bound to its request on every replica.
    auto other = post(2, "vk-1", chat_body, {{"x-request-id", "once"}});
    EXPECT_EQ(other->status, 409);
    EXPECT_NE(other->body.find(R"("code":"request_id_conflict")"), std::string::npos);
    EXPECT_EQ(mock.request_count(), 1);
}

TEST_F(Replicas, WithRedisDownRetriesOnOneReplicaAreStillOneCall) {
    // The default failure mode (closed): a key without a budget keeps working, id or not.
    start(1, virtual_key_json("key-1", "vk-1"), {"--redis-timeout-ms", "100"});
    redis.kill();
    auto first = post(0, "vk-1", exact_chat, {{"x-request-id", "o-1"}});
    ASSERT_EQ(first->status, 200) << first->body;
    EXPECT_EQ(first->header("x-ditto-request-dedup"), "leader");
    auto again = post(0, "vk-1", exact_chat, {{"x-request-id", "o-1"}});
    EXPECT_EQ(again->header("x-ditto-request-dedup"), "replay");
    EXPECT_EQ(again->body, first->body);
    EXPECT_EQ(mock.request_count(), 1);
}

}  // namespace
}  // namespace ditto::test
