// redis+cluster:// against a local 3-primary Redis Cluster (docs/redis.md, "Redis Cluster"):
// limits and budgets exact across 3 replicas with every governance key in one slot ({t}), cache
// entries spread over the shards and shared, the governance slot migrated under load
// (`redis-cli --cluster reshard`) without a failed request or a lost charge, the governance
// primary killed under load and replaced by its replica, and the whole over TLS.
#include "support/redis_cluster.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "acl_rule.hpp"
#include "failover_fixture.hpp"
#include "support/http_client.hpp"
#include "support/inspect.hpp"
#include "support/load.hpp"
#include "support/replicas.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"
#include "support/wait.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

std::string chat_asking(int i) {
    return R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"q)" +
           std::to_string(i) + R"("}]})";
}

class RedisCluster : public Replicas {
  protected:
    void start_on_cluster(int n, const std::string& keys, std::vector<std::string> args = {}) {
        args.insert(args.end(),
                    {"--redis", cluster.url(), "--redis-timeout-ms",
                     std::to_string(redis_timeout.count()), "--admin-token", admin_token});
        start(n, keys, args);
    }

    redis_cluster cluster;
};

TEST_F(RedisCluster, RpmIsExactAcrossThreeReplicas) {
    start_on_cluster(3, virtual_key_json("key-1", "vk-1", R"("limits":{"rpm":50})"),
                     {"--workers", "2"});
    const auto statuses = spread("vk-1", 100);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 50);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429), 250);
    EXPECT_EQ(mock.request_count(), 50);
}

TEST_F(RedisCluster, BudgetsAreExactAcrossThreeReplicasWithTheGovernanceKeysInOneSlot) {
    start_on_cluster(3, virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":1080})"));
    const auto statuses = spread("vk-1", 100);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 40);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 402), 260);
    const auto l = read_token_ledger(gws[0]->port, admin_token, "key-1");
    ASSERT_TRUE(l);
    EXPECT_EQ(l->spent, 1080u);
    EXPECT_EQ(l->reserved, 0u);
    // Every governance key is on the node of {t}'s slot, under the tag; the plain prefix has
    // none of them.
    const std::size_t home = cluster.owner_of("{t}");
    ASSERT_LT(home, cluster.size());
    EXPECT_EQ(cluster.cli(home, {"HGET", "{t}:scope:key-1", "st"}), "1080");
    EXPECT_EQ(cluster.cli(home, {"EXISTS", "{t}:layout", "{t}:reap", "{t}:control_version"}), "3");
    for (std::size_t n = 0; n < cluster.size(); ++n) {
        EXPECT_EQ(cluster.cli(n, {"--scan", "--pattern", "t:scope:*"}), "") << "node " << n;
        if (n != home) {
            EXPECT_EQ(cluster.cli(n, {"DBSIZE"}), "0") << "node " << n;
        }
    }
}

TEST_F(RedisCluster, CacheEntriesSpreadOverTheShardsAreSharedAndPurged) {
    start_on_cluster(2, virtual_key_json("key-1", "vk-1"), {"--proxy-cache"});
    std::vector<std::string> keys;
    for (int i = 0; i < 12; ++i) {
        const auto miss = post(0, "vk-1", chat_asking(i));
        ASSERT_TRUE(miss);
        ASSERT_EQ(miss->status, 200) << miss->body;
        keys.push_back(miss->header("x-ditto-cache-key"));
    }
    std::set<std::size_t> holders;
    for (const auto& k : keys) {
        EXPECT_EQ(cluster.cli_any({"EXISTS", "t:proxy_cache:" + k}), "1") << k;
        holders.insert(cluster.owner_of("t:proxy_cache:" + k));
    }
    EXPECT_GE(holders.size(), 2u) << "cache entries should spread over the shards";
    // Written by one replica, a hit on the other, from Redis.
    for (int i = 0; i < 12; ++i) {
        const auto hit = post(1, "vk-1", chat_asking(i));
        ASSERT_TRUE(hit);
        EXPECT_EQ(hit->header("x-ditto-cache"), "hit") << i;
        EXPECT_EQ(hit->header("x-ditto-cache-source"), "redis") << i;
    }
    EXPECT_EQ(mock.request_count(), 12);
    // A purge visits every primary.
    const auto purged = http_request(
        gws[0]->port, "POST", "/admin/proxy_cache/purge", R"({"all":true})",
        {{"Authorization", "Bearer " + admin_token}, {"Content-Type", "application/json"}});
    ASSERT_TRUE(purged);
    ASSERT_EQ(purged->status, 200) << purged->body;
    EXPECT_NE(purged->body.find(R"("deleted_redis":12)"), std::string::npos) << purged->body;
    for (const auto& k : keys)
        EXPECT_EQ(cluster.cli_any({"EXISTS", "t:proxy_cache:" + k}), "0") << k;
}

TEST_F(RedisCluster, TheGovernanceSlotMigratedUnderLoadFailsNoRequest) {
    // No cache: every request is admitted and settled by scripts on the migrating slot.
    start_on_cluster(3,
                     virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":100000000})"));
    const std::size_t from = cluster.owner_of("{t}");
    ASSERT_LT(from, cluster.size());
    const std::size_t to = (from + 1) % cluster.size();
    const int slot = std::atoi(cluster.cli(0, {"CLUSTER", "KEYSLOT", "{t}"}).c_str());
    // reshard moves a node's slots lowest first: this many takes {t}'s slot with them.
    const int count = slot - cluster.first_slot(from) + 1;
    ASSERT_GT(count, 0);
    for (int i = 0; i < 6; ++i)
        ASSERT_EQ(post(i % 3, "vk-1")->status, 200);
    load clients({gws[0]->port, gws[1]->port, gws[2]->port}, 6, "vk-1", exact_chat);
    std::this_thread::sleep_for(300ms);
    const auto moved =
        run_to_exit("/usr/bin/redis-cli",
                    {"--cluster", "reshard", "127.0.0.1:" + std::to_string(cluster.port(0)),
                     "--cluster-from", cluster.id(from), "--cluster-to", cluster.id(to),
                     "--cluster-slots", std::to_string(count), "--cluster-yes"},
                    120s);
    ASSERT_EQ(moved.exit_code, 0) << moved.err;
    std::this_thread::sleep_for(300ms);
    const auto answers = clients.finish();
    const tally t = count_answers(answers, "reshard");
    std::printf("reshard of %d slots: %zu answers (%llu ok), slowest %lld ms\n", count,
                answers.size(), static_cast<unsigned long long>(t.ok),
                static_cast<long long>(t.slowest_ok.count()));
    EXPECT_EQ(cluster.owner_of("{t}"), to);
    EXPECT_EQ(t.ok, answers.size()) << "every request served during the migration";
    EXPECT_GT(t.ok, 50u);
    EXPECT_LE(t.slowest_ok, 3 * redis_timeout + 500ms);
    // Nothing lost or counted twice: the ledger is what was served.
    std::optional<token_ledger> l;
    ASSERT_TRUE(eventually(
        [&] {
            l = read_token_ledger(gws[1]->port, admin_token, "key-1");
            return l && l->reserved == 0;
        },
        10s, 100ms));
    EXPECT_EQ(l->spent, (t.ok + 6) * per_request);
    EXPECT_EQ(cluster.cli(to, {"HGET", "{t}:scope:key-1", "st"}), std::to_string(l->spent));
}

TEST_F(RedisCluster, OneReplicaNeedsNoMoreThanTheDocumentedAclRule) {
    // docs/redis.md: the rule of "Least privilege" plus `~{P}:*` and the cluster commands, set
    // on every node (ACLs are per node).
    for (std::size_t n = 0; n < cluster.size(); ++n) {
        std::vector<std::string> rule{"ACL",  "SETUSER",   "gateway",
                                      "on",   ">acl-pw-9", "resetkeys",
                                      "~t:*", "~{t}:*",    "resetchannels"};
        std::istringstream words(k_acl_commands + " " + k_acl_cluster_commands);
        for (std::string w; words >> w;)
            rule.push_back(w);
        ASSERT_EQ(cluster.cli(n, rule), "OK");
    }
    std::string url = cluster.url();
    url.replace(url.find("://") + 3, 0, "gateway:acl-pw-9@");
    start(1, virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":100000})"),
          {"--redis", url, "--admin-token", admin_token, "--proxy-cache"});
    ASSERT_EQ(post(0, "vk-1")->status, 200);
    EXPECT_EQ(post(0, "vk-1")->header("x-ditto-cache"), "hit");
    const std::string other = chat_asking(1);
    EXPECT_EQ(post(0, "vk-1", other, {{"x-request-id", "acl-1"}})->status, 200);
    EXPECT_EQ(post(0, "vk-1", other, {{"x-request-id", "acl-1"}})->header("x-ditto-request-dedup"),
              "replay");
    const http_headers auth{{"Authorization", "Bearer " + admin_token},
                            {"Content-Type", "application/json"}};
    const auto created =
        http_request(gws[0]->port, "POST", "/admin/keys", virtual_key_json("key-2", "vk-2"), auth);
    ASSERT_TRUE(created);
    EXPECT_EQ(created->status, 201) << created->body;
    EXPECT_EQ(post(0, "vk-2")->status, 200);
    for (const char* path : {"/admin/budgets", "/admin/audit?limit=5", "/ready"}) {
        const auto r = http_request(gws[0]->port, "GET", path, "", auth);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    }
    const auto purged =
        http_request(gws[0]->port, "POST", "/admin/proxy_cache/purge", R"({"all":true})", auth);
    ASSERT_TRUE(purged);
    EXPECT_EQ(purged->status, 200) << purged->body;
    for (std::size_t n = 0; n < cluster.size(); ++n)
        EXPECT_EQ(cluster.cli(n, {"ACL", "LOG"}), "") << "node " << n;
}

/// Three primaries, each with a replica; a node unreachable for 1 s is failed over.
redis_cluster::options with_replicas() {
    redis_cluster::options o;
    o.replicas_per_primary = 1;
    o.node_timeout_ms = 1000;
    return o;
}

class RedisClusterFailover : public FailoverReplicas {
  protected:
    redis_cluster cluster{with_replicas()};
};

TEST_F(RedisClusterFailover, TheGovernancePrimaryKilledUnderLoadIsReplacedByItsReplica) {
    start(2, virtual_key_json("key-b", "vk-b", R"("budget":{"total_tokens":100000000})"),
          failover_args(cluster.url()));
    std::uint64_t ok = 0;
    ASSERT_TRUE(both_serve(ok));
    const std::size_t home = cluster.owner_of("{t}");
    ASSERT_LT(home, cluster.size());
    load clients({gws[0]->port, gws[1]->port}, 6, "vk-b", exact_chat);
    std::this_thread::sleep_for(300ms);
    const auto killed = std::chrono::steady_clock::now();
    cluster.kill(home);
    // The cluster calls it failed after 1 s and promotes its replica; the gateways learn the
    // new owner by reading the slot map again after their connections to it failed.
    EXPECT_TRUE(eventually(
        [&] {
            const auto owner = cluster.owner_of("{t}");
            return owner < cluster.size() && owner != home;
        },
        15s, 50ms));
    EXPECT_TRUE(both_serve(ok)) << "the gateways did not reach the promoted replica";
    std::printf("serving again %lld ms after the primary was killed\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - killed)
                                           .count()));
    std::this_thread::sleep_for(300ms);
    ok += check(clients.finish(), "cluster primary killed");
    ledger_exact_from_now_on(ok);
}

TEST(RedisClusterTls, BudgetsExactOverTlsWithNodesCheckedAgainstTheUrlsName) {
    // The nodes' certificate names localhost only (no IP address), and the cluster announces
    // them by IP: each is checked against the name the URL gave (docs/redis.md, "TLS names").
    temp_dir dir;
    const test_pki pki(dir.path().string());
    redis_cluster::options o;
    o.tls_cert = pki.localhost_only_cert();
    o.tls_key = pki.localhost_only_key();
    o.tls_ca = pki.ca();
    redis_cluster cluster(o);
    running_mock mock;
    mock.start();
    running_gateway a;
    running_gateway b;
    const std::string cfg = R"({"backends":[{"name":"p","base_url":"http://127.0.0.1:)" +
                            std::to_string(mock.port) + R"(/v1"}],"virtual_keys":[)" +
                            virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":540})") +
                            R"(],"router":{"default_backends":[{"backend":"p"}]}})";
    const std::vector<std::string> args{"--redis",        cluster.tls_url("localhost"),
                                        "--redis-tls-ca", pki.ca(),
                                        "--admin-token",  admin_token,
                                        "--redis-prefix", "t"};
    a.start(cfg, args);
    b.start(cfg, args);
    // 20 requests of 27 fit in 540, whichever gateway takes them.
    int served = 0;
    int refused = 0;
    for (int i = 0; i < 30; ++i) {
        const auto r =
            http_request((i % 2 ? b : a).port, "POST", "/v1/chat/completions", exact_chat,
                         {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}});
        ASSERT_TRUE(r);
        served += r->status == 200;
        refused += r->status == 402;
    }
    EXPECT_EQ(served, 20);
    EXPECT_EQ(refused, 10);
    const auto l = read_token_ledger(a.port, admin_token, "key-1");
    ASSERT_TRUE(l);
    EXPECT_EQ(l->spent, 540u);
    EXPECT_EQ(l->reserved, 0u);
}

TEST(RedisClusterStart, APlainUrlAtAClusterNodeIsRefusedWithTheFix) {
    redis_cluster cluster;
    temp_dir dir;
    const std::string cfg = dir.write("gateway.json", basic_config(1));
    // The prefix's slot is on another node than the URL's at least once in three.
    bool refused = false;
    for (std::size_t n = 0; n < cluster.size() && !refused; ++n) {
        const auto r = run_to_exit(DITTO_GATEWAY_BIN,
                                   {cfg, "--listen", "127.0.0.1:0", "--redis",
                                    "redis://127.0.0.1:" + std::to_string(cluster.port(n))});
        if (r.exit_code != 0) {
            EXPECT_NE(r.err.find("redis+cluster:// URL"), std::string::npos) << r.err;
            refused = true;
        }
    }
    EXPECT_TRUE(refused);
}

/// A gateway started on a fresh cluster with `extra` flags: it must exit, saying `why`.
void refused_at_start(const std::vector<std::string>& extra, const std::string& why) {
    redis_cluster cluster;
    temp_dir dir;
    std::vector<std::string> args{dir.write("gateway.json", basic_config(1)), "--listen",
                                  "127.0.0.1:0", "--redis", cluster.url()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_to_exit(DITTO_GATEWAY_BIN, args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
}

TEST(RedisClusterStart, APrefixWithABraceIsRefused) {
    // `a}b` would make `{a}b}:…` tag `a` while cache keys `a}b:…` spread: refused at start.
    refused_at_start({"--redis-prefix", "a}b"}, "cannot hold '{' or '}'");
}

TEST(RedisClusterStart, KeyLayoutOneIsRefused) {
    refused_at_start({"--redis-layout", "1"}, "needs key layout 2");
}

}  // namespace
}  // namespace ditto::test
