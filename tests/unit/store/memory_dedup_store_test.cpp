// The memory store's x-request-id records (docs/proxy.md, "Retries with x-request-id"): one
// leader per id, replay of the completed answer, leases that expire, a leader whose lease was
// taken over changing nothing, and the byte bound.

#include "ditto/store/memory/memory_dedup_store.hpp"

#include <gtest/gtest.h>

namespace ditto::store {
namespace {

using namespace std::chrono_literals;
using clock = memory_dedup_store::clock;

const std::string fp_a(64, 'a');
const std::string fp_b(64, 'b');

dedup_lease lease(const std::string& id, const std::string& fp, const std::string& token) {
    return {id, fp, token};
}

TEST(MemoryDedupStore, OneLeaderThenReplayOfItsAnswer) {
    memory_dedup_store s;
    const auto t0 = clock::now();
    EXPECT_EQ(s.begin_at(lease("r", fp_a, "1"), 30s, t0).state, dedup_state::acquired);
    EXPECT_EQ(s.begin_at(lease("r", fp_a, "2"), 30s, t0).state, dedup_state::in_flight);
    EXPECT_EQ(s.begin_at(lease("r", fp_b, "3"), 30s, t0).state, dedup_state::conflict);
    s.complete_at(lease("r", fp_a, "1"), "answer", 24h, t0);
    const auto again = s.begin_at(lease("r", fp_a, "4"), 30s, t0 + 1h);
    EXPECT_EQ(again.state, dedup_state::completed);
    EXPECT_EQ(again.record, "answer");
    EXPECT_EQ(s.begin_at(lease("r", fp_b, "5"), 30s, t0 + 1h).state, dedup_state::conflict);
    // Kept for the retention, then the id is free again.
    EXPECT_EQ(s.begin_at(lease("r", fp_b, "6"), 30s, t0 + 25h).state, dedup_state::acquired);
}

TEST(MemoryDedupStore, AnAbandonedRecordLetsTheNextRequestLead) {
    memory_dedup_store s;
    const auto t0 = clock::now();
    ASSERT_EQ(s.begin_at(lease("r", fp_a, "1"), 30s, t0).state, dedup_state::acquired);
    s.abandon_at(lease("r", fp_a, "1"), t0);
    EXPECT_EQ(s.begin_at(lease("r", fp_a, "2"), 30s, t0).state, dedup_state::acquired);
    EXPECT_EQ(s.bytes(), 1u);  // the id of the record led by "2"
}

TEST(MemoryDedupStore, AnExpiredLeaseIsTakenOverAndItsLeaderChangesNothing) {
    memory_dedup_store s;
    const auto t0 = clock::now();
    ASSERT_EQ(s.begin_at(lease("r", fp_a, "1"), 30s, t0).state, dedup_state::acquired);
    s.refresh_at(lease("r", fp_a, "1"), 30s, t0 + 20s);  // now until t0 + 50 s
    EXPECT_EQ(s.begin_at(lease("r", fp_a, "2"), 30s, t0 + 40s).state, dedup_state::in_flight);
    EXPECT_EQ(s.begin_at(lease("r", fp_a, "2"), 30s, t0 + 51s).state, dedup_state::acquired);
    // The first leader comes back: its completion, refresh and abandon are ignored.
    s.complete_at(lease("r", fp_a, "1"), "late", 24h, t0 + 52s);
    s.abandon_at(lease("r", fp_a, "1"), t0 + 52s);
    s.refresh_at(lease("r", fp_a, "1"), 30s, t0 + 52s);
    EXPECT_EQ(s.begin_at(lease("r", fp_a, "3"), 30s, t0 + 53s).state, dedup_state::in_flight);
    s.complete_at(lease("r", fp_a, "2"), "second", 24h, t0 + 54s);
    EXPECT_EQ(s.begin_at(lease("r", fp_a, "3"), 30s, t0 + 55s).record, "second");
}

TEST(MemoryDedupStore, PastTheByteBoundTheOldestAnswersGoFirst) {
    memory_dedup_store s(1000);
    const auto t0 = clock::now();
    for (int i = 0; i < 5; ++i) {
        const auto id = "r" + std::to_string(i);
        ASSERT_EQ(s.begin_at(lease(id, fp_a, "t"), 30s, t0).state, dedup_state::acquired);
        s.complete_at(lease(id, fp_a, "t"), std::string(300, 'x'), 24h, t0);
    }
    EXPECT_LE(s.bytes(), 1000u);
    EXPECT_EQ(s.begin_at(lease("r0", fp_a, "u"), 30s, t0).state, dedup_state::acquired);
    EXPECT_EQ(s.begin_at(lease("r4", fp_a, "u"), 30s, t0).state, dedup_state::completed);
    EXPECT_EQ(s.begin_at(lease("r3", fp_a, "u"), 30s, t0).state, dedup_state::completed);
}

}  // namespace
}  // namespace ditto::store
