// SPEC §3.4 rate limits through the real gateway: exact under concurrency, all scopes or none,
// refunds on failure, nothing consumed by rejected requests (V15).
#include <thread>

#include "support/gateway_fixture.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;
using headers = std::vector<std::pair<std::string, std::string>>;

const std::string chat =
    R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})";

class RateLimits : public ::testing::Test {
  protected:
    void start(const std::string& keys, const std::vector<std::string>& args = {}) {
        mock.start();
        gw.start(R"({"backends":[{"name":"primary","base_url":"http://127.0.0.1:)" +
                     std::to_string(mock.port) + R"(/v1"}],"virtual_keys":[)" + keys +
                     R"(],"router":{"default_backends":[{"backend":"primary"}]}})",
                 args);
    }
    static std::string key(const std::string& id, const std::string& token,
                           const std::string& limits, const std::string& extra = "") {
        return R"({"id":")" + id + R"(","token":")" + token + R"(","enabled":true,"limits":)" +
               limits +
               R"(,"budget":{},"cache":{"enabled":false},"guardrails":{"deny_models":["bad"]},)"
               R"("passthrough":{"allow":false,"bypass_cache":false})" +
               (extra.empty() ? "" : "," + extra) + "}";
    }
    std::optional<http_response> post(const std::string& token, const std::string& body = chat,
                                      headers extra = {}) {
        extra.emplace_back("Authorization", "Bearer " + token);
        extra.emplace_back("Content-Type", "application/json");
        return http_request(gw.port, "POST", "/v1/chat/completions", body, extra);
    }
    running_mock mock;
    running_gateway gw;
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
    // A stream is not settled (no usage read yet), so the charge stays at the estimate:
    // 41 bytes → 11 input tokens + --default-max-output-tokens 100 = 111 per request.
    const std::string stream = R"({"model":"m","stream":true,"messages":[]})";
    start(key("key-1", "vk-1", R"({"tpm":150})"), {"--default-max-output-tokens", "100"});
    EXPECT_EQ(post("vk-1", stream)->status, 200);
    auto r = post("vk-1", stream);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);  // 111 + 111 > 150
    EXPECT_NE(r->body.find("tpm>150"), std::string::npos) << r->body;
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
    std::vector<std::unique_ptr<http_connection>> conns;
    for (int i = 0; i < 300; ++i) {
        conns.push_back(std::make_unique<http_connection>(gw.port));
        ASSERT_TRUE(conns.back()->connected());
    }
    const auto req = make_request(
        "POST", "/v1/chat/completions",
        {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}}, chat);
    for (auto& c : conns)
        ASSERT_TRUE(c->send(req));
    int ok = 0, limited = 0;
    for (auto& c : conns) {
        auto r = c->read_response(30s);
        ASSERT_TRUE(r);
        if (r->status == 200)
            ++ok;
        if (r->status == 429)
            ++limited;
    }
    EXPECT_EQ(ok, 50);
    EXPECT_EQ(limited, 250);
}

}  // namespace
}  // namespace ditto::test
