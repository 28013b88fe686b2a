#include "ditto/store/memory/memory_budget_store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace ditto::store {
namespace {

using std::chrono::milliseconds;

reservation tokens(const std::string& id, std::uint64_t amount) {
    return {id, "k", {budget_line{"k", budget_metric::tokens, 1'000, amount}}};
}

// A reservation's age is judged by the clock that stamped it, the store's: the caller gives an
// age, never a cutoff of its own (a replica whose clock runs ahead would release reservations
// still in use; docs/redis.md, "Reaping").
TEST(MemoryBudgetStore, ReapJudgesAgeByTheStoresOwnClock) {
    std::int64_t now = 1'000'000;
    memory_budget_store store([&now] { return now; });
    ASSERT_TRUE(store.reserve_now(tokens("r1", 10)).admitted);
    now += 400;
    ASSERT_TRUE(store.reserve_now(tokens("r2", 20)).admitted);

    now += 100;  // r1 is 500 ms old, r2 100 ms
    auto none = store.reap_now(milliseconds(501), 100, false);
    EXPECT_EQ(none.reaped, 0u);
    EXPECT_EQ(none.cutoff_ms, 1'000'000 - 1);

    auto first = store.reap_now(milliseconds(500), 100, false);  // made at the cutoff: reaped
    EXPECT_EQ(first.cutoff_ms, 1'000'000);
    EXPECT_EQ(first.reaped, 1u);
    EXPECT_EQ(first.released_tokens, 10u);

    auto second = store.reap_now(milliseconds(0), 100, false);
    EXPECT_EQ(second.reaped, 1u);
    EXPECT_EQ(second.released_tokens, 20u);
    EXPECT_EQ(store.ledgers_now(budget_metric::tokens).at(0).reserved, 0u);
}

// A settlement that came first leaves a marker, not a reservation: the late reservation does
// nothing, the marker is not counted as open, and the reaper drops it after a day.
TEST(MemoryBudgetStore, ASettledFirstMarkerIsKeptADayAndIsNoReservation) {
    std::int64_t now = 1'000'000;
    memory_budget_store store([&now] { return now; });
    store.settle_now("late", nullptr);
    EXPECT_EQ(store.open_reservations(), 0u);
    const auto late = store.reserve_now(tokens("late", 10));
    EXPECT_TRUE(late.admitted);
    EXPECT_TRUE(late.duplicate);
    EXPECT_TRUE(store.ledgers_now(budget_metric::tokens).empty());

    now += 86'400'000 - 1;
    EXPECT_EQ(store.reap_now(milliseconds(0), 100, false).reaped, 0u);
    EXPECT_TRUE(store.reserve_now(tokens("late", 10)).duplicate);  // still marked
    now += 1;
    EXPECT_EQ(store.reap_now(milliseconds(0), 100, false).reaped, 0u);  // a marker is not reaped
    const auto fresh = store.reserve_now(tokens("late", 10));
    EXPECT_TRUE(fresh.admitted);
    EXPECT_FALSE(fresh.duplicate);
    EXPECT_EQ(store.open_reservations(), 1u);
}

}  // namespace
}  // namespace ditto::store
