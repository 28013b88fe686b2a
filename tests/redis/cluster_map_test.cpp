// The Redis Cluster routing table on bytes alone (src/store/redis/cluster_map.hpp): key slots,
// the key a command routes by, CLUSTER SHARDS / SLOTS replies, MOVED and ASK, and the URL.
#include "cluster_map.hpp"

#include <gtest/gtest.h>

#include "ditto/store/redis/redis_url.hpp"

namespace ditto::store::redis {
namespace {

redis_reply str(std::string s) {
    redis_reply r;
    r.type = redis_type::string;
    r.str = std::move(s);
    return r;
}
redis_reply num(long long v) {
    redis_reply r;
    r.type = redis_type::integer;
    r.integer = v;
    return r;
}
redis_reply arr(std::vector<redis_reply> e) {
    redis_reply r;
    r.type = redis_type::array;
    r.elements = std::move(e);
    return r;
}
redis_reply err(std::string s) {
    redis_reply r;
    r.type = redis_type::error;
    r.str = std::move(s);
    return r;
}

TEST(ClusterMap, KeySlotsAreRedisClusters) {
    // The values Redis' CLUSTER KEYSLOT gives (and the specification's CRC16 check value).
    EXPECT_EQ(key_slot("123456789"), 12739);
    EXPECT_EQ(key_slot("foo"), 12182);
    EXPECT_EQ(key_slot("t"), 15891);
    // A hash tag: only the text inside the first {…} counts.
    EXPECT_EQ(key_slot("{t}:scope:key-1"), key_slot("t"));
    EXPECT_EQ(key_slot("{t}:audit"), key_slot("{t}:res:1700000000"));
    EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
    // An empty tag hashes the whole key; the first '{' and the next '}' make the tag.
    EXPECT_EQ(key_slot("foo{}{bar}"), key_slot(std::string("foo{}{bar}")));
    EXPECT_NE(key_slot("foo{}{bar}"), key_slot("bar"));
    EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));
    EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar"));
    // Cache entries are untagged: they spread.
    EXPECT_NE(key_slot("t:proxy_cache:a"), key_slot("t:proxy_cache:b"));
}

TEST(ClusterMap, CommandsRouteByTheirFirstKey) {
    EXPECT_EQ(command_key({"GET", "k"}), "k");
    EXPECT_EQ(command_key({"hset", "h", "f", "v"}), "h");
    EXPECT_EQ(command_key({"EVALSHA", "abc", "2", "k1", "k2", "argv"}), "k1");
    EXPECT_EQ(command_key({"EVAL", "return 1", "0", "argv"}), std::nullopt);
    EXPECT_EQ(command_key({"TIME"}), std::nullopt);
    EXPECT_EQ(command_key({"SCAN", "0", "MATCH", "x*"}), std::nullopt);
    EXPECT_EQ(command_key({"cluster", "shards"}), std::nullopt);
    std::vector<std::vector<std::string>> tx{
        {"MULTI"}, {"HGETALL", "{t}:virtual_keys"}, {"GET", "{t}:router_config"}, {"EXEC"}};
    EXPECT_EQ(pipeline_key(tx), "{t}:virtual_keys");
    EXPECT_EQ(pipeline_key({{"TIME"}, {"GET", "{t}:reap"}}), "{t}:reap");
    EXPECT_EQ(pipeline_key({{"PING"}}), std::nullopt);
}

redis_reply shard(long long lo, long long hi, std::vector<redis_reply> nodes) {
    return arr({str("slots"), arr({num(lo), num(hi)}), str("nodes"), arr(std::move(nodes))});
}
redis_reply node(const std::string& endpoint, long long port, const std::string& role,
                 const std::string& health = "online", long long tls_port = 0) {
    std::vector<redis_reply> f{str("id"),   str("x"),        str("port"),     num(port),
                               str("ip"),   str("10.0.0.9"), str("endpoint"), str(endpoint),
                               str("role"), str(role),       str("health"),   str(health)};
    if (tls_port) {
        f.push_back(str("tls-port"));
        f.push_back(num(tls_port));
    }
    return arr(std::move(f));
}

TEST(ClusterMap, ShardsGiveEachSlotItsHealthyPrimary) {
    const redis_endpoint asked{"seed", 7000};
    const auto reply = arr({
        shard(0, 5460, {node("10.0.0.1", 7000, "master"), node("10.0.0.4", 7003, "replica")}),
        shard(5461, 10922, {node("?", 7001, "master")}),
        // Its primary failed and no replica took over yet: no owner.
        shard(10923, 16383, {node("10.0.0.3", 7002, "master", "failed")}),
    });
    std::string error;
    const auto map = parse_cluster_shards(reply, asked, false, error);
    ASSERT_TRUE(map) << error;
    ASSERT_EQ(map->primaries.size(), 2u);
    EXPECT_EQ(map->primaries[map->owner[0]].host, "10.0.0.1");
    EXPECT_EQ(map->primaries[map->owner[5460]].port, 7000);
    // `?`: no preferred endpoint announced; its IP address is.
    EXPECT_EQ(map->primaries[map->owner[5461]].host, "10.0.0.9");
    EXPECT_EQ(map->primaries[map->owner[5461]].port, 7001);
    EXPECT_EQ(map->owner[16383], cluster_map::unowned);
    EXPECT_EQ(map->unowned_slots(), 16384u - 10923u);
}

TEST(ClusterMap, ShardsUnderTlsUseTheTlsPort) {
    const auto reply = arr({shard(0, 16383, {node("h", 7000, "master", "online", 8000)})});
    std::string error;
    const auto tls = parse_cluster_shards(reply, {"seed", 1}, true, error);
    ASSERT_TRUE(tls);
    EXPECT_EQ(tls->primaries[0].port, 8000);
    const auto plain = parse_cluster_shards(reply, {"seed", 1}, false, error);
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->primaries[0].port, 7000);
}

TEST(ClusterMap, BadRepliesAreErrorsNotMaps) {
    std::string error;
    EXPECT_FALSE(parse_cluster_shards(err("ERR This instance has cluster support disabled"),
                                      {"h", 1}, false, error));
    EXPECT_NE(error.find("cluster support disabled"), std::string::npos);
    EXPECT_FALSE(
        parse_cluster_shards(arr({shard(5, 16384, {node("h", 1, "master")})}), {}, false, error));
    EXPECT_FALSE(parse_cluster_shards(arr({arr({str("slots")})}), {}, false, error));
    EXPECT_FALSE(parse_cluster_slots(arr({arr({num(0)})}), {}, error));
}

TEST(ClusterMap, SlotsOfOlderServers) {
    const auto reply = arr({
        arr({num(0), num(8191), arr({str("10.0.0.1"), num(7000), str("id1")}),
             arr({str("10.0.0.4"), num(7003), str("id4")})}),
        arr({num(8192), num(16383), arr({str(""), num(7001), str("id2")})}),
    });
    std::string error;
    const auto map = parse_cluster_slots(reply, {"seed", 7000}, error);
    ASSERT_TRUE(map) << error;
    ASSERT_EQ(map->primaries.size(), 2u);
    EXPECT_EQ(map->primaries[map->owner[8191]].host, "10.0.0.1");
    EXPECT_EQ(map->primaries[map->owner[8192]].host, "seed");
    EXPECT_EQ(map->unowned_slots(), 0u);
}

TEST(ClusterMap, MovedAndAsk) {
    const redis_endpoint asked{"seed", 7000};
    auto m = parse_redirect(err("MOVED 3999 127.0.0.1:6381"), asked);
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->ask);
    EXPECT_EQ(m->slot, 3999);
    EXPECT_EQ(m->to.host, "127.0.0.1");
    EXPECT_EQ(m->to.port, 6381);
    auto a = parse_redirect(err("ASK 15891 ::1:7002"), asked);
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->ask);
    EXPECT_EQ(a->to.host, "::1");
    EXPECT_EQ(a->to.port, 7002);
    // No host, or `?`: the node that answered (the one asked), not the URL's.
    auto unknown = parse_redirect(err("MOVED 1 :7005"), asked);
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->to.host, "seed");
    auto question = parse_redirect(err("MOVED 1 ?:7005"), {"node-2", 7001});
    ASSERT_TRUE(question);
    EXPECT_EQ(question->to.host, "node-2");
    EXPECT_FALSE(parse_redirect(err("MOVED 16384 h:1"), asked));
    EXPECT_FALSE(parse_redirect(err("MOVED x h:1"), asked));
    EXPECT_FALSE(parse_redirect(err("TRYAGAIN Multiple keys request during rehashing"), asked));
    EXPECT_FALSE(parse_redirect(str("MOVED 1 h:1"), asked));
}

TEST(RedisUrl, ClusterSeeds) {
    std::string error;
    auto u = parse_redis_url("redis+cluster://:pw@n1:7000,n2,[::1]:7002", error);
    ASSERT_TRUE(u) << error;
    ASSERT_TRUE(u->cluster());
    ASSERT_EQ(u->cluster_seeds.size(), 3u);
    EXPECT_EQ(u->cluster_seeds[1].port, 6379);
    EXPECT_EQ(u->cluster_seeds[2].host, "::1");
    EXPECT_EQ(u->host, "n1");
    EXPECT_EQ(u->port, 7000);
    EXPECT_FALSE(u->tls);
    EXPECT_EQ(u->redacted(), "redis+cluster://:***@n1:7000,n2:6379,[::1]:7002/0");
    auto t = parse_redis_url("rediss+cluster://clustercfg.example:6379/0", error);
    ASSERT_TRUE(t) << error;
    EXPECT_TRUE(t->tls);
    EXPECT_EQ(t->redacted(), "rediss+cluster://clustercfg.example:6379/0");
    EXPECT_FALSE(parse_redis_url("redis+cluster://n1/2", error));
    EXPECT_NE(error.find("database 0 only"), std::string::npos);
    EXPECT_FALSE(parse_redis_url("redis+cluster://n1,:pw", error));
}

}  // namespace
}  // namespace ditto::store::redis
