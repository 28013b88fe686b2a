#include <gtest/gtest.h>

#include <string>

#include "ditto/upstream/backend.hpp"
#include "ditto/upstream/client.hpp"

namespace ditto::upstream {
namespace {

namespace bhttp = http::bhttp;

config::backend_config mock_backend() {
    config::backend_config c;
    c.name = "mock";
    c.base_url = "http://127.0.0.1:9090/v1";
    c.headers = {{"authorization", "Bearer sk-upstream"}};
    return c;
}

// Regression (tests/fuzz/corpus/fuzz_http_request/crash-unknown-method): a method Beast has
// no verb for made build_outgoing throw, and the request a 500.
TEST(BuildOutgoing, ExtensionMethodIsForwardedByName) {
    const backend b(mock_backend());
    http::request client;
    client.method_string("QUERY");
    client.target("/v1/chat/completions");
    client.set(bhttp::field::authorization, "Bearer vk-client");
    outgoing out;
    ASSERT_NO_THROW(out = build_outgoing(client, b, "/v1/chat/completions", "", "{}", "req-1"));
    EXPECT_EQ(out.msg.method(), bhttp::verb::unknown);
    EXPECT_EQ(out.msg.method_string(), "QUERY");
    EXPECT_EQ(out.msg[bhttp::field::authorization], "Bearer sk-upstream");
    EXPECT_EQ(out.body, "{}");
}

TEST(BuildOutgoing, KnownMethodKeepsItsVerb) {
    const backend b(mock_backend());
    http::request client{bhttp::verb::patch, "/v1/files/f1", 11};
    const auto out = build_outgoing(client, b, "/v1/files/f1", "a=1", "", "req-2");
    EXPECT_EQ(out.msg.method(), bhttp::verb::patch);
    EXPECT_EQ(out.msg.target(), "/v1/files/f1?a=1");
    EXPECT_EQ(out.msg["x-request-id"], "req-2");
}

// Every dialect's credential header is the client's virtual key (docs/dialects.md): none of
// them reaches the upstream; the backend's own headers do.
TEST(BuildOutgoing, EveryDialectsCredentialStaysHere) {
    const backend b(mock_backend());
    http::request client{bhttp::verb::post, "/v1/messages", 11};
    client.set("x-api-key", "vk-anthropic");
    client.set("x-goog-api-key", "vk-gemini");
    client.set("X-Goog-Api-Key", "vk-gemini-2");
    client.set("anthropic-version", "2023-06-01");
    const auto out = build_outgoing(client, b, "/v1/chat/completions", "", "{}", "req-3");
    EXPECT_EQ(out.msg.find("x-api-key"), out.msg.end());
    EXPECT_EQ(out.msg.find("x-goog-api-key"), out.msg.end());
    EXPECT_EQ(out.msg["anthropic-version"], "2023-06-01");
    EXPECT_EQ(out.msg[bhttp::field::authorization], "Bearer sk-upstream");
}

}  // namespace
}  // namespace ditto::upstream
