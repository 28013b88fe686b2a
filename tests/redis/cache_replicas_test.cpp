// The proxy cache's shared tier on a real redis-server (docs/caching.md, "Tiers"): an answer cached
// by one replica is a hit on another, Redis errors are misses, never failures.
#include <thread>

#include "support/replicas.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

TEST_F(Replicas, AnAnswerCachedByOneReplicaIsAHitOnAnother) {
    start(2, virtual_key_json("key-1", "vk-1"), {"--proxy-cache"});
    auto miss = post(0, "vk-1");
    ASSERT_EQ(miss->status, 200);
    const auto key = miss->header("x-ditto-cache-key");
    // Stored in Redis before the answer was sent, with the TTL.
    EXPECT_EQ(cli({"EXISTS", "t:proxy_cache:" + key}), "1");
    const auto ttl = std::stoi(cli({"TTL", "t:proxy_cache:" + key}));
    EXPECT_GT(ttl, 50);
    EXPECT_LE(ttl, 60);

    auto remote = post(1, "vk-1", exact_chat, {{"x-request-id", "on-b"}});
    ASSERT_EQ(remote->status, 200);
    EXPECT_EQ(remote->header("x-ditto-cache"), "hit");
    EXPECT_EQ(remote->header("x-ditto-cache-source"), "redis");
    EXPECT_EQ(remote->header("x-request-id"), "on-b");
    EXPECT_EQ(remote->body, miss->body);
    // Promoted into B's memory.
    EXPECT_EQ(post(1, "vk-1")->header("x-ditto-cache-source"), "memory");
    EXPECT_EQ(mock.request_count(), 1);
}

TEST_F(Replicas, AnEntryRedisCannotDecodeIsAMiss) {
    start(1, virtual_key_json("key-1", "vk-1"), {"--proxy-cache"});
    auto miss = post(0, "vk-1");
    const auto key = miss->header("x-ditto-cache-key");
    // A peer of another version (or anything else) wrote this key: not ours, so a miss.
    gws.push_back(std::make_unique<running_gateway>());
    gws.back()->start(config, {"--redis", redis.url(), "--redis-prefix", "t", "--proxy-cache"});
    cli({"SET", "t:proxy_cache:" + key, R"({"status":200,"body":[123,125]})", "EX", "60"});
    auto r = post(1, "vk-1");
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(r->has_header("x-ditto-cache"));
    EXPECT_EQ(mock.request_count(), 2);
    // The fresh answer replaced it.
    EXPECT_EQ(cli({"GET", "t:proxy_cache:" + key}).rfind("dce1", 0), 0u);
}

TEST_F(Replicas, WithRedisDownTheCacheMissesAndRequestsStillSucceed) {
    start(1, virtual_key_json("key-1", "vk-1"), {"--proxy-cache", "--redis-timeout-ms", "100"});
    ASSERT_EQ(post(0, "vk-1")->status, 200);
    redis.kill();
    // The memory tier still answers what it holds...
    EXPECT_EQ(post(0, "vk-1")->header("x-ditto-cache"), "hit");
    // ...and a new request misses both tiers and goes upstream, within the deadline.
    const auto t0 = std::chrono::steady_clock::now();
    const std::string other =
        R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"ho"}]})";
    auto r = post(0, "vk-1", other);
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(r->has_header("x-ditto-cache"));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    // Not stored in Redis, but in memory: the next one is a memory hit.
    EXPECT_EQ(post(0, "vk-1", other)->header("x-ditto-cache-source"), "memory");
    EXPECT_EQ(mock.request_count(), 2);
}

}  // namespace
}  // namespace ditto::test
