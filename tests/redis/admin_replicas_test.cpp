// The Admin API across replicas sharing one real redis-server (docs/admin-api.md, docs/redis.md): a
// change made on one replica is in force on every other within a second, rollbacks included, and
// concurrent writers on two replicas never lose each other's changes.
#include <thread>

#include "support/replicas.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

class AdminReplicas : public Replicas {
  protected:
    void start_two() { start(2, virtual_key_json("key-1", "vk-1"), {"--admin-token", "adm"}); }
    std::optional<http_response> admin(int gw, const std::string& method, const std::string& target,
                                       const std::string& body = "") {
        return http_request(
            gws[static_cast<std::size_t>(gw)]->port, method, target, body,
            {{"Authorization", "Bearer adm"}, {"Content-Type", "application/json"}});
    }
    /// Polls `token` on replica `gw` until it gets `want`; the time it took, or nullopt.
    std::optional<std::chrono::milliseconds> until_status(int gw, const std::string& token,
                                                          int want,
                                                          std::chrono::milliseconds limit = 1s) {
        const auto t0 = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - t0 < limit) {
            auto r = post(gw, token);
            if (r && r->status == want) {
                return std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - t0);
            }
            std::this_thread::sleep_for(5ms);
        }
        return std::nullopt;
    }
};

TEST_F(AdminReplicas, AKeyCreatedOnAWorksOnBAndADeletedOneStopsWithinOneSecond) {
    start_two();
    ASSERT_EQ(post(1, "vk-2")->status, 401);
    ASSERT_EQ(admin(0, "POST", "/admin/keys", virtual_key_json("key-2", "vk-2"))->status, 201);
    auto created = until_status(1, "vk-2", 200);
    ASSERT_TRUE(created) << "key created on A never authenticated on B";
    EXPECT_LT(*created, 1s);
    // Stored hashed: the raw token is nowhere in Redis.
    EXPECT_EQ(cli({"HGET", "t:virtual_keys", "key-2"}).find("vk-2"), std::string::npos);

    ASSERT_EQ(admin(0, "DELETE", "/admin/keys/key-2")->status, 204);
    auto deleted = until_status(1, "vk-2", 401);
    ASSERT_TRUE(deleted) << "key deleted on A still authenticated on B";
    EXPECT_LT(*deleted, 1s);
    // B recorded the change as a version of its own.
    auto versions = admin(1, "GET", "/admin/config/versions");
    EXPECT_NE(versions->body.find(R"("reason":"store.reload")"), std::string::npos)
        << versions->body;
}

TEST_F(AdminReplicas, ARollbackOnAIsSeenByB) {
    start_two();
    const std::string boot = "cfgv-00000000000000000001";
    ASSERT_EQ(admin(0, "POST", "/admin/keys", virtual_key_json("key-2", "vk-2"))->status, 201);
    ASSERT_TRUE(until_status(1, "vk-2", 200));
    auto back = admin(0, "POST", "/admin/config/rollback", R"({"version_id":")" + boot + R"("})");
    ASSERT_EQ(back->status, 200) << back->body;
    auto refused = until_status(1, "vk-2", 401);
    ASSERT_TRUE(refused) << "B still accepts the key the rollback removed";
    EXPECT_EQ(post(1, "vk-1")->status, 200);
}

TEST_F(AdminReplicas, ConcurrentWritersOnTwoReplicasLoseNothing) {
    start_two();
    // 2 × 15 keys created at the same time on both replicas: compare-and-set on the stored
    // version makes the loser of each race re-read and re-apply instead of overwriting.
    std::vector<std::thread> writers;
    std::atomic<int> created{0};
    for (int r = 0; r < 2; ++r) {
        writers.emplace_back([this, r, &created] {
            for (int i = 0; i < 15; ++i) {
                const auto id = "r" + std::to_string(r) + "-" + std::to_string(i);
                auto res = admin(r, "POST", "/admin/keys", virtual_key_json(id, "tok-" + id));
                if (res && res->status == 201)
                    ++created;
                else
                    ADD_FAILURE() << id << ": " << (res ? res->body : "no answer");
            }
        });
    }
    for (auto& w : writers)
        w.join();
    EXPECT_EQ(created.load(), 30);
    EXPECT_EQ(cli({"HLEN", "t:virtual_keys"}), "31");
    // Both replicas end with every key.
    for (int r = 0; r < 2; ++r) {
        EXPECT_TRUE(until_status(r, "tok-r0-14", 200));
        EXPECT_TRUE(until_status(r, "tok-r1-14", 200));
        EXPECT_TRUE(until_status(r, "tok-r0-0", 200));
        EXPECT_TRUE(until_status(r, "tok-r1-0", 200));
    }
}

TEST_F(AdminReplicas, PurgeReachesTheSharedTier) {
    start(2, virtual_key_json("key-1", "vk-1"), {"--admin-token", "adm", "--proxy-cache"});
    ASSERT_EQ(post(0, "vk-1")->status, 200);
    ASSERT_EQ(post(1, "vk-1")->header("x-ditto-cache-source"), "redis");
    auto purge = admin(0, "POST", "/admin/proxy_cache/purge", R"({"all":true})");
    EXPECT_EQ(purge->body, R"({"cleared_memory":true,"deleted_memory":1,"deleted_redis":1})");
    EXPECT_EQ(cli({"KEYS", "t:proxy_cache:*"}), "");
    auto reap = admin(0, "POST", "/admin/reservations/reap", R"({"dry_run":true})");
    EXPECT_NE(reap->body.find(R"({"store":"redis","dry_run":true)"), std::string::npos)
        << reap->body;
}

}  // namespace
}  // namespace ditto::test
