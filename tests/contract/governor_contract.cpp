// The governor contract (include/ditto/store/governor.hpp): the same cases for every governor —
// the memory store's, the Redis store's over today's layout, and the Redis layout v2 scripts
// (docs/redis.md, "Layout v2"). Only the governor's own answers are observed, so a case holds
// for a store whatever its layout.

#include "governor_contract.hpp"

#include <chrono>
#include <thread>

namespace ditto::store::contract {
namespace {

std::vector<rate_scope> rpm(std::uint32_t n) {
    return {{"key-1", n, std::nullopt}};
}

// Rate cases run within one minute: a case that crossed into the next would see its counts as
// the previous minute's, weighted down. A case takes well under a second.
void within_one_minute() {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const auto into =
        std::chrono::duration_cast<std::chrono::milliseconds>(now) % std::chrono::minutes(1);
    if (into > std::chrono::seconds(57))
        std::this_thread::sleep_for(std::chrono::minutes(1) - into + std::chrono::milliseconds(50));
}

}  // namespace

void GovernorContract::SetUp() {
    within_one_minute();
    StoreContract::SetUp();
}

admission GovernorContract::request(std::uint64_t tokens, std::optional<std::uint64_t> budget,
                                    const std::vector<rate_scope>* rate) {
    admission a;
    a.id = "req-" + std::to_string(next_++);
    a.key_id = "key-1";
    a.rate = rate;
    a.charge_tokens = tokens;
    if (budget)
        a.lines.push_back({"key-1", budget_metric::tokens, budget, tokens});
    return a;
}

admission_result GovernorContract::admit(admission a) {
    return run(store_.governance->admit(std::move(a)));
}

void GovernorContract::settle(const admission_ticket& t, bool commit,
                              std::optional<std::uint64_t> tokens, bool refund) {
    settle_request r;
    r.ticket = t;
    r.commit = commit;
    r.actual.tokens = tokens;
    r.refund = refund;
    r.tokens = tokens;
    EXPECT_FALSE(run(store_.governance->settle(std::move(r))));
}

TEST_P(GovernorContract, ACommitSpendsTheActualAmountAndFreesTheRest) {
    auto a = admit(request(60, 100));
    ASSERT_TRUE(a.admitted);
    settle(a.ticket, true, 30);
    EXPECT_TRUE(admit(request(70, 100)).admitted);  // 30 + 70 = 100
    auto over = admit(request(1, 100));
    ASSERT_FALSE(over.admitted);
    EXPECT_FALSE(over.by_rate);
    EXPECT_EQ(over.limit, 100u);
    EXPECT_EQ(over.attempted, 101u);
}

TEST_P(GovernorContract, ARollbackReleasesTheReservation) {
    auto a = admit(request(60, 100));
    ASSERT_TRUE(a.admitted);
    EXPECT_FALSE(admit(request(60, 100)).admitted);
    settle(a.ticket, false, std::nullopt, true);
    EXPECT_TRUE(admit(request(100, 100)).admitted);
}

TEST_P(GovernorContract, SettlingTheSameTicketTwiceCountsOnce) {
    auto a = admit(request(60, 100));
    ASSERT_TRUE(a.admitted);
    settle(a.ticket, true, 30);
    settle(a.ticket, true, 30);
    EXPECT_TRUE(admit(request(70, 100)).admitted);
}

// A replica that stalls past its lease: the reaper releases the reservation, and the late
// settlement then spends nothing (the budget was given back) but still writes the request's audit
// record, once.
TEST_P(GovernorContract, AReapedAdmissionSettledLaterAuditsOnceAndSpendsNothing) {
    auto a = admit(request(60, 100));
    ASSERT_TRUE(a.admitted);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const auto reaped = run(store_.budgets->reap(std::chrono::milliseconds(0), 1000, false));
    ASSERT_FALSE(reaped.error) << reaped.error.message();
    EXPECT_EQ(reaped.reaped, 1u);
    settle_request r;
    r.ticket = a.ticket;
    r.commit = true;
    r.actual.tokens = 30;
    r.tokens = 30;
    r.record = settle_record{"proxy", R"({"request_id":"reaped-then-settled"})", true};
    EXPECT_FALSE(run(store_.governance->settle(std::move(r))));
    EXPECT_TRUE(admit(request(100, 100)).admitted);  // nothing spent, nothing still reserved
    audit_query q;
    q.limit = 100;
    const auto records = run(store_.audit->list(q));
    int named = 0;
    for (const auto& rec : records)
        named += rec.payload_json.find("reaped-then-settled") != std::string::npos;
    EXPECT_EQ(named, 1);
}

TEST_P(GovernorContract, ABudgetRefusalChargesNoRpm) {
    const auto limits = rpm(2);
    ASSERT_TRUE(admit(request(60, 100, &limits)).admitted);
    auto refused = admit(request(60, 100, &limits));
    ASSERT_FALSE(refused.admitted);
    EXPECT_FALSE(refused.by_rate);
    EXPECT_TRUE(admit(request(10, 100, &limits)).admitted);  // the second request of the minute
    auto third = admit(request(1, 100, &limits));
    ASSERT_FALSE(third.admitted);
    EXPECT_TRUE(third.by_rate);
    EXPECT_EQ(third.reason, "rpm>2");
    EXPECT_GE(third.retry_after_seconds, 1u);
    EXPECT_LE(third.retry_after_seconds, 60u);
}

TEST_P(GovernorContract, AFailedRequestGivesItsRpmPlaceBack) {
    const auto limits = rpm(1);
    auto a = admit(request(10, std::nullopt, &limits));
    ASSERT_TRUE(a.admitted);
    EXPECT_FALSE(admit(request(10, std::nullopt, &limits)).admitted);
    settle(a.ticket, false, std::nullopt, true);
    EXPECT_TRUE(admit(request(10, std::nullopt, &limits)).admitted);
}

TEST_P(GovernorContract, TokensPerMinuteAreCorrectedToTheReportedUsage) {
    const std::vector<rate_scope> limits{{"key-1", std::nullopt, 100}};
    auto a = admit(request(80, std::nullopt, &limits));
    ASSERT_TRUE(a.admitted);
    EXPECT_FALSE(admit(request(30, std::nullopt, &limits)).admitted);  // 80 + 30 > 100
    settle(a.ticket, true, 10);
    EXPECT_TRUE(admit(request(90, std::nullopt, &limits)).admitted);  // 10 + 90
}

TEST_P(GovernorContract, ARateOnlyAdmissionReservesNoBudget) {
    // A cache hit: its rate limits only (admit_step.cpp); the budget stays whole.
    const auto limits = rpm(10);
    auto hit = admit(request(50, std::nullopt, &limits));
    ASSERT_TRUE(hit.admitted);
    EXPECT_FALSE(hit.ticket.reserved);
    settle(hit.ticket, true, 0);
    EXPECT_TRUE(admit(request(100, 100, &limits)).admitted);
}

TEST_P(GovernorContract, EveryScopeAdmitsOrNoneIsCharged) {
    const std::vector<rate_scope> limits{{"key-1", 5, std::nullopt}, {"tenant:t", 1, std::nullopt}};
    ASSERT_TRUE(admit(request(1, std::nullopt, &limits)).admitted);
    auto refused = admit(request(1, std::nullopt, &limits));
    ASSERT_FALSE(refused.admitted);
    EXPECT_EQ(refused.rate_scope, 1u);
    // The key's own scope was not charged by the refusal: 4 more fit.
    const auto key_only = rpm(5);
    for (int i = 0; i < 4; ++i)
        EXPECT_TRUE(admit(request(1, std::nullopt, &key_only)).admitted) << i;
    EXPECT_FALSE(admit(request(1, std::nullopt, &key_only)).admitted);
}

}  // namespace ditto::store::contract
