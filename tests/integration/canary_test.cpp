// docs/routing.md, "Canary", through the real gateway in front of two real mock upstreams: a
// candidate router for a share of requests chosen by request id (a retry stays on its version),
// promoted or rolled back with one Admin API call, each change versioned and audited, and the
// versions side by side in the metrics and the audit.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "support/gateway_fixture.hpp"
#include "support/keyed_gateway.hpp"

namespace ditto::test {
namespace {

using json = nlohmann::json;
const std::string chat = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";

class Canary : public ::testing::Test {
  protected:
    void SetUp() override {
        stable.start();
        next.start();
        const auto url = [](int port) {
            return "http://127.0.0.1:" + std::to_string(port) + "/v1";
        };
        gw.start(R"({"backends":[{"name":"stable","base_url":")" + url(stable.port) +
                     R"("},{"name":"next","base_url":")" + url(next.port) +
                     R"("}],"virtual_keys":[{"id":"k","token":"vk-1"}],)"
                     R"("router":{"default_backends":[{"backend":"stable"}]}})",
                 {"--admin-token", "adm", "--admin-read-token", "ro", "--prometheus-metrics",
                  "--proxy-replay-ttl", "0", "--workers", "2"});
    }
    std::optional<http_response> admin(const std::string& method, const std::string& path,
                                       const std::string& body = "",
                                       const std::string& token = "adm") {
        http_headers h{{"Authorization", "Bearer " + token}};
        if (!body.empty())
            h.emplace_back("Content-Type", "application/json");
        return http_request(gw.port, method, path, body, h);
    }
    int send(const std::string& id) {
        auto r = http_request(gw.port, "POST", "/v1/chat/completions", chat,
                              {{"Authorization", "Bearer vk-1"},
                               {"Content-Type", "application/json"},
                               {"x-request-id", id}});
        return r ? r->status : 0;
    }
    // The x-request-ids a mock received.
    static std::set<std::string> ids_at(const running_mock& m) {
        std::set<std::string> out;
        auto r = http_request(m.port, "GET", "/__mock/requests");
        for (const auto& req : json::parse(r->body))
            out.insert(req["headers"].value("x-request-id", ""));
        return out;
    }
    static void clear(const running_mock& m) { http_request(m.port, "DELETE", "/__mock/requests"); }

    running_mock stable, next;
    running_gateway gw;
};

TEST_F(Canary, AShareByRequestIdThenPromoted) {
    auto started = admin("PUT", "/admin/config/canary",
                         R"({"percent":25,"router":{"default_backends":[{"backend":"next"}]}})");
    ASSERT_TRUE(started);
    ASSERT_EQ(started->status, 200) << started->body;
    const auto canary = json::parse(started->body)["canary"];
    const std::string stable_v = canary["stable_version"], canary_v = canary["canary_version"];
    EXPECT_NE(stable_v, canary_v);
    EXPECT_EQ(json::parse(admin("GET", "/admin/config/canary", "", "ro")->body)["percent"], 25);

    for (int i = 0; i < 400; ++i)
        ASSERT_EQ(send("req-" + std::to_string(i)), 200);
    const auto to_next = ids_at(next);
    // 25% of 400 by a hash of the id: 100 expected, well within [60, 140].
    EXPECT_GT(to_next.size(), 60U);
    EXPECT_LT(to_next.size(), 140U);
    EXPECT_EQ(ids_at(stable).size() + to_next.size(), 400U);

    // A retry (the same id) goes where its first try went, every time.
    clear(stable);
    clear(next);
    int resent = 0;
    for (const auto& id : to_next) {
        if (resent++ == 30)
            break;
        ASSERT_EQ(send(id), 200);
    }
    EXPECT_EQ(ids_at(next).size(), 30U);
    EXPECT_TRUE(ids_at(stable).empty());

    // Side by side: the metrics and the audit carry each request's version.
    const auto metrics = http_request(gw.port, "GET", "/metrics/prometheus")->body;
    for (const auto& v : {stable_v, canary_v}) {
        EXPECT_NE(metrics.find("responses_by_router_version_status_total{router_version=\"" + v +
                               "\",status=\"200\"}"),
                  std::string::npos)
            << v;
        EXPECT_NE(
            metrics.find("request_duration_seconds_by_router_version_count{router_version=\"" + v),
            std::string::npos);
    }
    EXPECT_NE(metrics.find("router_version_share{router_version=\"" + canary_v +
                           "\",role=\"canary\"} 25"),
              std::string::npos);
    EXPECT_NE(metrics.find("router_version_share{router_version=\"" + stable_v +
                           "\",role=\"stable\"} 75"),
              std::string::npos);
    auto audit = json::parse(admin("GET", "/admin/audit?kind=proxy&limit=50")->body);
    int canary_records = 0;
    for (const auto& r : audit) {
        const auto& p = r["payload"];
        ASSERT_TRUE(p.contains("router_version")) << p.dump();
        if (p["router_version"] == canary_v) {
            ++canary_records;
            EXPECT_EQ(p["backend"], "next");
        } else {
            EXPECT_EQ(p["router_version"], stable_v);
            EXPECT_EQ(p["backend"], "stable");
        }
    }
    EXPECT_GT(canary_records, 0);

    // A plain router update would end the canary unannounced: refused.
    auto put = admin("PUT", "/admin/config/router",
                     R"({"router":{"default_backends":[{"backend":"stable"}]}})");
    EXPECT_EQ(put->status, 409) << put->body;

    // Promote: one call, a new config version, audited with who did it.
    auto promoted = admin("POST", "/admin/config/canary/promote");
    ASSERT_EQ(promoted->status, 200) << promoted->body;
    EXPECT_EQ(json::parse(promoted->body)["router_version"], canary_v);
    EXPECT_EQ(admin("GET", "/admin/config/canary")->status, 404);
    EXPECT_EQ(json::parse(admin("GET", "/admin/config/version")->body)["reason"],
              "admin.config.canary.promote");
    clear(stable);
    clear(next);
    for (int i = 0; i < 40; ++i)
        ASSERT_EQ(send("after-" + std::to_string(i)), 200);
    EXPECT_EQ(ids_at(next).size(), 40U);
    EXPECT_TRUE(ids_at(stable).empty());
    auto changes = json::parse(admin("GET", "/admin/audit?kind=admin.config.canary&limit=5")->body);
    ASSERT_EQ(changes.size(), 2U) << changes.dump();
    EXPECT_EQ(changes[0]["kind"], "admin.config.canary.promote");
    EXPECT_EQ(changes[0]["payload"]["canary"]["canary_version"], canary_v);
    EXPECT_EQ(changes[0]["payload"]["actor"]["role"], "write");
    EXPECT_EQ(changes[1]["kind"], "admin.config.canary.start");
    EXPECT_EQ(changes[1]["payload"]["canary"]["percent"], 25);
}

TEST_F(Canary, RolledBackEverythingReturnsToTheStableRouter) {
    ASSERT_EQ(admin("PUT", "/admin/config/canary",
                    R"({"percent":100,"router":{"default_backends":[{"backend":"next"}]}})")
                  ->status,
              200);
    ASSERT_EQ(send("one"), 200);
    EXPECT_EQ(ids_at(next).count("one"), 1U);
    auto back = admin("DELETE", "/admin/config/canary");
    ASSERT_EQ(back->status, 200) << back->body;
    clear(next);
    for (int i = 0; i < 20; ++i)
        ASSERT_EQ(send("r-" + std::to_string(i)), 200);
    EXPECT_TRUE(ids_at(next).empty());
    EXPECT_EQ(admin("POST", "/admin/config/canary/rollback")->status, 404);
    EXPECT_EQ(admin("POST", "/admin/config/canary/promote")->status, 404);
    // The metrics say no canary runs any more.
    const auto metrics = http_request(gw.port, "GET", "/metrics/prometheus")->body;
    EXPECT_EQ(metrics.find("role=\"canary\""), std::string::npos);
}

TEST_F(Canary, BadCanariesAreRefusedAndReadTokensCannotStartOne) {
    const std::pair<std::string, const char*> bad[] = {
        {R"({"percent":0,"router":{"default_backends":[{"backend":"next"}]}})", "percent"},
        {R"({"percent":101,"router":{"default_backends":[{"backend":"next"}]}})", "percent"},
        {R"({"router":{"default_backends":[{"backend":"next"}]}})", "percent"},
        {R"({"percent":10,"router":{"default_backends":[{"backend":"ghost"}]}})", "ghost"},
        {R"({"percent":10,"router":{"rules":[{"model_prefix":"m","backend":"next","guardrails":{"max_input_tokens":5}}]}})",
         "routing only"},
        {R"({"percent":10})", "router"},
    };
    for (const auto& [body, why] : bad) {
        auto r = admin("PUT", "/admin/config/canary", body);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400) << body;
        EXPECT_NE(r->body.find(why), std::string::npos) << r->body;
    }
    EXPECT_EQ(admin("PUT", "/admin/config/canary",
                    R"({"percent":10,"router":{"default_backends":[{"backend":"next"}]}})", "ro")
                  ->status,
              401);
    // A dry run changes nothing.
    auto dry = admin(
        "PUT", "/admin/config/canary",
        R"({"percent":10,"dry_run":true,"router":{"default_backends":[{"backend":"next"}]}})");
    ASSERT_EQ(dry->status, 200) << dry->body;
    EXPECT_EQ(json::parse(dry->body)["canary"]["percent"], 10);
    EXPECT_EQ(admin("GET", "/admin/config/canary")->status, 404);
}

TEST_F(Canary, PromotionKeepsGuardrailsAndChecksWhatTheCallerSaw) {
    // The stable router guards model "m" with a banned phrase.
    auto put = admin(
        "PUT", "/admin/config/router",
        R"({"router":{"default_backends":[{"backend":"stable"}],"rules":[{"model_prefix":"m",)"
        R"("exact":true,"backend":"stable","guardrails":{"banned_phrases":["forbidden"]}}]}})");
    ASSERT_EQ(put->status, 200) << put->body;
    // A canary without a rule for "m" cannot be promoted: the guardrail would be lost.
    auto started = admin("PUT", "/admin/config/canary",
                         R"({"percent":12.5,"router":{"default_backends":[{"backend":"next"}]}})");
    ASSERT_EQ(started->status, 200) << started->body;
    EXPECT_EQ(json::parse(started->body)["canary"]["percent"], 12.5);  // not cut to 12
    const std::string first = json::parse(started->body)["canary"]["canary_version"];
    auto lost = admin("POST", "/admin/config/canary/promote");
    EXPECT_EQ(lost->status, 409) << lost->body;
    EXPECT_NE(lost->body.find("guardrails_would_be_lost"), std::string::npos) << lost->body;
    // A router update while it runs: refused; one that carries a canary: sent to its endpoint.
    EXPECT_EQ(admin("PUT", "/admin/config/router",
                    R"({"router":{"default_backends":[{"backend":"next"}]}})")
                  ->status,
              409);
    EXPECT_EQ(admin("PUT", "/admin/config/router",
                    R"({"router":{"default_backends":[{"backend":"next"}],"canary":{"percent":5,)"
                    R"("router":{"default_backends":[{"backend":"stable"}]}}}})")
                  ->status,
              400);
    // Replace it with one that keeps the rule; a promote naming the old one is refused.
    auto replaced = admin("PUT", "/admin/config/canary",
                          R"({"percent":50,"router":{"default_backends":[{"backend":"next"}],)"
                          R"("rules":[{"model_prefix":"m","exact":true,"backend":"next"}]}})");
    ASSERT_EQ(replaced->status, 200) << replaced->body;
    const std::string second = json::parse(replaced->body)["canary"]["canary_version"];
    auto stale = admin("POST", "/admin/config/canary/promote",
                       R"({"expected_canary_version":")" + first + R"("})");
    EXPECT_EQ(stale->status, 409) << stale->body;
    // A config rollback (here, of the router update above) keeps the canary running.
    auto versions = json::parse(admin("GET", "/admin/config/versions")->body);
    std::string before_router;
    for (const auto& v : versions) {
        if (v["reason"] != "admin.config.router.upsert" &&
            v["reason"] != "admin.config.canary.start")
            before_router = v["version_id"];
    }
    ASSERT_FALSE(before_router.empty()) << versions.dump();
    auto back =
        admin("POST", "/admin/config/rollback", R"({"version_id":")" + before_router + R"("})");
    ASSERT_EQ(back->status, 200) << back->body;
    auto still = admin("GET", "/admin/config/canary");
    ASSERT_EQ(still->status, 200);
    EXPECT_EQ(json::parse(still->body)["canary_version"], second);
    // Put the guarded router back (the canary stays), then promote: the rule keeps its
    // guardrail on the promoted router.
    // (PUT router is refused while a canary runs, so the guarded router comes back by rollback.)
    std::string guarded;
    for (const auto& v : json::parse(admin("GET", "/admin/config/versions")->body)) {
        if (v["reason"] == "admin.config.router.upsert")
            guarded = v["version_id"];
    }
    ASSERT_EQ(
        admin("POST", "/admin/config/rollback", R"({"version_id":")" + guarded + R"("})")->status,
        200);
    auto promoted = admin("POST", "/admin/config/canary/promote",
                          R"({"expected_canary_version":")" + second + R"("})");
    ASSERT_EQ(promoted->status, 200) << promoted->body;
    auto blocked =
        http_request(gw.port, "POST", "/v1/chat/completions",
                     R"({"model":"m","messages":[{"role":"user","content":"a forbidden word"}]})",
                     {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}});
    EXPECT_EQ(blocked->status, 403) << blocked->body;
    auto ok =
        http_request(gw.port, "POST", "/v1/chat/completions", chat,
                     {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}});
    EXPECT_EQ(ok->status, 200);
    EXPECT_EQ(ids_at(next).size() + ids_at(stable).size() >= 1, true);
    EXPECT_FALSE(ids_at(next).empty()) << "the promoted router routes to next";
    // Shares under a hundredth of a percent would route nothing: refused.
    EXPECT_EQ(admin("PUT", "/admin/config/canary",
                    R"({"percent":0.001,"router":{"default_backends":[{"backend":"next"}]}})")
                  ->status,
              400);
}

}  // namespace
}  // namespace ditto::test
