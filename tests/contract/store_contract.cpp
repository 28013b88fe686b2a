#include "store_contract.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <chrono>
#include <thread>
#include <vector>

namespace ditto::store::contract {
namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

reservation tokens_for(std::string id, std::string key, std::uint64_t amount,
                       std::optional<std::uint64_t> key_limit,
                       std::optional<std::uint64_t> tenant_limit = std::nullopt) {
    reservation r{std::move(id), key, {}};
    r.lines.push_back({key, budget_metric::tokens, key_limit, amount});
    if (tenant_limit)
        r.lines.push_back({"tenant:t", budget_metric::tokens, tenant_limit, amount});
    return r;
}

const ledger_entry* find(const std::vector<ledger_entry>& ls, const std::string& scope) {
    auto it = std::find_if(ls.begin(), ls.end(),
                           [&scope](const ledger_entry& e) { return e.scope_id == scope; });
    return it == ls.end() ? nullptr : &*it;
}

// ---- rate limits (docs/governance.md, "Rate limits") ----

TEST_P(StoreContract, RateLimitAdmitsUpToRpmPerScope) {
    std::vector<rate_scope> scopes{{"key-1", 3, std::nullopt}};
    int admitted = 0;
    for (int i = 0; i < 5; ++i)
        admitted += run(store_.limits->admit(scopes, 10)).admitted ? 1 : 0;
    EXPECT_EQ(admitted, 3);
    const auto d = run(store_.limits->admit(scopes, 10));
    EXPECT_FALSE(d.admitted);
    EXPECT_EQ(d.reason, "rpm>3");
    EXPECT_GE(d.retry_after_seconds, 1u);
}

TEST_P(StoreContract, RateLimitIsAllScopesOrNone) {
    // The tenant admits one request; the key three. Once the tenant is full, the key is not
    // charged by the refused requests.
    std::vector<rate_scope> a{{"key-a", 3, std::nullopt}, {"tenant:t", 1, std::nullopt}};
    std::vector<rate_scope> key_only{{"key-a", 3, std::nullopt}};
    EXPECT_TRUE(run(store_.limits->admit(a, 0)).admitted);
    const auto refused = run(store_.limits->admit(a, 0));
    EXPECT_FALSE(refused.admitted);
    EXPECT_EQ(refused.blocked_scope, 1u);
    EXPECT_TRUE(run(store_.limits->admit(key_only, 0)).admitted);
    EXPECT_TRUE(run(store_.limits->admit(key_only, 0)).admitted);
    EXPECT_FALSE(run(store_.limits->admit(key_only, 0)).admitted);
}

TEST_P(StoreContract, RateLimitRefundAndTokenSettlement) {
    std::vector<rate_scope> s{{"key-r", std::nullopt, 100}};
    const auto first = run(store_.limits->admit(s, 60));
    ASSERT_TRUE(first.admitted);
    EXPECT_FALSE(run(store_.limits->admit(s, 60)).admitted);  // 120 > 100
    run(store_.limits->settle_tokens(first.charge, 10));      // it used 10
    const auto second = run(store_.limits->admit(s, 60));     // 70 <= 100
    ASSERT_TRUE(second.admitted);
    EXPECT_FALSE(run(store_.limits->admit(s, 60)).admitted);
    run(store_.limits->refund(second.charge));
    EXPECT_TRUE(run(store_.limits->admit(s, 60)).admitted);
}

TEST_P(StoreContract, RateLimitZeroAlwaysBlocks) {
    std::vector<rate_scope> s{{"key-z", std::nullopt, 0}};
    const auto d = run(store_.limits->admit(s, 0));
    EXPECT_FALSE(d.admitted);
    EXPECT_EQ(d.reason, "tpm>0");
}

// ---- budgets (docs/governance.md, "Budgets") ----

TEST_P(StoreContract, BudgetReservesUpToTheLimit) {
    EXPECT_TRUE(run(store_.budgets->reserve(tokens_for("r1", "k", 60, 100))).admitted);
    const auto blocked = run(store_.budgets->reserve(tokens_for("r2", "k", 50, 100)));
    EXPECT_FALSE(blocked.admitted);
    EXPECT_EQ(blocked.limit, 100u);
    EXPECT_EQ(blocked.attempted, 110u);
    EXPECT_TRUE(run(store_.budgets->reserve(tokens_for("r3", "k", 40, 100))).admitted);
    const auto ls = run(store_.budgets->ledgers(budget_metric::tokens));
    ASSERT_NE(find(ls, "k"), nullptr);
    EXPECT_EQ(find(ls, "k")->reserved, 100u);
    EXPECT_EQ(find(ls, "k")->spent, 0u);
}

TEST_P(StoreContract, BudgetCommitRecordsTheActualAmount) {
    ASSERT_TRUE(run(store_.budgets->reserve(tokens_for("r1", "k", 60, 100))).admitted);
    EXPECT_FALSE(run(store_.budgets->commit("r1", {std::uint64_t{25}, std::nullopt})));
    auto ls = run(store_.budgets->ledgers(budget_metric::tokens));
    EXPECT_EQ(find(ls, "k")->spent, 25u);
    EXPECT_EQ(find(ls, "k")->reserved, 0u);
    // A second commit of the same id changes nothing.
    EXPECT_FALSE(run(store_.budgets->commit("r1", {std::uint64_t{25}, std::nullopt})));
    ls = run(store_.budgets->ledgers(budget_metric::tokens));
    EXPECT_EQ(find(ls, "k")->spent, 25u);
    // 25 spent + 75 fits 100; 76 does not.
    EXPECT_FALSE(run(store_.budgets->reserve(tokens_for("r2", "k", 76, 100))).admitted);
    EXPECT_TRUE(run(store_.budgets->reserve(tokens_for("r3", "k", 75, 100))).admitted);
}

TEST_P(StoreContract, BudgetCommitWithoutActualSpendsTheReservation) {
    ASSERT_TRUE(run(store_.budgets->reserve(tokens_for("r1", "k", 60, 100))).admitted);
    EXPECT_FALSE(run(store_.budgets->commit("r1", {})));
    const auto ls = run(store_.budgets->ledgers(budget_metric::tokens));
    EXPECT_EQ(find(ls, "k")->spent, 60u);
}

TEST_P(StoreContract, BudgetRollbackSpendsNothing) {
    ASSERT_TRUE(run(store_.budgets->reserve(tokens_for("r1", "k", 100, 100))).admitted);
    EXPECT_FALSE(run(store_.budgets->reserve(tokens_for("r2", "k", 1, 100))).admitted);
    EXPECT_FALSE(run(store_.budgets->rollback("r1")));
    const auto ls = run(store_.budgets->ledgers(budget_metric::tokens));
    EXPECT_EQ(find(ls, "k")->spent, 0u);
    EXPECT_EQ(find(ls, "k")->reserved, 0u);
    EXPECT_TRUE(run(store_.budgets->reserve(tokens_for("r3", "k", 100, 100))).admitted);
    EXPECT_FALSE(run(store_.budgets->rollback("unknown-id")));
}

// A settlement whose reservation has not arrived yet (its reply was lost, and the request was
// rolled back): the reservation, when it arrives, reserves nothing for nobody.
TEST_P(StoreContract, ARollbackBeforeALateReserveMakesItANoOp) {
    EXPECT_FALSE(run(store_.budgets->rollback("late")));
    const auto late = run(store_.budgets->reserve(tokens_for("late", "k", 60, 100)));
    EXPECT_TRUE(late.admitted);
    EXPECT_TRUE(late.duplicate);
    auto ls = run(store_.budgets->ledgers(budget_metric::tokens));
    const auto* k = find(ls, "k");
    EXPECT_TRUE(k == nullptr || k->reserved == 0u);
    // The whole budget is still there for others.
    EXPECT_TRUE(run(store_.budgets->reserve(tokens_for("other", "k", 100, 100))).admitted);
}

// Settling the same reservation twice (a retry after a lost reply) counts once.
TEST_P(StoreContract, SettlingTwiceCountsOnce) {
    ASSERT_TRUE(run(store_.budgets->reserve(tokens_for("r1", "k", 60, 100))).admitted);
    EXPECT_FALSE(run(store_.budgets->commit("r1", {40, std::nullopt})));
    EXPECT_FALSE(run(store_.budgets->commit("r1", {40, std::nullopt})));
    EXPECT_FALSE(run(store_.budgets->rollback("r1")));
    const auto ls = run(store_.budgets->ledgers(budget_metric::tokens));
    EXPECT_EQ(find(ls, "k")->spent, 40u);
    EXPECT_EQ(find(ls, "k")->reserved, 0u);
}

TEST_P(StoreContract, BudgetReservationIsIdempotentById) {
    ASSERT_TRUE(run(store_.budgets->reserve(tokens_for("r1", "k", 60, 100))).admitted);
    const auto again = run(store_.budgets->reserve(tokens_for("r1", "k", 60, 100)));
    EXPECT_TRUE(again.admitted);
    EXPECT_TRUE(again.duplicate);
    const auto ls = run(store_.budgets->ledgers(budget_metric::tokens));
    EXPECT_EQ(find(ls, "k")->reserved, 60u);
}

TEST_P(StoreContract, BudgetIsAllScopesOrNone) {
    // The tenant fits one request of 60; the key two. The refused one charges neither.
    ASSERT_TRUE(run(store_.budgets->reserve(tokens_for("r1", "k1", 60, 200, 100))).admitted);
    const auto refused = run(store_.budgets->reserve(tokens_for("r2", "k1", 60, 200, 100)));
    EXPECT_FALSE(refused.admitted);
    EXPECT_EQ(refused.blocked_line, 1u);
    const auto ls = run(store_.budgets->ledgers(budget_metric::tokens));
    EXPECT_EQ(find(ls, "k1")->reserved, 60u);
    EXPECT_EQ(find(ls, "tenant:t")->reserved, 60u);
}

TEST_P(StoreContract, TokensAndDollarsAreSeparateLedgers) {
    reservation r{"r1", "k", {}};
    r.lines.push_back({"k", budget_metric::tokens, 1000, 100});
    r.lines.push_back({"k", budget_metric::usd_micros, 500, 400});
    ASSERT_TRUE(run(store_.budgets->reserve(r)).admitted);
    reservation r2{"r2", "k", {}};
    r2.lines.push_back({"k", budget_metric::tokens, 1000, 100});
    r2.lines.push_back({"k", budget_metric::usd_micros, 500, 400});
    const auto refused = run(store_.budgets->reserve(r2));
    EXPECT_FALSE(refused.admitted);
    EXPECT_EQ(refused.blocked_line, 1u);
    EXPECT_EQ(refused.attempted, 800u);
    EXPECT_FALSE(run(store_.budgets->commit("r1", {std::uint64_t{90}, std::uint64_t{123}})));
    const auto tokens = run(store_.budgets->ledgers(budget_metric::tokens));
    const auto usd = run(store_.budgets->ledgers(budget_metric::usd_micros));
    EXPECT_EQ(find(tokens, "k")->spent, 90u);
    EXPECT_EQ(find(usd, "k")->spent, 123u);
    EXPECT_EQ(find(usd, "k")->reserved, 0u);
}

TEST_P(StoreContract, UnlimitedLinesOnlyRecordSpend) {
    ASSERT_TRUE(
        run(store_.budgets->reserve(tokens_for("r1", "k", 1'000'000, std::nullopt))).admitted);
    EXPECT_FALSE(run(store_.budgets->commit("r1", {std::uint64_t{7}, std::nullopt})));
    const auto ls = run(store_.budgets->ledgers(budget_metric::tokens));
    EXPECT_EQ(find(ls, "k")->spent, 7u);
}

TEST_P(StoreContract, LedgersAreSortedByScope) {
    for (const char* k : {"zeta", "alpha", "mid"}) {
        ASSERT_TRUE(
            run(store_.budgets->reserve(tokens_for(std::string("r-") + k, k, 1, 10))).admitted);
    }
    const auto ls = run(store_.budgets->ledgers(budget_metric::tokens));
    std::vector<std::string> ids;
    for (const auto& e : ls)
        ids.push_back(e.scope_id);
    EXPECT_EQ(ids, (std::vector<std::string>{"alpha", "mid", "zeta"}));
    EXPECT_GT(ls[0].updated_at_ms, now_ms() - 60'000);
}

TEST_P(StoreContract, ReapReleasesExpiredLeasesOnly) {
    ASSERT_TRUE(run(store_.budgets->reserve(tokens_for("r1", "k", 30, 100))).admitted);
    ASSERT_TRUE(run(store_.budgets->reserve(tokens_for("r2", "k", 40, 100))).admitted);
    // Nothing is older than a minute ago.
    auto kept = run(store_.budgets->reap(std::chrono::minutes(1), 1000, false));
    EXPECT_EQ(kept.reaped, 0u);
    // The cutoff is the store's clock minus the age (Redis TIME for Redis), reported back.
    EXPECT_NEAR(static_cast<double>(kept.cutoff_ms), static_cast<double>(now_ms() - 60'000),
                5'000.0);
    // A dry run counts without releasing.
    // Age 0: everything made up to now, by the store's clock.
    auto dry = run(store_.budgets->reap(std::chrono::milliseconds(0), 1000, true));
    EXPECT_EQ(dry.reaped, 2u);
    EXPECT_EQ(dry.released_tokens, 70u);
    auto ls = run(store_.budgets->ledgers(budget_metric::tokens));
    EXPECT_EQ(find(ls, "k")->reserved, 70u);
    // The limit bounds one pass.
    auto one = run(store_.budgets->reap(std::chrono::milliseconds(0), 1, false));
    EXPECT_EQ(one.reaped, 1u);
    auto rest = run(store_.budgets->reap(std::chrono::milliseconds(0), 1000, false));
    EXPECT_EQ(rest.reaped, 1u);
    ls = run(store_.budgets->ledgers(budget_metric::tokens));
    EXPECT_EQ(find(ls, "k")->reserved, 0u);
    EXPECT_EQ(find(ls, "k")->spent, 0u);
    // A commit after the reap is a no-op: the lease had passed.
    EXPECT_FALSE(run(store_.budgets->commit("r1", {})));
    ls = run(store_.budgets->ledgers(budget_metric::tokens));
    EXPECT_EQ(find(ls, "k")->spent, 0u);
}

TEST_P(StoreContract, ConcurrentReservationsNeverOvershoot) {
    // 8 threads race 300 reservations of 7 tokens against a budget of 50 of them.
    constexpr int total = 300;
    constexpr std::uint64_t charge = 7, fits = 50;
    std::atomic<int> next{0}, admitted{0};
    std::vector<std::thread> threads;
    // Every io_context exists before the first thread reads the vector (TSan found the
    // reallocation racing with a running thread).
    for (int t = 0; t < 8; ++t)
        thread_iocs_.push_back(std::make_unique<boost::asio::io_context>());
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            boost::asio::io_context& ioc = *thread_iocs_[static_cast<std::size_t>(t)];
            for (int i = next++; i < total; i = next++) {
                bool done = false;
                boost::asio::co_spawn(
                    ioc,
                    store_.budgets->reserve(tokens_for("c-" + std::to_string(i), "kc", charge,
                                                       charge * fits, charge * fits)),
                    [&](std::exception_ptr e, reserve_result r) {
                        if (!e && r.admitted)
                            ++admitted;
                        done = true;
                    });
                ioc.restart();
                while (!done && ioc.run_one() > 0) {
                }
            }
        });
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(admitted.load(), static_cast<int>(fits));
    const auto ls = run(store_.budgets->ledgers(budget_metric::tokens));
    EXPECT_EQ(find(ls, "kc")->reserved, charge * fits);
    EXPECT_EQ(find(ls, "tenant:t")->reserved, charge * fits);
}

// ---- audit ----

TEST_P(StoreContract, AuditListsNewestFirst) {
    for (int i = 0; i < 5; ++i) {
        EXPECT_FALSE(run(store_.audit->append("proxy", R"({"n":)" + std::to_string(i) + "}")));
    }
    const auto all = run(store_.audit->list({}));
    ASSERT_EQ(all.size(), 5u);
    EXPECT_EQ(all[0].payload_json, R"({"n":4})");
    EXPECT_EQ(all[4].payload_json, R"({"n":0})");
    EXPECT_GT(all[0].id, all[1].id);
    EXPECT_EQ(all[0].kind, "proxy");
    audit_query q;
    q.limit = 2;
    EXPECT_EQ(run(store_.audit->list(q)).size(), 2u);
    q.limit = 100;
    q.since_ts_ms = now_ms() + 60'000;
    EXPECT_TRUE(run(store_.audit->list(q)).empty());
    q.since_ts_ms.reset();
    q.before_ts_ms = now_ms() - 60'000;
    EXPECT_TRUE(run(store_.audit->list(q)).empty());
}

// ---- control plane ----

TEST_P(StoreContract, ControlStateRoundTripsAndNotifies) {
    auto first = run(store_.control->load());
    EXPECT_FALSE(first.error);
    EXPECT_FALSE(first.state.has_value());
    std::atomic<std::uint64_t> seen{0};
    store_.control->watch([&seen](std::uint64_t v) { seen = v; });
    control_state s;
    s.keys = {{"a", R"({"id":"a","token":"sha256:00"})"}, {"b", R"({"id":"b"})"}};
    s.router_json = R"({"default_backends":[]})";
    EXPECT_FALSE(run(store_.control->save(s, std::nullopt)).error);
    auto loaded = run(store_.control->load());
    ASSERT_TRUE(loaded.state.has_value());
    EXPECT_EQ(loaded.state->keys, s.keys);
    EXPECT_EQ(loaded.state->router_json, s.router_json);
    EXPECT_GE(loaded.state->version, 1u);
    // The change feed may be asynchronous (Redis pub/sub): wait for it with a deadline.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (seen.load() != loaded.state->version && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(seen.load(), loaded.state->version);
}

TEST_P(StoreContract, ControlSaveIsCompareAndSet) {
    control_state s;
    s.keys = {{"a", R"({"id":"a"})"}};
    auto first = run(store_.control->save(s, 0));
    ASSERT_FALSE(first.error);
    EXPECT_GE(first.version, 1u);
    // A writer that still believes nothing was saved loses, and changes nothing.
    control_state other;
    other.keys = {{"b", R"({"id":"b"})"}};
    auto stale = run(store_.control->save(other, 0));
    EXPECT_EQ(stale.error, control_conflict());
    EXPECT_EQ(run(store_.control->load()).state->keys, s.keys);
    // The one that read the current version wins.
    auto second = run(store_.control->save(other, first.version));
    ASSERT_FALSE(second.error);
    EXPECT_EQ(second.version, first.version + 1);
    EXPECT_EQ(run(store_.control->load()).state->keys, other.keys);
}

}  // namespace
}  // namespace ditto::store::contract
