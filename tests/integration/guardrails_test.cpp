// Guardrails (docs/governance.md) through the real gateway (V2, V3, V4, V17, V18, PII): a rejected
// request never reaches the upstream and is counted in /metrics.
#include "support/gateway_fixture.hpp"

namespace ditto::test {
namespace {

using headers = std::vector<std::pair<std::string, std::string>>;
const headers auth = {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}};

class Guardrails : public ::testing::Test {
  protected:
    void start(const std::string& key_guardrails, const std::string& rules = "[]") {
        mock.start();
        gw.start(R"({"backends":[{"name":"primary","base_url":"http://127.0.0.1:)" +
                 std::to_string(mock.port) +
                 R"(/v1"}],"virtual_keys":[{"id":"key-1","token":"vk-1","enabled":true,)"
                 R"("limits":{},"budget":{},"cache":{"enabled":false},"guardrails":)" +
                 key_guardrails +
                 R"(,"passthrough":{"allow":false,"bypass_cache":false}}],)"
                 R"("router":{"default_backends":[{"backend":"primary"}],"rules":)" +
                 rules + "}}");
    }
    std::optional<http_response> chat(const std::string& model, const std::string& text = "hi") {
        return http_request(gw.port, "POST", "/v1/chat/completions",
                            R"({"model":")" + model +
                                R"(","messages":[{"role":"user","content":")" + text + R"("}]})",
                            auth);
    }
    int upstream_calls() const { return mock.request_count(); }
    running_mock mock;
    running_gateway gw;
};

TEST_F(Guardrails, V2_DeniedModelIs403AndNeverSent) {
    start(R"({"deny_models":["gpt-4*"]})");
    auto r = chat("gpt-4o");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    EXPECT_EQ(r->body, R"({"error":{"message":"deny_model:gpt-4*","type":"policy_error",)"
                       R"("code":"guardrail_rejected"}})");
    EXPECT_EQ(upstream_calls(), 0);
    auto ok = chat("gpt-3.5-turbo");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
    auto m = http_request(gw.port, "GET", "/metrics");
    ASSERT_TRUE(m);
    EXPECT_NE(m->body.find(R"("guardrail_blocked":1)"), std::string::npos) << m->body;
}

TEST_F(Guardrails, V3_BannedRegexAndPhraseAndPii) {
    start(R"({"banned_regexes":["sec.et"],"banned_phrases":["Launch Codes"],"block_pii":true})");
    auto re = chat("m", "my SECRET is");
    ASSERT_TRUE(re);
    EXPECT_EQ(re->status, 403);
    EXPECT_NE(re->body.find("banned_regex:sec.et"), std::string::npos) << re->body;
    auto ph = chat("m", "the launch codes please");
    ASSERT_TRUE(ph);
    EXPECT_NE(ph->body.find("banned_phrase:Launch Codes"), std::string::npos) << ph->body;
    auto email = chat("m", "write to a.b@example.com");
    ASSERT_TRUE(email);
    EXPECT_NE(email->body.find("pii:email"), std::string::npos) << email->body;
    auto ssn = chat("m", "ssn 123-45-6789");
    ASSERT_TRUE(ssn);
    EXPECT_NE(ssn->body.find("pii:ssn"), std::string::npos) << ssn->body;
    EXPECT_EQ(upstream_calls(), 0);
}

TEST_F(Guardrails, V4_SchemaValidationIs400InvalidRequest) {
    start(R"({"validate_schema":true})");
    auto r = http_request(gw.port, "POST", "/v1/chat/completions", R"({"model":"m"})", auth);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->body, R"({"error":{"message":"`messages` must be an array",)"
                       R"("type":"invalid_request_error","code":"invalid_request"}})");
    auto alias = http_request(gw.port, "POST", "/chat/completions", R"({"messages":[]})", auth);
    ASSERT_TRUE(alias);
    EXPECT_EQ(alias->status, 400);
    EXPECT_NE(alias->body.find("missing field `model`"), std::string::npos) << alias->body;
    EXPECT_EQ(upstream_calls(), 0);
    auto ok = chat("m");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
}

TEST_F(Guardrails, V17_RuleGuardrailsReplaceTheKeys) {
    start(R"({"banned_regexes":["forbidden"],"deny_models":["o1"]})",
          R"([{"model_prefix":"gpt-*","backend":"primary","guardrails":{}}])");
    auto gpt = chat("gpt-4o", "forbidden words");
    ASSERT_TRUE(gpt);
    EXPECT_EQ(gpt->status, 200) << gpt->body;  // the rule's empty set applies to gpt-*
    auto o1 = chat("o1", "hello");
    ASSERT_TRUE(o1);
    EXPECT_EQ(o1->status, 403);  // outside the rule, the key's set still applies
}

TEST_F(Guardrails, V18_AllowListRejectsOtherModels) {
    start(R"({"allow_models":["gpt-*"]})");
    auto r = chat("o1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    EXPECT_NE(r->body.find("model_not_allowed:o1"), std::string::npos) << r->body;
    auto ok = chat("gpt-4o-mini");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
}

}  // namespace
}  // namespace ditto::test
