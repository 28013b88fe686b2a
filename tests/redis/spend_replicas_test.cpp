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

}  // namespace
}  // namespace ditto::test
