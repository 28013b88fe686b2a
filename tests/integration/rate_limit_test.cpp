// Rate limits (docs/governance.md) through the real gateway: exact under concurrency, all scopes or
// none, refunds on failure, nothing consumed by rejected requests (V15).
#include <algorithm>
#include <thread>

#include "support/keyed_gateway.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

const std::string& chat = chat_body;

// Keys limited by `limits`, plus `extra` members; "bad" is a denied model.
class RateLimits : public KeyedGateway {
  protected:
    static std::string key(const std::string& id, const std::string& token,
                           const std::string& limits, const std::string& extra = "") {
        return KeyedGateway::key(id, token,
                                 R"("limits":)" + limits +
                                     R"(,"guardrails":{"deny_models":["bad"]})" +
                                     (extra.empty() ? "" : "," + extra));
    }
};

TEST_F(RateLimits, RpmBlocksWith429AndRetryAfter) {
    start(key("key-1", "vk-1", R"({"rpm":2})"));
    ASSERT_EQ(post("vk-1")->status, 200);
    ASSERT_EQ(post("vk-1")->status, 200);
    auto r = post("vk-1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->body, R"({"error":{"message":"rate limit exceeded: rpm>2",)"
                       R"("type":"rate_limit_error","code":"rate_limited"}})");
    ASSERT_TRUE(r->has_header("retry-after"));
    const int retry = std::stoi(r->header("retry-after"));
    EXPECT_GE(retry, 1);
    EXPECT_LE(retry, 60);
    auto m = http_request(gw.port, "GET", "/metrics");
    EXPECT_NE(m->body.find(R"("rate_limited":1)"), std::string::npos) << m->body;
}

TEST_F(RateLimits, TpmCountsTheEstimate) {
    // chat is 73 bytes → 19 input tokens + max_tokens 10 = 29 per request.
    start(key("key-1", "vk-1", R"({"tpm":70})"));
    EXPECT_EQ(post("vk-1")->status, 200);
    EXPECT_EQ(post("vk-1")->status, 200);
    auto r = post("vk-1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
    EXPECT_NE(r->body.find("tpm>70"), std::string::npos) << r->body;
}

TEST_F(RateLimits, TpmIsSettledToTheReportedUsage) {
    // Estimate: 75 bytes → 19 input + max_tokens 1000 = 1019; the mock reports 19 + 9 = 28.
    // With tpm 1060 a second request fits only if the first was settled to 28.
    const std::string big =
        R"({"model":"m","max_tokens":1000,"messages":[{"role":"user","content":"hi"}]})";
    start(key("key-1", "vk-1", R"({"tpm":1060})"));
    ASSERT_EQ(post("vk-1", big)->status, 200);
    EXPECT_EQ(post("vk-1", big)->status, 200);
    auto r = post("vk-1", big);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);  // 28 + 28 + 1019 > 1060
}

TEST_F(RateLimits, RequestsWithoutMaxTokensAreChargedTheDefaultOutput) {
    // 41 bytes → 11 input tokens + --default-max-output-tokens 100 = 111 > tpm 110, refused
    // at admission; the same request with max_tokens 1 (12 tokens) fits.
    const std::string no_max = R"({"model":"m","stream":true,"messages":[]})";
    const std::string max_1 = R"({"model":"m","max_tokens":1,"messages":[]})";
    start(key("key-1", "vk-1", R"({"tpm":110})"), {"--default-max-output-tokens", "100"});
    auto r = post("vk-1", no_max);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
    EXPECT_NE(r->body.find("tpm>110"), std::string::npos) << r->body;
    EXPECT_EQ(post("vk-1", max_1)->status, 200);
}

TEST(RateLimitsDefault, FourThousandTokensWhenTheRequestSetsNone) {
    // With the default of 4096 even one streamed request does not fit in tpm 1000.
    running_mock mock;
    mock.start();
    running_gateway gw;
    gw.start(R"({"backends":[{"name":"p","base_url":"http://127.0.0.1:)" +
             std::to_string(mock.port) +
             R"(/v1"}],"virtual_keys":[{"id":"k","token":"vk-1","enabled":true,)"
             R"("limits":{"tpm":1000},"budget":{},"cache":{"enabled":false},"guardrails":{},)"
             R"("passthrough":{"allow":false,"bypass_cache":false}}],)"
             R"("router":{"default_backends":[{"backend":"p"}]}})");
    auto r = http_request(gw.port, "POST", "/v1/chat/completions",
                          R"({"model":"m","stream":true,"messages":[]})",
                          {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
}

TEST_F(RateLimits, V15_RejectedRequestsConsumeNothingAndFailuresAreRefunded) {
    start(key("key-1", "vk-1", R"({"rpm":1})"));
    // A guardrail rejection (deny "bad") and an upstream 500 leave the one request unspent.
    EXPECT_EQ(post("vk-1", R"({"model":"bad","messages":[]})")->status, 403);
    EXPECT_EQ(post("vk-1", chat, {{"x-mock-status", "500"}})->status, 500);
    EXPECT_EQ(post("vk-1")->status, 200);
    EXPECT_EQ(post("vk-1")->status, 429);
}

// Admission is all or nothing across limits and budgets (issue 22): a request the budget
// refuses leaves the rpm it would have used to the next one.
TEST_F(RateLimits, ABudgetRefusalChargesNoRpm) {
    // The big request (19 + 1000 tokens) is over the 100-token budget; the small one (19 + 10)
    // fits, once, within rpm 1.
    const std::string big =
        R"({"model":"m","max_tokens":1000,"messages":[{"role":"user","content":"hi"}]})";
    start(key("key-1", "vk-1", R"({"rpm":1})", R"("budget":{"total_tokens":100})"));
    auto refused = post("vk-1", big);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 402) << refused->body;
    EXPECT_EQ(post("vk-1")->status, 200);
    EXPECT_EQ(post("vk-1")->status, 429);
}

TEST_F(RateLimits, TenantScopeIsSharedAndAllOrNothing) {
    start(key("key-1", "vk-1", R"({"rpm":100})", R"("tenant_id":"t","tenant_limits":{"rpm":2})") +
          "," +
          key("key-2", "vk-2", R"({"rpm":100})", R"("tenant_id":"t","tenant_limits":{"rpm":2})") +
          "," + key("key-3", "vk-3", R"({"rpm":1})"));
    EXPECT_EQ(post("vk-1")->status, 200);
    EXPECT_EQ(post("vk-2")->status, 200);
    auto r = post("vk-1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);  // the tenant's two are used, whichever key asks
    // Another tenant-less key is not affected.
    EXPECT_EQ(post("vk-3")->status, 200);
}

TEST_F(RateLimits, ExactUnderConcurrency) {
    // 300 requests at once on 2 workers against rpm=50: exactly 50 get through.
    start(key("key-1", "vk-1", R"({"rpm":50})"), {"--workers", "2"});
    const auto statuses = concurrent_statuses(
        gw.port,
        make_request("POST", "/v1/chat/completions",
                     {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}},
                     chat),
        300);
    const auto ok = std::count(statuses.begin(), statuses.end(), 200);
    const auto limited = std::count(statuses.begin(), statuses.end(), 429);
    EXPECT_EQ(ok, 50);
    EXPECT_EQ(limited, 250);
}

}  // namespace
}  // namespace ditto::test
