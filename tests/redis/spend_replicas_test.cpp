// docs/governance.md, "Budget periods", across three replicas sharing one real redis-server:
// Redis TIME picks the period, each period's ledger is exact, and past periods' ledgers expire.
#include <algorithm>
#include <thread>

#include "support/period_boundary.hpp"
#include "support/replicas.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

// 300 requests in flight at a time (50 per key on each of 3 replicas) while the day rolls
// over. key-1's budget never runs out: requests admitted before midnight and answered after it
// count in the old day. key-2's (40 requests a day) runs out on both days, never beyond.
TEST_F(Replicas, DayBudgetRollsOverExactlyAcrossThreeReplicas) {
    const period_boundary b(4000ms);
    start(
        3,
        virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":100000000,"period":"day"})") +
            "," +
            virtual_key_json("key-2", "vk-2", R"("budget":{"total_tokens":1080,"period":"day"})"),
        {"--admin-token", "adm-w"}, "", {b.env()});
    const auto big = delayed_chat("vk-1", 150), small = delayed_chat("vk-2", 20);
    rollover_load load;
    load.sent2_per_wave = 150;
    load.waves = waves_until(b.at + 1500ms, 100ms, [&] {
        std::vector<std::vector<int>> parts(6);
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < 6; ++i) {
            threads.emplace_back([&, i] {
                parts[i] = concurrent_statuses(gws[i / 2]->port, i % 2 ? small : big, 50);
            });
        }
        for (auto& t : threads)
            t.join();
        for (std::size_t i = 0; i < 6; ++i) {
            const auto& s = parts[i];
            const auto ok = static_cast<int>(std::count(s.begin(), s.end(), 200));
            if (i % 2 == 0) {
                load.ok1 += ok;
                EXPECT_EQ(ok, 50);
            } else {
                load.ok2 += ok;
                load.refused2 += static_cast<int>(std::count(s.begin(), s.end(), 402));
            }
        }
    });
    ASSERT_GE(load.waves, 4);
    // Read through another replica than the one whose audit export is read: one shared store.
    expect_exact_rollover(gws[1]->port, "adm-w", load);

    // Each period's hash expires 90 days after its period ends (real time).
    const auto ttl = [&](const std::string& ledger) {
        std::string name = ledger;
        name.replace(name.find('@'), 1, "%40");
        return std::stoll(cli({"TTL", "t:scope:" + name}));
    };
    const auto ended =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - b.at)
            .count();
    EXPECT_NEAR(ttl(period_boundary::before("key-1")), 90 * 86'400 - ended, 5);
    EXPECT_NEAR(ttl(period_boundary::after("key-2")), 91 * 86'400 - ended, 5);
}

// A model's rpm is as exact across replicas as the key's: 300 requests at once, 50 through.
TEST_F(Replicas, ModelLimitIsExactAcrossThreeReplicas) {
    start(3, virtual_key_json("key-1", "vk-1",
                              R"("limits":{"rpm":1000},"model_limits":{"m*":{"rpm":50}})"));
    const auto statuses = spread("vk-1", 100);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 50);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429), 250);
    EXPECT_EQ(mock.request_count(), 50);
    auto r = post(2, "vk-1");
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find("rpm>50 model_limits=m*"), std::string::npos) << r->body;
}

// Spend buckets: every replica counts in the same hashes, in the call that settles or audits
// the request; any replica answers for all of them.
TEST_F(Replicas, SpendBucketsAreSharedAcrossReplicas) {
    start(3,
          virtual_key_json("plain", "vk-plain", R"("tenant_id":"acme")") + "," +
              virtual_key_json("gov", "vk-gov", R"("budget":{"total_tokens":100000000})"),
          {"--admin-token", "adm-w"});
    const auto plain = spread("vk-plain", 20), gov = spread("vk-gov", 20);
    ASSERT_EQ(std::count(plain.begin(), plain.end(), 200), 60);
    ASSERT_EQ(std::count(gov.begin(), gov.end(), 200), 60);
    // Settlements are written as the answers go out: poll until the last one has landed.
    std::string body;
    for (int i = 0; i < 100; ++i) {
        auto r = http_request(gws[2]->port, "GET", "/admin/spend?group_by=key&step=hour", "",
                              {{"x-admin-token", "adm-w"}});
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200) << r->body;
        body = r->body;
        if (body.find(R"("key":"gov","requests":60)") != std::string::npos &&
            body.find(R"("key":"plain","requests":60)") != std::string::npos)
            break;
        std::this_thread::sleep_for(50ms);
    }
    // 72-byte requests: 18 input tokens, 9 output, each.
    EXPECT_NE(body.find(R"("key":"gov","requests":60,"input_tokens":1080,"output_tokens":540,)"
                        R"("cached_tokens":0,"usd_micros":0})"),
              std::string::npos)
        << body;
    EXPECT_NE(body.find(R"("key":"plain","requests":60,"input_tokens":1080,"output_tokens":540,)"),
              std::string::npos)
        << body;
    // Every request's audit record is there. Request ids are `ditto-<ms>-<seq>` in every
    // replica, so two replicas can write records of the same text: each is kept (before, the
    // record's marker was named by its text alone and the second was taken for a retry).
    EXPECT_EQ(cli({"EVAL",
                   "local n = 0 for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do "
                   "if string.find(e[2][4], '\"virtual_key_id\":\"plain\"', 1, true) then "
                   "n = n + 1 end end return n",
                   "1", "t:audit"}),
              "60");
    // The hour's bucket expires 90 days (the default retention) and a day after its last write.
    const auto hour = std::chrono::duration_cast<std::chrono::hours>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    auto ttl = std::stoll(cli({"TTL", "t:spend:h:" + std::to_string(hour)}));
    if (ttl < 0)  // the hour turned during the test
        ttl = std::stoll(cli({"TTL", "t:spend:h:" + std::to_string(hour - 1)}));
    EXPECT_GT(ttl, 91 * 86'400 - 60);
    EXPECT_LE(ttl, 91 * 86'400);
}

// Key layout 1 (being retired): a day budget still counts in its day's ledger, picked by the
// replica's clock, and says when it resets; it keeps no spend buckets, and says so.
TEST_F(Replicas, LayoutOneCountsPeriodsByTheReplicasClockAndKeepsNoSpend) {
    start(1, virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":30,"period":"day"})"),
          {"--redis-layout", "1", "--admin-token", "adm-w"});
    EXPECT_EQ(post(0, "vk-1")->status, 200);  // 27 of 30
    auto r = post(0, "vk-1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 402);
    EXPECT_NE(r->body.find("limit=30 attempted=54 resets_at="), std::string::npos) << r->body;
    const auto day = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() /
                     86'400 * 86'400;
    EXPECT_EQ(
        cli({"HGET",
             "t:budget_ledger:key-1@" + std::to_string(day) + "-" + std::to_string(day + 86'400),
             "spent_tokens"}),
        "27");
    auto s = http_request(gws[0]->port, "GET", "/admin/spend", "", {{"x-admin-token", "adm-w"}});
    ASSERT_TRUE(s);
    EXPECT_EQ(s->status, 501) << s->body;
}

}  // namespace
}  // namespace ditto::test
