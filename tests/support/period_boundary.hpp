#pragma once

// Budget periods under test (docs/governance.md, "Budget periods"): a calendar offset that puts
// a UTC day boundary a few seconds ahead, load that runs across it, and the checks both stores
// must pass: each period's ledger holds exactly what the requests admitted in it spent (by their
// audit records), and no period goes over its limit.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.hpp"

namespace ditto::test {

/// A UTC midnight far from today, reached `lead` from now by the gateway's calendar
/// (DITTO_CALENDAR_OFFSET_SECONDS = `offset`).
struct period_boundary {
    static constexpr std::int64_t midnight = 1'893'456'000;  // 2030-01-01T00:00:00Z
    std::int64_t offset = 0;
    std::chrono::system_clock::time_point at;  ///< when the calendar reaches `midnight`

    explicit period_boundary(std::chrono::milliseconds lead) {
        const auto now = std::chrono::system_clock::now();
        const auto now_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
        // A whole-second offset, so the boundary falls on a whole second of the system clock.
        offset = midnight - (now_ms + lead.count() + 999) / 1000;
        at = std::chrono::system_clock::time_point(std::chrono::seconds(midnight - offset));
    }
    std::pair<std::string, std::string> env() const {
        return {"DITTO_CALENDAR_OFFSET_SECONDS", std::to_string(offset)};
    }
    /// `<scope>@<start>-<end>` of the day before and the day after the boundary.
    static std::string before(const std::string& scope) {
        return scope + "@" + std::to_string(midnight - 86'400) + "-" + std::to_string(midnight);
    }
    static std::string after(const std::string& scope) {
        return scope + "@" + std::to_string(midnight) + "-" + std::to_string(midnight + 86'400);
    }
};

/// What the audit records of the requests served say each period's ledger was charged.
struct period_tally {
    std::uint64_t requests = 0;
    std::uint64_t spent_tokens = 0;
};

/// The proxy records of /admin/audit/export, summed by the ledger they name.
inline std::map<std::string, period_tally> tally_audit(int port, const std::string& admin_token) {
    std::map<std::string, period_tally> out;
    auto r = http_request(port, "GET", "/admin/audit/export?format=jsonl&limit=10000", "",
                          {{"x-admin-token", admin_token}}, std::chrono::seconds(30));
    EXPECT_TRUE(r && r->status == 200);
    if (!r)
        return out;
    std::size_t at = 0, lines = 0;
    while (at < r->body.size()) {
        const auto nl = std::min(r->body.find('\n', at), r->body.size());
        const auto rec = nlohmann::json::parse(r->body.substr(at, nl - at), nullptr, false);
        at = nl + 1;
        ++lines;
        if (!rec.is_object() || rec.value("kind", "") != "proxy")
            continue;
        const auto& p = rec["payload"];
        if (!p.contains("budget_ledgers"))
            continue;
        for (const auto& ledger : p["budget_ledgers"]) {
            auto& t = out[ledger.get<std::string>()];
            ++t.requests;
            t.spent_tokens += p.value("spent_tokens", std::uint64_t{0});
        }
    }
    EXPECT_LT(lines, 10'000u) << "the export was cut: the tally would be short";
    return out;
}

struct period_ledger {
    std::uint64_t spent = 0;
    std::uint64_t reserved = 0;
    std::string period_start, resets_at;
};

/// GET /admin/budgets?periods=all: the period ledgers of `key`, by `<key>@<start>-<end>`.
inline std::map<std::string, period_ledger> period_ledgers(int port, const std::string& admin_token,
                                                           const std::string& key) {
    std::map<std::string, period_ledger> out;
    auto r = http_request(port, "GET", "/admin/budgets?periods=all&key_prefix=" + key, "",
                          {{"x-admin-token", admin_token}});
    EXPECT_TRUE(r && r->status == 200);
    if (!r)
        return out;
    for (const auto& e : nlohmann::json::parse(r->body)) {
        if (e.value("key_id", "") != key || !e.contains("resets_at"))
            continue;
        period_ledger l{e.value("spent_tokens", std::uint64_t{0}),
                        e.value("reserved_tokens", std::uint64_t{0}), e.value("period_start", ""),
                        e.value("resets_at", "")};
        out[l.period_start] = l;
    }
    return out;
}

/// The calendar offset that makes the gateway's calendar read `unix_seconds` now.
inline std::int64_t offset_to(std::int64_t unix_seconds) {
    return unix_seconds - std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
}

/// A chat request (charge 27, usage 27) whose answer the mock delays by `delay_ms`.
inline std::string delayed_chat(const std::string& token, int delay_ms) {
    return make_request(
        "POST", "/v1/chat/completions",
        {{"Authorization", "Bearer " + token},
         {"Content-Type", "application/json"},
         {"x-mock-delay-ms", std::to_string(delay_ms)}},
        R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]})");
}

/// What the load across the boundary counted: key-1 (a budget that never runs out) and key-2
/// (40 requests a day).
struct rollover_load {
    int waves = 0;
    int ok1 = 0;
    int ok2 = 0;
    int refused2 = 0;
    int sent2_per_wave = 0;
};

/// The checks of a day that rolled over under `load`, read through the Admin API on `port`:
/// each period's ledger equals what its admitted requests spent (their audit records), nothing
/// is left reserved, and key-2 holds exactly its limit in each day.
inline void expect_exact_rollover(int port, const std::string& admin_token,
                                  const rollover_load& load) {
    const auto audit = tally_audit(port, admin_token);
    const auto ledgers1 = period_ledgers(port, admin_token, "key-1");
    const auto ledgers2 = period_ledgers(port, admin_token, "key-2");
    ASSERT_EQ(ledgers1.size(), 2u);
    ASSERT_EQ(ledgers2.size(), 2u);
    const auto& before1 = ledgers1.at("2029-12-31T00:00:00Z");
    const auto& after1 = ledgers1.at("2030-01-01T00:00:00Z");
    EXPECT_EQ(before1.resets_at, "2030-01-01T00:00:00Z");
    EXPECT_EQ(after1.resets_at, "2030-01-02T00:00:00Z");
    ASSERT_TRUE(audit.contains(period_boundary::before("key-1")));
    ASSERT_TRUE(audit.contains(period_boundary::after("key-1")));
    const auto in_before1 = audit.at(period_boundary::before("key-1"));
    const auto in_after1 = audit.at(period_boundary::after("key-1"));
    EXPECT_EQ(before1.spent, in_before1.spent_tokens);
    EXPECT_EQ(after1.spent, in_after1.spent_tokens);
    EXPECT_EQ(before1.spent, 27 * in_before1.requests);
    EXPECT_EQ(in_before1.requests + in_after1.requests, static_cast<std::uint64_t>(load.ok1));
    EXPECT_EQ(before1.reserved + after1.reserved, 0u);
    EXPECT_GT(in_before1.requests, 0u);
    EXPECT_GT(in_after1.requests, 0u);
    for (const auto& [start, l] : ledgers2) {
        EXPECT_EQ(l.spent, 1080u) << start;
        EXPECT_EQ(l.reserved, 0u) << start;
    }
    EXPECT_EQ(audit.at(period_boundary::before("key-2")).requests, 40u);
    EXPECT_EQ(audit.at(period_boundary::after("key-2")).requests, 40u);
    EXPECT_EQ(load.ok2, 80);
    EXPECT_EQ(load.ok2 + load.refused2, load.sent2_per_wave * load.waves);
}

/// Runs `wave` (a burst of requests in flight together) back to back, `pause` apart, from now
/// until `until`; how many waves ran.
inline int waves_until(std::chrono::system_clock::time_point until, std::chrono::milliseconds pause,
                       const std::function<void()>& wave) {
    int n = 0;
    while (std::chrono::system_clock::now() < until) {
        wave();
        ++n;
        std::this_thread::sleep_for(pause);
    }
    return n;
}

}  // namespace ditto::test
