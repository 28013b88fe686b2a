// The memory store's spend buckets (docs/governance.md, "Spend over time"): hours summed into
// days, the retention and the row cap.

#include "ditto/store/memory/memory_spend_log.hpp"

#include <gtest/gtest.h>

namespace ditto::store {
namespace {

spend_sample sample(const std::string& key, std::uint64_t input) {
    return {1, spend_dims(key, "m", "t", "", ""), input, 2, 1, 5};
}

TEST(MemorySpendLog, HoursSumIntoDaysAndDimsReadBack) {
    std::int64_t now = 1'893'456'000 + 3600 * 5;  // 2030-01-01 05:00 UTC
    memory_spend_log log(90LL * 86'400, 1000, [&now] { return now; });
    log.record(sample("a", 10));
    log.record(sample("a", 20));
    now += 3600;
    log.record(sample("a", 30));
    log.record(sample("b|x", 1));  // a `|` in an id is encoded
    const auto hours = log.query_now({1'893'456'000, 1'893'456'000 + 86'400, false});
    ASSERT_EQ(hours.rows.size(), 3u);
    EXPECT_EQ(hours.rows[0].start, 1'893'456'000 + 3600 * 5);
    EXPECT_EQ(hours.rows[0].c.requests, 2u);
    EXPECT_EQ(hours.rows[0].c.input_tokens, 30u);
    EXPECT_EQ(hours.rows[0].c.usd_micros, 10u);
    const auto days = log.query_now({1'893'456'000, 1'893'456'000 + 86'400, true});
    ASSERT_EQ(days.rows.size(), 2u);
    EXPECT_EQ(days.rows[0].start, 1'893'456'000);
    EXPECT_EQ(days.rows[0].c.requests, 3u);
    EXPECT_EQ(days.rows[0].c.input_tokens, 60u);
    const auto parts = split_spend_dims(days.rows[1].dims);
    ASSERT_TRUE(parts);
    EXPECT_EQ(parts->key, "b|x");
    EXPECT_EQ(parts->model, "m");
    EXPECT_EQ(parts->tenant, "t");
    EXPECT_EQ(parts->user, "");
    EXPECT_FALSE(split_spend_dims("a|b|c"));
    EXPECT_FALSE(split_spend_dims("a|b|c|d|e|f"));
    // Outside the range: nothing.
    EXPECT_TRUE(log.query_now({0, 1'893'456'000, false}).rows.empty());
}

TEST(MemorySpendLog, RetentionAndTheRowCapDropTheOldestHours) {
    std::int64_t now = 1'893'456'000;
    memory_spend_log log(2 * 3600, 5, [&now] { return now; });
    for (int h = 0; h < 4; ++h) {
        log.record(sample("k" + std::to_string(h), 1));
        now += 3600;
    }
    // Hour 3 is recorded at the end of the loop's last step: hours 0 (past the 2-hour
    // retention) is gone.
    auto all = log.query_now({0, now, false});
    ASSERT_EQ(all.rows.size(), 3u);
    EXPECT_EQ(all.rows.front().start, 1'893'456'000 + 3600);
    // Seven rows in the current hour: at the cap of 5, the older hours go; the current stays,
    // and what does not fit is counted in one row of its own.
    for (int i = 0; i < 7; ++i)
        log.record(sample("n" + std::to_string(i), 1));
    all = log.query_now({0, now + 3600, false});
    EXPECT_EQ(all.rows.size(), 6u);
    EXPECT_EQ(log.rows(), 6u);
    std::uint64_t requests = 0;
    for (const auto& r : all.rows) {
        EXPECT_EQ(r.start, now);
        requests += r.c.requests;
        if (split_spend_dims(r.dims)->key == "(over the row cap)") {
            EXPECT_EQ(r.c.requests, 2u);
        }
    }
    EXPECT_EQ(requests, 7u);
}

}  // namespace
}  // namespace ditto::store
