// docs/governance.md ("Budget periods", "Key expiry", "Rotation") through the real gateway on
// the memory store: a day budget that rolls over under load, refusals that say when the budget
// resets, expired and rotated keys.
#include <algorithm>
#include <map>
#include <thread>

#include "support/keyed_gateway.hpp"
#include "support/period_boundary.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// 72 bytes: charge 18 + max_tokens 9 = 27, exactly what the mock reports.
const std::string exact =
    R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]})";

std::string header(const http_response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
        if (k == name)
            return v;
    }
    return "";
}

class SpendControls : public KeyedGateway {
  protected:
    /// The gateway with its calendar reading `unix_seconds` at the start.
    void start_at(const std::string& keys, std::int64_t unix_seconds) {
        start(keys, {"--admin-token", "adm-w"}, "",
              {{"DITTO_CALENDAR_OFFSET_SECONDS", std::to_string(offset_to(unix_seconds))}});
    }
};

// 300 requests in flight at a time while the day rolls over. key-1's day budget never runs
// out: requests admitted before midnight and answered after it must still count in the old day.
// key-2's (40 requests a day) runs out in both days: neither may go over.
TEST_F(SpendControls, DayBudgetRollsOverUnderLoadExactlyAndWithoutOvershoot) {
    const period_boundary b(2500ms);
    start(key("key-1", "vk-1", R"("budget":{"total_tokens":100000000,"period":"day"})") + "," +
              key("key-2", "vk-2", R"("budget":{"total_tokens":1080,"period":"day"})"),
          {"--admin-token", "adm-w"}, "", {b.env()});
    const auto big = delayed_chat("vk-1", 150), small = delayed_chat("vk-2", 20);
    rollover_load load;
    load.sent2_per_wave = 150;
    load.waves = waves_until(b.at + 1500ms, 100ms, [&] {
        std::vector<int> s1, s2;
        std::thread t([&] { s1 = concurrent_statuses(gw.port, big, 150); });
        s2 = concurrent_statuses(gw.port, small, 150);
        t.join();
        load.ok1 += static_cast<int>(std::count(s1.begin(), s1.end(), 200));
        load.ok2 += static_cast<int>(std::count(s2.begin(), s2.end(), 200));
        load.refused2 += static_cast<int>(std::count(s2.begin(), s2.end(), 402));
        EXPECT_EQ(std::count(s1.begin(), s1.end(), 200), 150);
    });
    ASSERT_GE(load.waves, 4);
    expect_exact_rollover(gw.port, "adm-w", load);
}

// The calendar at 2027-03-24T12:00:00Z, a Wednesday: a week in Paris ends on Monday 29 March at
// midnight, which is 22:00 UTC the day before since summer time began on the 28th.
TEST_F(SpendControls, RefusalSaysWhenTheBudgetResetsInItsTimeZone) {
    start_at(key("key-1", "vk-1",
                 R"("budget":{"total_tokens":30,"period":"week","timezone":"Europe/Paris"})"),
             1'805'889'600);
    EXPECT_EQ(post("vk-1", exact)->status, 200);  // 27 of 30
    auto r = post("vk-1", exact);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 402);
    EXPECT_EQ(r->body, R"({"error":{"message":"budget exceeded: limit=30 attempted=54 )"
                       R"(resets_at=2027-03-28T22:00:00Z","type":"insufficient_quota",)"
                       R"("code":"budget_exceeded"}})");
    // 4 days 10 hours, give or take the seconds the test took.
    const auto wait = std::stoll(header(*r, "retry-after"));
    EXPECT_LE(wait, 381'600);
    EXPECT_GE(wait, 381'600 - 30);
    // The Admin API: this period's ledger, its limit, what is left and when it resets.
    auto b = http_request(gw.port, "GET", "/admin/budgets?periods=last", "",
                          {{"x-admin-token", "adm-w"}});
    ASSERT_TRUE(b);
    EXPECT_EQ(b->status, 400) << b->body;
    b = http_request(gw.port, "GET", "/admin/budgets", "", {{"x-admin-token", "adm-w"}});
    ASSERT_TRUE(b);
    const auto list = json::parse(b->body);
    ASSERT_EQ(list.size(), 1u) << b->body;
    EXPECT_EQ(list[0]["key_id"], "key-1");
    EXPECT_EQ(list[0]["spent_tokens"], 27);
    EXPECT_EQ(list[0]["limit_tokens"], 30);
    EXPECT_EQ(list[0]["remaining_tokens"], 3);
    EXPECT_EQ(list[0]["period"], "week");
    EXPECT_EQ(list[0]["period_start"], "2027-03-21T23:00:00Z");  // Monday 22nd, 00:00 CET
    EXPECT_EQ(list[0]["resets_at"], "2027-03-28T22:00:00Z");
}

// A month in New York seen at 2027-01-31T23:00:00Z (18:00 local): it ends on 1 February at
// 05:00 UTC, not at the UTC month's end an hour later.
TEST_F(SpendControls, MonthBudgetFollowsTheLocalCalendar) {
    start_at(key("key-1", "vk-1",
                 R"("budget":{"total_tokens":20,"period":"month","timezone":"America/New_York"})"),
             1'801'436'400);
    auto r = post("vk-1", exact);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 402);
    EXPECT_NE(r->body.find("resets_at=2027-02-01T05:00:00Z"), std::string::npos) << r->body;
}

std::string chat_for(const std::string& model) {
    return R"({"model":")" + model +
           R"(","max_tokens":9,"messages":[{"role":"user","content":"hi"}]})";
}

// gpt-4o-mini is matched exactly; gpt-4o-2024 by the longest prefix, gpt-4o*; other models
// by none: they count in the key's own limit only. A model's refusal names its entry.
TEST_F(SpendControls, ModelLimitsApplyWithTheKeysOwnInOneAdmission) {
    start(key("key-1", "vk-1",
              R"("limits":{"rpm":10},"model_limits":{"gpt-4*":{"rpm":1},"gpt-4o*":{"rpm":2},)"
              R"("gpt-4o-mini":{"rpm":5},"o1*":{"budget":{"total_tokens":60}}})"),
          {"--admin-token", "adm-w"});
    for (int i = 0; i < 2; ++i)
        EXPECT_EQ(post("vk-1", chat_for("gpt-4o-2024"))->status, 200);
    auto r = post("vk-1", chat_for("gpt-4o-2024"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->body, R"({"error":{"message":"rate limit exceeded: rpm>2 model_limits=gpt-4o*",)"
                       R"("type":"rate_limit_error","code":"rate_limited"}})");
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(post("vk-1", chat_for("gpt-4o-mini"))->status, 200) << i;
    EXPECT_EQ(post("vk-1", chat_for("gpt-4o-mini"))->status, 429);
    // A budget on a model: two requests of 30 (81 bytes: 21 estimated + 9) fit in 60.
    EXPECT_EQ(post("vk-1", chat_for("o1-preview"))->status, 200);
    EXPECT_EQ(post("vk-1", chat_for("o1-preview"))->status, 200);
    r = post("vk-1", chat_for("o1-preview"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 402);
    EXPECT_EQ(r->body,
              R"({"error":{"message":"budget exceeded: limit=60 attempted=90 )"
              R"(model_limits=o1*","type":"insufficient_quota","code":"budget_exceeded"}})");
    // 9 admitted so far: the key's own rpm of 10 lets one more through, whatever the model.
    EXPECT_EQ(post("vk-1", chat_for("claude"))->status, 200);
    r = post("vk-1", chat_for("claude"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->body, R"({"error":{"message":"rate limit exceeded: rpm>10",)"
                       R"("type":"rate_limit_error","code":"rate_limited"}})");
    // All or nothing: the key's refusal charged no model scope. The model ledger shows in the
    // Admin API under its own id.
    auto b = http_request(gw.port, "GET", "/admin/budgets", "", {{"x-admin-token", "adm-w"}});
    ASSERT_TRUE(b);
    EXPECT_NE(b->body.find(R"("key_id":"key-1#model:o1*","spent_tokens":60,"reserved_tokens":0)"),
              std::string::npos)
        << b->body;
    EXPECT_EQ(mock.request_count(), 10);
}

TEST_F(SpendControls, ExpiredKeyGets401KeyExpiredInEachDialect) {
    start(key("old", "vk-old", R"("expires_at":"2020-01-01T00:00:00Z")") + "," +
              key("new", "vk-new", R"("expires_at":"2999-01-01T00:00:00+02:00")"),
          {"--admin-token", "adm-w"});
    auto r = post("vk-old", exact);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->body, R"({"error":{"message":"virtual key expired at 2020-01-01T00:00:00Z",)"
                       R"("type":"authentication_error","code":"key_expired"}})");
    EXPECT_EQ(post("vk-new", exact)->status, 200);
    EXPECT_EQ(mock.request_count(), 1);
    // Anthropic's shape for an Anthropic client.
    auto a =
        http_request(gw.port, "POST", "/v1/messages",
                     R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]})",
                     {{"x-api-key", "vk-old"},
                      {"anthropic-version", "2023-06-01"},
                      {"Content-Type", "application/json"}});
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, 401);
    EXPECT_EQ(json::parse(a->body)["type"], "error") << a->body;
    EXPECT_EQ(json::parse(a->body)["error"]["type"], "authentication_error") << a->body;
    // The Admin API shows the expiry as it was configured, in UTC.
    auto k = http_request(gw.port, "GET", "/admin/keys", "", {{"x-admin-token", "adm-w"}});
    ASSERT_TRUE(k);
    EXPECT_NE(k->body.find(R"("expires_at":"2998-12-31T22:00:00Z")"), std::string::npos) << k->body;
}

TEST_F(SpendControls, RotationIssuesANewTokenAndKeepsTheOldOneForItsGrace) {
    start(key("key-1", "vk-1"), {"--admin-token", "adm-w"});
    const http_headers admin{{"x-admin-token", "adm-w"}};
    auto r = http_request(gw.port, "POST", "/admin/keys/key-1/rotate", R"({"grace_seconds":3600})",
                          admin);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const auto rotated = json::parse(r->body);
    const auto token = rotated["token"].get<std::string>();
    EXPECT_TRUE(token.starts_with("sk-ditto-")) << r->body;
    EXPECT_EQ(token.size(), 9u + 64u);
    EXPECT_TRUE(rotated["previous_token"].get<std::string>().starts_with("sha256:")) << r->body;
    EXPECT_TRUE(rotated.contains("previous_token_expires_at")) << r->body;
    // Both work during the grace period.
    EXPECT_EQ(post(token, exact)->status, 200);
    EXPECT_EQ(post("vk-1", exact)->status, 200);
    // The new token is stored hashed: the Admin API cannot show it again.
    auto shown = http_request(gw.port, "GET", "/admin/keys?include_tokens=true", "", admin);
    ASSERT_TRUE(shown);
    EXPECT_EQ(shown->status, 409) << shown->body;
    // Rotating again with no grace: the token of the first rotation is now the previous one,
    // refused at once; the original token is no longer any key's.
    r = http_request(gw.port, "POST", "/admin/keys/key-1/rotate", R"({"grace_seconds":0})", admin);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const auto third = json::parse(r->body)["token"].get<std::string>();
    auto old = post(token, exact);
    ASSERT_TRUE(old);
    EXPECT_EQ(old->status, 401);
    EXPECT_NE(old->body.find(R"("code":"key_expired")"), std::string::npos) << old->body;
    EXPECT_NE(old->body.find("replaced by a rotation"), std::string::npos) << old->body;
    auto first = post("vk-1", exact);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 401);
    EXPECT_NE(first->body.find(R"("code":"invalid_api_key")"), std::string::npos) << first->body;
    EXPECT_EQ(post(third, exact)->status, 200);
    // A PUT of the key as listed keeps the rotation; one that brings a previous token of its
    // own is refused (it would make that string a credential).
    auto listed = json::parse(http_request(gw.port, "GET", "/admin/keys", "", admin)->body)[0];
    EXPECT_EQ(listed["previous_token"], "redacted");
    listed["limits"]["rpm"] = 100;
    // The listed token is "redacted": the stored (hashed) token stays, and the rotation with it
    // (docs/admin-api.md, "Editing without the token").
    r = http_request(gw.port, "PUT", "/admin/keys/key-1", listed.dump(), admin);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->body.find(R"("token":"redacted")"), std::string::npos) << r->body;
    EXPECT_EQ(post(third, exact)->status, 200);
    listed["token"] = third;
    r = http_request(gw.port, "PUT", "/admin/keys/key-1", listed.dump(), admin);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    listed["previous_token"] = "anything";
    r = http_request(gw.port, "PUT", "/admin/keys/key-1", listed.dump(), admin);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_NE(r->body.find("previous_token is set by a rotation"), std::string::npos) << r->body;
    // A key may be called "rotate".
    r = http_request(gw.port, "PUT", "/admin/keys/rotate", virtual_key_json("rotate", "vk-rotate"),
                     admin);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201) << r->body;
    // Refusals: an unknown key, a bad grace, another field.
    r = http_request(gw.port, "POST", "/admin/keys/key-1/rotate", R"({"grace":60})", admin);
    EXPECT_EQ(r->status, 400);
    r = http_request(gw.port, "POST", "/admin/keys/nope/rotate", "{}", admin);
    EXPECT_EQ(r->status, 404);
    r = http_request(gw.port, "POST", "/admin/keys/key-1/rotate", R"({"grace_seconds":-1})", admin);
    EXPECT_EQ(r->status, 400);
    // Audited, without any token.
    auto audit = http_request(gw.port, "GET", "/admin/audit?limit=10", "", admin);
    ASSERT_TRUE(audit);
    EXPECT_NE(audit->body.find("admin.key.rotate"), std::string::npos);
    EXPECT_EQ(audit->body.find(third), std::string::npos);
    EXPECT_EQ(audit->body.find(token), std::string::npos);
}

// What the upstream reported for one answer: input, output and cached tokens.
struct reported {
    std::uint64_t input = 0, output = 0, cached = 0;
};
reported usage_of(const http_response& r) {
    const auto u = json::parse(r.body)["usage"];
    reported out{u["prompt_tokens"].get<std::uint64_t>(),
                 u["completion_tokens"].get<std::uint64_t>(), 0};
    if (u.contains("prompt_tokens_details"))
        out.cached = u["prompt_tokens_details"]["cached_tokens"].get<std::uint64_t>();
    return out;
}

// Spend over time: every request served counts in its hour, per key and model, whether its key
// is governed (the count rides with the settlement) or not (with the audit record); a failed
// request counts nothing. JSON and CSV, and a tenant token sees its tenant only.
TEST_F(SpendControls, SpendOverTimeCountsEveryServedRequestOnce) {
    start(key("plain", "vk-plain", R"("tenant_id":"acme")") + "," +
              key("gov", "vk-gov", R"("tenant_id":"beta","budget":{"total_tokens":100000})"),
          {"--admin-token", "adm-w", "--admin-tenant-token", "acme=t-acme"});
    std::map<std::string, reported> want;  // "key|model"
    std::map<std::string, int> served;
    const auto send = [&](const std::string& token, const std::string& id, const std::string& model,
                          http_headers extra) {
        auto r = post(token, chat_for(model), std::move(extra));
        ASSERT_TRUE(r);
        if (r->status != 200)
            return;
        const auto u = usage_of(*r);
        auto& w = want[id + "|" + model];
        w.input += u.input;
        w.output += u.output;
        w.cached += u.cached;
        ++served[id + "|" + model];
    };
    for (int i = 0; i < 3; ++i)
        send("vk-plain", "plain", "m", {});
    send("vk-plain", "plain", "gpt-x",
         {{"x-mock-usage", R"({"prompt_tokens_details":{"cached_tokens":7}})"}});
    for (int i = 0; i < 2; ++i)
        send("vk-gov", "gov", "m", {});
    // Not served: no spend.
    send("vk-gov", "gov", "m", {{"x-mock-status", "500"}});
    send("vk-plain", "plain", "m", {{"x-mock-status", "503"}});
    ASSERT_EQ(served.size(), 3u);

    const http_headers admin{{"x-admin-token", "adm-w"}};
    auto r = http_request(gw.port, "GET", "/admin/spend?group_by=key,model&step=hour", "", admin);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const auto doc = json::parse(r->body);
    EXPECT_EQ(doc["step"], "hour");
    ASSERT_EQ(doc["rows"].size(), 3u) << r->body;
    for (const auto& row : doc["rows"]) {
        const auto id = row["key"].get<std::string>() + "|" + row["model"].get<std::string>();
        ASSERT_TRUE(want.contains(id)) << id;
        EXPECT_EQ(row["requests"], served[id]) << id;
        EXPECT_EQ(row["input_tokens"], want[id].input) << id;
        EXPECT_EQ(row["output_tokens"], want[id].output) << id;
        EXPECT_EQ(row["cached_tokens"], want[id].cached) << id;
        EXPECT_TRUE(row["start"].get<std::string>().ends_with(":00:00Z")) << row.dump();
    }
    // By day and tenant, as CSV.
    r = http_request(gw.port, "GET", "/admin/spend?group_by=tenant&format=csv", "", admin);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_TRUE(
        r->body.starts_with("start,tenant,requests,input_tokens,output_tokens,"
                            "cached_tokens,usd_micros\n"))
        << r->body;
    EXPECT_NE(r->body.find("T00:00:00Z,acme,4,"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("T00:00:00Z,beta,2,"), std::string::npos) << r->body;
    // A tenant token sees its tenant's rows only.
    r = http_request(gw.port, "GET", "/admin/spend?group_by=key", "",
                     {{"x-admin-token", "t-acme"}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->body.find(R"("key":"plain","requests":4)"), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("gov"), std::string::npos) << r->body;
    // A model that a spreadsheet would run as a formula is written as text.
    send("vk-plain", "plain", "=1+1", {});
    r = http_request(gw.port, "GET", "/admin/spend?group_by=model&format=csv", "", admin);
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find(",'=1+1,1,"), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find(",=1+1,"), std::string::npos) << r->body;
    // Bad queries, the hostile ones included (a range that would overflow, or never end).
    for (const char* q :
         {"?step=week", "?group_by=colour", "?from=yesterday", "?step=hour&from=0&to=99999999",
          "?from=20&to=10", "?from=-9223372036854775808&to=0", "?from=0&to=9223372036854775807",
          "?group_by=", "?format=xml"}) {
        r = http_request(gw.port, "GET", std::string("/admin/spend") + q, "", admin);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400) << q << " " << r->body;
    }
}

// Buckets are totals: a request whose audit record is sampled out still counts.
TEST_F(SpendControls, SpendCountsRequestsWhoseAuditRecordIsSampledOut) {
    mock.start();
    gw.start(R"({"backends":[{"name":"primary","base_url":"http://127.0.0.1:)" +
                 std::to_string(mock.port) + R"(/v1"}],"virtual_keys":[)" +
                 key("plain", "vk-plain") + "," +
                 key("gov", "vk-gov", R"("budget":{"total_tokens":1000000})") +
                 R"(],"router":{"default_backends":[{"backend":"primary"}]},)"
                 R"("observability":{"sampling":{"audit_rate":0}}})",
             {"--admin-token", "adm-w"});
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(post("vk-plain", exact)->status, 200);
        EXPECT_EQ(post("vk-gov", exact)->status, 200);
    }
    const http_headers admin{{"x-admin-token", "adm-w"}};
    auto audit = http_request(gw.port, "GET", "/admin/audit?limit=100", "", admin);
    ASSERT_TRUE(audit);
    EXPECT_EQ(audit->body.find(R"("kind":"proxy")"), std::string::npos) << audit->body;
    auto r = http_request(gw.port, "GET", "/admin/spend?group_by=key", "", admin);
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find(R"("key":"gov","requests":3,"input_tokens":54,"output_tokens":27)"),
              std::string::npos)
        << r->body;
    EXPECT_NE(r->body.find(R"("key":"plain","requests":3,"input_tokens":54,"output_tokens":27)"),
              std::string::npos)
        << r->body;
}

}  // namespace
}  // namespace ditto::test
