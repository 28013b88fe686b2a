// docs/governance.md, "Budget periods": which ledgers an admission names, and the period
// bounds in a time zone with summer time.

#include "ditto/middleware/budget_periods.hpp"

#include <gtest/gtest.h>

#include "ditto/store/period_scope.hpp"

namespace ditto::middleware {
namespace {

constexpr std::int64_t midnight = 1'893'456'000;  // 2030-01-01T00:00:00Z, a Tuesday

config::budget_config day() {
    config::budget_config b;
    b.total_tokens = 10;
    b.period = config::budget_period::day;
    return b;
}

TEST(BudgetPeriods, LifetimeIsTheScopeItself) {
    const auto l = ledgers_for("key-1", {}, *core::time_zone::utc(), midnight);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].scope_id, "key-1");
    EXPECT_EQ(l[0].valid_from + l[0].valid_until + l[0].expire_at, 0);
}

TEST(BudgetPeriods, FarFromABoundaryOneLedger) {
    const auto l = ledgers_for("key-1", day(), *core::time_zone::utc(), midnight + 43'200);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].scope_id, "key-1@1893456000-1893542400");
    EXPECT_EQ(l[0].valid_from, 0);
    EXPECT_EQ(l[0].valid_until, 0);
    EXPECT_EQ(l[0].expire_at, midnight + 86'400 + period_ledger_retention_seconds);
}

TEST(BudgetPeriods, NearABoundaryBothWithWindowsThatMeet) {
    for (const std::int64_t t : {midnight - 330, midnight - 1, midnight, midnight + 329}) {
        const auto l = ledgers_for("key-1", day(), *core::time_zone::utc(), t);
        ASSERT_EQ(l.size(), 2u) << t;
        EXPECT_EQ(l[0].scope_id, "key-1@1893369600-1893456000") << t;
        EXPECT_EQ(l[1].scope_id, "key-1@1893456000-1893542400") << t;
        EXPECT_EQ(l[0].valid_until, midnight);
        EXPECT_EQ(l[1].valid_from, midnight);
        EXPECT_EQ(l[0].valid_from, 0);
        EXPECT_EQ(l[1].valid_until, 0);
    }
    EXPECT_EQ(ledgers_for("key-1", day(), *core::time_zone::utc(), midnight - 331).size(), 1u);
    EXPECT_EQ(ledgers_for("key-1", day(), *core::time_zone::utc(), midnight + 330).size(), 1u);
}

TEST(BudgetPeriods, WeekAndMonthInATimeZoneWithSummerTime) {
    std::string error;
    const auto paris = core::time_zone::locate("Europe/Paris", error);
    ASSERT_TRUE(paris) << error;
    // Wednesday 2027-03-24 12:00 UTC: the week from Monday 22 (CET) to Monday 29 (CEST).
    const auto w = period_at(config::budget_period::week, *paris, 1'805'889'600);
    EXPECT_EQ(w.start, 1'805'670'000);  // 2027-03-21T23:00:00Z
    EXPECT_EQ(w.end, 1'806'271'200);    // 2027-03-28T22:00:00Z: 167 hours later
    const auto m = period_at(config::budget_period::month, *paris, 1'805'889'600);
    EXPECT_EQ(m.start, 1'803'855'600);  // 2027-02-28T23:00:00Z
    EXPECT_EQ(m.end, 1'806'530'400);    // 2027-03-31T22:00:00Z
    // December rolls into January.
    const auto dec = period_at(config::budget_period::month, *core::time_zone::utc(), midnight - 1);
    EXPECT_EQ(dec.start, midnight - 31 * 86'400);
    EXPECT_EQ(dec.end, midnight);
}

TEST(BudgetPeriods, PeriodScopeIdsSplitBackAndOthersDoNot) {
    const auto p = store::split_period_scope("user:alice@example.com@10-20");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->scope, "user:alice@example.com");
    EXPECT_EQ(p->start, 10);
    EXPECT_EQ(p->end, 20);
    for (const char* other : {"key-1", "user:alice@example.com", "k@10-", "k@-20", "k@20-10",
                              "k@1x-20", "k@10-20x", "k@10"}) {
        EXPECT_FALSE(store::split_period_scope(other)) << other;
    }
}

}  // namespace
}  // namespace ditto::middleware
