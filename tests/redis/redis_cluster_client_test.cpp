// redis_client against a slot caught mid-migration on a real 3-primary Redis Cluster: the
// migration is set up by hand (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE), so every
// redirection happens on cue: ASK for a key already moved, ASK inside MULTI … EXEC (one ASKING
// before MULTI: queued inside it, EXEC would answer it), then MOVED once the slot is handed over.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "connection_fixture.hpp"
#include "redis_client.hpp"
#include "support/redis_cluster.hpp"

namespace ditto::store::redis {
namespace {

class RedisClusterClient : public RedisConnection {
  protected:
    void SetUp() override {
        std::string error;
        auto url = parse_redis_url(cluster.url(), error);
        ASSERT_TRUE(url) << error;
        client = std::make_shared<redis_client>(*url, redis_options{}, "{home}");
    }
    void TearDown() override {
        if (client)
            client->seal();
    }

    redis_result run(std::vector<std::string> args) { return await(client->exec(std::move(args))); }
    redis_pipeline_result run_pipeline(std::vector<std::vector<std::string>> commands) {
        return await(client->pipeline(std::move(commands)));
    }

    test::redis_cluster cluster;
    std::shared_ptr<redis_client> client;
};

TEST_F(RedisClusterClient, AskDuringAMigrationThenMovedOnceTheSlotIsHandedOver) {
    const std::string key = "{m}:a";
    ASSERT_EQ(cluster.cli_any({"SET", key, "1"}), "OK");
    const std::size_t from = cluster.owner_of(key);
    ASSERT_LT(from, cluster.size());
    const std::size_t to = (from + 1) % cluster.size();
    const std::string slot = cluster.cli(from, {"CLUSTER", "KEYSLOT", key});
    // The map is read, and the key found where the map says.
    auto first = run({"GET", key});
    ASSERT_FALSE(first.error) << first.error.message();
    ASSERT_EQ(first.reply.str, "1");

    ASSERT_EQ(cluster.cli(to, {"CLUSTER", "SETSLOT", slot, "IMPORTING", cluster.id(from)}), "OK");
    ASSERT_EQ(cluster.cli(from, {"CLUSTER", "SETSLOT", slot, "MIGRATING", cluster.id(to)}), "OK");
    ASSERT_EQ(cluster.cli(from, {"MIGRATE", "127.0.0.1", std::to_string(cluster.port(to)), key, "0",
                                 "5000"}),
              "OK");
    // The key is on the importing node only: the owner answers ASK.
    auto asked = run({"GET", key});
    ASSERT_FALSE(asked.error) << asked.error.message();
    EXPECT_EQ(asked.reply.str, "1") << asked.reply.str;
    auto tx = run_pipeline({{"MULTI"}, {"GET", key}, {"EXEC"}});
    ASSERT_FALSE(tx.error) << tx.error.message();
    ASSERT_EQ(tx.replies.size(), 3u);
    ASSERT_TRUE(tx.replies[2].is_array()) << tx.replies[2].str;
    ASSERT_EQ(tx.replies[2].elements.size(), 1u) << "EXEC answered more than the queued GET";
    EXPECT_EQ(tx.replies[2].elements[0].str, "1");

    // Handed over: the old owner answers MOVED, which moves the slot in the client's map.
    for (std::size_t n = 0; n < cluster.size(); ++n)
        ASSERT_EQ(cluster.cli(n, {"CLUSTER", "SETSLOT", slot, "NODE", cluster.id(to)}), "OK");
    auto moved = run({"GET", key});
    ASSERT_FALSE(moved.error) << moved.error.message();
    EXPECT_EQ(moved.reply.str, "1") << moved.reply.str;
    // Routed straight to the new owner from now on: a write lands there.
    auto set = run({"SET", key, "2"});
    ASSERT_FALSE(set.error);
    EXPECT_TRUE(set.reply.is_ok()) << set.reply.str;
    EXPECT_EQ(cluster.cli(to, {"GET", key}), "2");
}

TEST_F(RedisClusterClient, ABatchOverSeveralSlotsAnswersARedirectedCommandAsRedisDid) {
    // Two keys on different primaries, read in one batch routed by the first: the second
    // comes back as Redis' MOVED for its slot (a cache purge's batch is always one node's
    // keys), not sent again and again until the deadline.
    std::string a = "x0";
    std::string b;
    for (int i = 1; b.empty() && i < 100; ++i) {
        const std::string k = "x" + std::to_string(i);
        if (cluster.owner_of(k) != cluster.owner_of(a))
            b = k;
    }
    ASSERT_FALSE(b.empty());
    auto r = run_pipeline({{"GET", a}, {"GET", b}});
    ASSERT_FALSE(r.error) << r.error.message();
    ASSERT_EQ(r.replies.size(), 2u);
    EXPECT_TRUE(r.replies[0].is_nil());
    EXPECT_TRUE(r.replies[1].is_error());
    EXPECT_TRUE(r.replies[1].str.starts_with("MOVED ")) << r.replies[1].str;
}

}  // namespace
}  // namespace ditto::store::redis
