// docs/routing.md, "Canary": `router.canary` parsed, validated, serialized (persisted and hashed
// with the router), and the share a snapshot routes by request id.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ditto/config/load.hpp"
#include "ditto/config/serialize.hpp"
#include "ditto/middleware/keys.hpp"

namespace ditto::config {
namespace {

using strings = std::vector<std::string>;

std::string doc(const std::string& router) {
    return R"({"backends":[{"name":"a","base_url":"http://127.0.0.1:1"},)"
           R"({"name":"b","base_url":"http://127.0.0.1:2"}],"virtual_keys":[],"router":)" +
           router + "}";
}

gateway_config load(const std::string& router, diagnostics& diag) {
    auto cfg = parse_gateway_json(doc(router), diag);
    if (diag.ok())
        validate(cfg, diag);
    return cfg;
}

TEST(CanaryConfig, ParsedValidatedAndRoundTripped) {
    diagnostics diag;
    const auto cfg = load(R"({"default_backends":[{"backend":"a"}],"canary":{"percent":12.5,)"
                          R"("router":{"default_backends":[{"backend":"b"}]}}})",
                          diag);
    ASSERT_TRUE(diag.ok()) << diag.errors.front();
    ASSERT_TRUE(cfg.router.canary);
    EXPECT_EQ(cfg.router.canary->percent, 12.5);
    EXPECT_EQ(cfg.router.canary->router->default_backends.at(0).backend, "b");
    // Persisted and hashed with the router: it survives a round trip, and equal content is
    // equal whatever the pointers.
    const auto text = router_to_json(cfg.router);
    diagnostics d2;
    const auto back = parse_router_json(text, d2);
    ASSERT_TRUE(back) << d2.errors.front();
    EXPECT_EQ(*back, cfg.router);
    auto without = cfg.router;
    without.canary.reset();
    EXPECT_EQ(router_to_json(without).find("canary"), std::string::npos);
    EXPECT_NE(middleware::router_version_of(without),
              middleware::router_version_of(*cfg.router.canary->router));
}

TEST(CanaryConfig, EveryMistakeIsNamed) {
    const std::pair<std::string, std::string> bad[] = {
        {R"({"canary":{"percent":0,"router":{}}})",
         "router.canary.percent: must be between 0.01 and 100"},
        {R"({"canary":{"percent":100.5,"router":{}}})", "router.canary.percent"},
        {R"({"canary":{"router":{}}})", "router.canary.percent"},
        {R"({"canary":{"percent":5,"router":{"canary":{"percent":5,"router":{}}}}})",
         "router.canary.router: a canary router has no canary of its own"},
        {R"({"canary":{"percent":5,"router":{"default_backends":[{"backend":"ghost"}]}}})",
         "router.canary.router references unknown backends: ghost"},
        {R"({"canary":{"percent":5,"router":{"rules":[{"model_prefix":"m","backend":"a",)"
         R"("guardrails":{"block_pii":true}}]}}})",
         "router.canary.router.rules[0].guardrails: a canary changes routing only"},
    };
    for (const auto& [router, want] : bad) {
        diagnostics diag;
        load(router, diag);
        ASSERT_FALSE(diag.ok()) << router;
        bool found = false;
        for (const auto& e : diag.errors)
            found = found || e.find(want) != std::string::npos;
        EXPECT_TRUE(found) << router << " gave: " << diag.errors.front();
    }
}

TEST(CanaryConfig, TheShareIsByRequestIdAndStable) {
    router_config r;
    r.default_backends = {{"a", 1.0}};
    router_canary c;
    c.percent = 20;
    auto cand = std::make_shared<router_config>();
    cand->default_backends = {{"b", 1.0}};
    c.router = cand;
    r.canary = c;
    const middleware::key_snapshot snap(middleware::key_list{}, r);
    int canary = 0;
    for (int i = 0; i < 10'000; ++i) {
        const auto id = "req-" + std::to_string(i);
        const auto first = snap.router_for(id);
        EXPECT_EQ(first.canary, snap.router_for(id).canary);  // a retry keeps its version
        if (first.canary) {
            ++canary;
            EXPECT_EQ(first.version, snap.canary_version());
            EXPECT_EQ(first.router->default_backends.at(0).backend, "b");
        } else {
            EXPECT_EQ(first.version, snap.router_version());
        }
    }
    EXPECT_GT(canary, 1800);  // 20% of 10,000 within about 5 standard deviations
    EXPECT_LT(canary, 2200);
}

}  // namespace
}  // namespace ditto::config
