// Least privilege (docs/redis.md, "Least privilege"): one replica run end to end as an ACL
// user restricted to the keys of its prefix and to the commands docs/redis.md lists. Redis
// checks both for every command, and inside scripts for every redis.call, so a command the list
// lacks or a key outside the prefix shows up as a NOPERM error and an ACL LOG entry.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "acl_rule.hpp"
#include "support/replicas.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

const std::string k_acl_password = "acl-pw-4471";

redis_server::options with_acl_user() {
    redis_server::options o;
    // `user gateway on >PW resetkeys ~t:* resetchannels -@all +…`, as redis.conf would say it.
    o.extra = {"--user",    "gateway", "on",           ">" + k_acl_password,
               "resetkeys", "~t:*",    "resetchannels"};
    std::istringstream words(k_acl_commands);
    for (std::string w; words >> w;)
        o.extra.push_back(w);
    return o;
}

class RedisAcl : public Replicas {
  protected:
    RedisAcl() : Replicas(with_acl_user()) {}

    std::string as_gateway_url() const {
        return "redis://gateway:" + k_acl_password + "@127.0.0.1:" + std::to_string(redis.port());
    }

    std::optional<http_response> admin(const std::string& method, const std::string& path,
                                       const std::string& body = "") {
        return http_request(
            gws[0]->port, method, path, body,
            {{"Authorization", "Bearer adm-1"}, {"Content-Type", "application/json"}});
    }

    /// Everything one replica does with Redis: admission and settlement, the cache, a
    /// replayed retry, the Admin API's writes and reads, the reaper, the health check.
    void run_one_replica(int layout) {
        const std::vector<std::string> args{
            "--redis",       as_gateway_url(), "--admin-token",       "adm-1",
            "--proxy-cache", "--redis-layout", std::to_string(layout)};
        start(1, virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":100000})"), args);

        auto first = post(0, "vk-1");
        ASSERT_TRUE(first);
        EXPECT_EQ(first->status, 200) << first->body;
        EXPECT_EQ(post(0, "vk-1")->header("x-ditto-cache"), "hit");
        const std::string other =
            R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"ho"}]})";
        EXPECT_EQ(post(0, "vk-1", other, {{"x-request-id", "acl-1"}})->status, 200);
        EXPECT_EQ(
            post(0, "vk-1", other, {{"x-request-id", "acl-1"}})->header("x-ditto-request-dedup"),
            "replay");

        auto created = admin("POST", "/admin/keys", virtual_key_json("key-2", "vk-2"));
        ASSERT_TRUE(created);
        EXPECT_EQ(created->status, 201) << created->body;
        for (int i = 0; i < 100 && post(0, "vk-2")->status != 200; ++i)
            std::this_thread::sleep_for(20ms);
        EXPECT_EQ(post(0, "vk-2")->status, 200);
        for (const char* page : {"/admin/keys", "/admin/budgets", "/admin/audit",
                                 "/admin/config/versions", "/ready"}) {
            auto r = admin("GET", page);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 200) << page << ": " << r->body;
        }
        auto reaped = admin("POST", "/admin/reservations/reap", R"({"older_than_secs":1})");
        ASSERT_TRUE(reaped);
        EXPECT_EQ(reaped->status, 200) << reaped->body;
        EXPECT_EQ(cli(layout == 2 ? std::vector<std::string>{"HGET", "t:scope:key-1", "rt"}
                                  : std::vector<std::string>{"HGET", "t:budget_ledger:key-1",
                                                             "reserved_tokens"}),
                  "0");

        // Nothing was refused along the way: Redis logs every denial.
        EXPECT_EQ(cli({"ACL", "LOG"}), "");
        EXPECT_EQ(gws[0]->proc.stderr_text().find("NOPERM"), std::string::npos)
            << gws[0]->proc.stderr_text();
    }
};

TEST_F(RedisAcl, OneReplicaRunsWholeAsTheRestrictedUserOnLayout2) {
    run_one_replica(2);
}

TEST_F(RedisAcl, OneReplicaRunsWholeAsTheRestrictedUserOnLayout1) {
    run_one_replica(1);
}

TEST_F(RedisAcl, TheUserReachesNothingElse) {
    // The rule is really restrictive: other keys and other commands are refused.
    const std::vector<std::string> as_user{"--user", "gateway", "--pass", k_acl_password,
                                           "--no-auth-warning"};
    auto refused = [&](std::vector<std::string> cmd) {
        cmd.insert(cmd.begin(), as_user.begin(), as_user.end());
        // Inside a script Redis words it differently.
        const std::string out = cli(cmd);
        return out.find("NOPERM") != std::string::npos ||
               out.find("can't access") != std::string::npos;
    };
    EXPECT_TRUE(refused({"GET", "other:key"}));
    EXPECT_TRUE(refused({"EVAL", "return redis.call('GET', 'other:key')", "0"}));
    EXPECT_TRUE(refused({"FLUSHALL"}));
    EXPECT_TRUE(refused({"CONFIG", "GET", "requirepass"}));
    EXPECT_TRUE(refused({"KEYS", "*"}));
    EXPECT_FALSE(refused({"GET", "t:key"}));
}

TEST(RedisAclDoc, TheDocumentedRuleIsTheTestedOne) {
    std::ifstream in(std::string(DITTO_SOURCE_DIR) + "/docs/redis.md");
    std::stringstream text;
    text << in.rdbuf();
    std::string flat = text.str();
    // The doc wraps the rule over lines with a trailing backslash.
    for (std::size_t at; (at = flat.find(" \\\n")) != std::string::npos;) {
        std::size_t end = at + 3;
        while (end < flat.size() && flat[end] == ' ')
            ++end;
        flat.replace(at, end - at, " ");
    }
    EXPECT_NE(flat.find(k_acl_commands), std::string::npos)
        << "docs/redis.md, \"Least privilege\", must list exactly: " << k_acl_commands;
}

}  // namespace
}  // namespace ditto::test
