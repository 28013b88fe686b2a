// Issue 20 through the real gateway in front of the real mock as a chat-only upstream
// (`--chat-only`: 404 on /v1/responses and /v1/messages): each dialect's front door,
// translated answers buffered and streamed, gateway errors in the client's shape, usage
// settled from every answer shape, and budgets exact under concurrency for every dialect.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>

#include "support/gateway_fixture.hpp"
#include "support/inspect.hpp"
#include "support/keyed_gateway.hpp"
#include "support/raw_server.hpp"

namespace ditto::test {
namespace {

using json = nlohmann::json;
using headers = std::vector<std::pair<std::string, std::string>>;

const std::string admin = "adm-dialects";

// The same question in each dialect; max 9 output tokens, what the mock answers with.
const std::string chat_q =
    R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]})";
const std::string anthropic_q =
    R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]})";
const std::string gemini_q =
    R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":9}})";
const std::string responses_q = R"({"model":"m","input":"hi","max_output_tokens":9})";

const headers anthropic_h = {{"x-api-key", "vk-1"},
                             {"anthropic-version", "2023-06-01"},
                             {"Content-Type", "application/json"}};
const headers json_h = {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}};

// Every `data:` line of an SSE body, parsed; `events` gets each `event:` name.
std::vector<json> sse_data(const std::string& body, std::vector<std::string>* events = nullptr) {
    std::vector<json> out;
    std::size_t pos = 0;
    while (pos < body.size()) {
        auto nl = body.find('\n', pos);
        if (nl == std::string::npos)
            nl = body.size();
        std::string line = body.substr(pos, nl - pos);
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.starts_with("data: "))
            out.push_back(json::parse(line.substr(6)));
        if (events && line.starts_with("event: "))
            events->push_back(line.substr(7));
        pos = nl + 1;
    }
    return out;
}

class Dialects : public ::testing::Test {
  protected:
    void start(const std::string& key_fields = "", const std::string& backend_extra = "",
               std::vector<std::string> args = {}) {
        mock.start({"--chat-only"});
        args.insert(args.end(), {"--admin-token", admin});
        // A ledger is kept for scopes with a budget: a large one, unless the test sets its own.
        std::string fields = key_fields;
        if (fields.find("\"budget\"") == std::string::npos)
            fields +=
                std::string(fields.empty() ? "" : ",") + R"("budget":{"total_tokens":1000000})";
        gw.start(R"({"backends":[{"name":"primary","base_url":"http://127.0.0.1:)" +
                     std::to_string(mock.port) + R"(/v1")" + backend_extra +
                     R"(}],"virtual_keys":[)" + virtual_key_json("key-1", "vk-1", fields) +
                     R"(],"router":{"default_backends":[{"backend":"primary"}]}})",
                 args);
    }
    std::optional<http_response> post(const std::string& path, const std::string& body,
                                      const headers& h) {
        return http_request(gw.port, "POST", path, body, h);
    }
    // The upstream requests the mock has seen, oldest first.
    json upstream_requests() {
        auto r = http_request(mock.port, "GET", "/__mock/requests");
        if (!r)
            return json::array();
        auto all = json::parse(r->body);
        return all.is_object() && all.contains("requests") ? all["requests"] : all;
    }
    std::uint64_t spent() {
        auto l = read_token_ledger(gw.port, admin, "key-1");
        return l ? l->spent : ~0ULL;
    }

    running_mock mock;
    running_gateway gw;
};

TEST_F(Dialects, AnthropicMessagesAreAnsweredInTheirShapeOverChat) {
    start();
    auto r = post("/v1/messages",
                  R"({"model":"claude-x","max_tokens":50,"system":"be brief",)"
                  R"("metadata":{"user_id":"u-7"},"messages":[{"role":"user","content":"hi"}]})",
                  anthropic_h);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->header("x-ditto-shim"), "messages_via_chat_completions");
    const auto m = json::parse(r->body);
    EXPECT_EQ(m["type"], "message");
    EXPECT_EQ(m["role"], "assistant");
    EXPECT_EQ(m["content"][0]["type"], "text");
    EXPECT_EQ(m["stop_reason"], "end_turn");
    const std::uint64_t in = m["usage"]["input_tokens"], out = m["usage"]["output_tokens"];
    EXPECT_GT(in, 0u);
    EXPECT_EQ(out, 9u);
    // Settled at the answer's usage (not at the charge of estimate + 50).
    EXPECT_EQ(spent(), in + out);

    const auto sent = upstream_requests().back();
    EXPECT_EQ(sent["target"], "/v1/chat/completions");
    const auto body = json::parse(sent["body"].get<std::string>());
    EXPECT_EQ(body["messages"][0], (json{{"role", "system"}, {"content", "be brief"}}));
    EXPECT_EQ(body["max_tokens"], 50);
    EXPECT_EQ(body["user"], "u-7");
    // The virtual key never reaches the upstream, in any header.
    EXPECT_EQ(sent["headers"].dump().find("vk-1"), std::string::npos) << sent["headers"];
}

TEST_F(Dialects, AnthropicStreamIsRelayedEventByEventAndSettledAtItsUsage) {
    start();
    auto r = post("/v1/messages",
                  R"({"model":"claude-x","max_tokens":50,"stream":true,)"
                  R"("messages":[{"role":"user","content":"hi"}]})",
                  anthropic_h);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->header("content-type").find("text/event-stream"), std::string::npos);
    std::vector<std::string> events;
    const auto data = sse_data(r->body, &events);
    ASSERT_GE(events.size(), 6u) << r->body;
    EXPECT_EQ(events.front(), "message_start");
    EXPECT_EQ(events[1], "ping");
    EXPECT_EQ(events[events.size() - 2], "message_delta");
    EXPECT_EQ(events.back(), "message_stop");
    std::string text;
    for (const auto& d : data) {
        if (d["type"] == "content_block_delta")
            text += d["delta"]["text"].get<std::string>();
    }
    EXPECT_EQ(text, "Hello from ditto-mock-upstream. This reply is deterministic.");
    const auto& delta = data[data.size() - 2];
    const std::uint64_t in = delta["usage"]["input_tokens"], out = delta["usage"]["output_tokens"];
    EXPECT_EQ(out, 9u);
    // The translation asked the chat upstream for the usage event and consumed it.
    const auto sent = json::parse(upstream_requests().back()["body"].get<std::string>());
    EXPECT_EQ(sent["stream_options"]["include_usage"], true);
    EXPECT_EQ(r->body.find("[DONE]"), std::string::npos);
    EXPECT_EQ(spent(), in + out);
}

TEST_F(Dialects, AnthropicToolRoundTripBecomesChatToolMessages) {
    start();
    const std::string req =
        R"({"model":"m","max_tokens":20,"tools":[{"name":"weather","description":"w",)"
        R"("input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],)"
        R"("messages":[{"role":"user","content":"weather?"},)"
        R"({"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"weather",)"
        R"("input":{"city":"Paris"}}]},)"
        R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1",)"
        R"("content":"sunny"}]}]})";
    auto r = post("/v1/messages", req, anthropic_h);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const auto sent = json::parse(upstream_requests().back()["body"].get<std::string>());
    EXPECT_EQ(sent["tools"][0]["function"]["name"], "weather");
    const auto& msgs = sent["messages"];
    ASSERT_EQ(msgs.size(), 3u) << sent;
    EXPECT_EQ(msgs[1]["tool_calls"][0]["id"], "toolu_1");
    EXPECT_EQ(json::parse(msgs[1]["tool_calls"][0]["function"]["arguments"].get<std::string>()),
              (json{{"city", "Paris"}}));
    EXPECT_EQ(msgs[2]["role"], "tool");
    EXPECT_EQ(msgs[2]["tool_call_id"], "toolu_1");
    EXPECT_EQ(msgs[2]["content"], "sunny");
}

TEST_F(Dialects, GatewayErrorsAreInTheClientsShape) {
    start(R"("limits":{"rpm":1})");
    // Anthropic: a wrong key, then a rate limit with retry-after.
    auto bad = post("/v1/messages", anthropic_q, {{"x-api-key", "wrong"}});
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 401);
    EXPECT_EQ(json::parse(bad->body)["type"], "error");
    EXPECT_EQ(json::parse(bad->body)["error"]["type"], "authentication_error");
    ASSERT_EQ(post("/v1/messages", anthropic_q, anthropic_h)->status, 200);
    auto limited = post("/v1/messages", anthropic_q, anthropic_h);
    ASSERT_TRUE(limited);
    EXPECT_EQ(limited->status, 429);
    EXPECT_FALSE(limited->header("retry-after").empty());
    EXPECT_EQ(json::parse(limited->body)["error"]["type"], "rate_limit_error") << limited->body;
    // A request that cannot be translated names the field, before anything is counted.
    auto refused = post("/v1/messages",
                        R"({"model":"m","max_tokens":5,"tools":[{"type":"web_search_20250305",)"
                        R"("name":"web_search"}],"messages":[{"role":"user","content":"x"}]})",
                        anthropic_h);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400);
    EXPECT_EQ(json::parse(refused->body)["error"]["type"], "invalid_request_error")
        << refused->body;
    // Gemini: the wrong key in the query, the Gemini error shape.
    auto g = post("/v1beta/models/gemini-x:generateContent?key=wrong", gemini_q,
                  {{"Content-Type", "application/json"}});
    ASSERT_TRUE(g);
    EXPECT_EQ(g->status, 401);
    EXPECT_EQ(json::parse(g->body)["error"]["status"], "UNAUTHENTICATED") << g->body;
    EXPECT_EQ(json::parse(g->body)["error"]["code"], 401);
    // Paths of a dialect's namespace the gateway does not serve: 404 in that shape.
    auto nf = http_request(gw.port, "GET", "/v1beta/cachedContents");
    ASSERT_TRUE(nf);
    EXPECT_EQ(nf->status, 404);
    EXPECT_EQ(json::parse(nf->body)["error"]["status"], "NOT_FOUND");
}

TEST_F(Dialects, GeminiGenerateAndStreamWithTheKeyInTheQuery) {
    start();
    auto r = post("/v1beta/models/gemini-x:generateContent?key=vk-1", gemini_q,
                  {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const auto g = json::parse(r->body);
    EXPECT_EQ(g["candidates"][0]["content"]["role"], "model");
    EXPECT_EQ(g["candidates"][0]["finishReason"], "STOP");
    const std::uint64_t total = g["usageMetadata"]["totalTokenCount"];
    EXPECT_EQ(spent(), total);
    auto sent = upstream_requests().back();
    EXPECT_EQ(sent["target"], "/v1/chat/completions");  // no query: the key never leaves
    EXPECT_EQ(json::parse(sent["body"].get<std::string>())["model"], "gemini-x");
    EXPECT_EQ(sent.dump().find("vk-1"), std::string::npos);

    auto s = post("/v1beta/models/gemini-x:streamGenerateContent?alt=sse", gemini_q,
                  {{"x-goog-api-key", "vk-1"}, {"Content-Type", "application/json"}});
    ASSERT_TRUE(s);
    ASSERT_EQ(s->status, 200) << s->body;
    const auto events = sse_data(s->body);
    ASSERT_GE(events.size(), 2u);
    std::string text;
    for (const auto& e : events) {
        for (const auto& p : e["candidates"][0]["content"]["parts"])
            text += p.value("text", "");
    }
    EXPECT_EQ(text, "Hello from ditto-mock-upstream. This reply is deterministic.");
    const auto& last = events.back();
    EXPECT_EQ(last["candidates"][0]["finishReason"], "STOP");
    const std::uint64_t stream_total = last["usageMetadata"]["totalTokenCount"];
    EXPECT_EQ(spent(), total + stream_total);
}

TEST_F(Dialects, ResponsesAutoFallsBackToChatOnTheSameBackend) {
    start();
    auto r = post("/v1/responses", responses_q, json_h);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->header("x-ditto-shim"), "responses_via_chat_completions");
    const auto resp = json::parse(r->body);
    EXPECT_EQ(resp["object"], "response");
    EXPECT_EQ(resp["output"][0]["content"][0]["type"], "output_text");
    const auto reqs = upstream_requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[0]["target"], "/v1/responses");  // asked as is first: 404
    EXPECT_EQ(reqs[1]["target"], "/v1/chat/completions");
    EXPECT_EQ(spent(), resp["usage"]["total_tokens"].get<std::uint64_t>());
    // The guess is not a backend failure: the breaker and health see one success.
    auto stream = post("/v1/responses",
                       R"({"model":"m","input":"hi","stream":true,"max_output_tokens":9})", json_h);
    ASSERT_TRUE(stream);
    ASSERT_EQ(stream->status, 200);
    std::vector<std::string> events;
    const auto data = sse_data(stream->body, &events);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.front(), "response.created");
    EXPECT_EQ(events.back(), "response.completed");
    for (std::size_t i = 0; i < data.size(); ++i)
        EXPECT_EQ(data[i]["sequence_number"], i);
    const std::uint64_t streamed = data.back()["response"]["usage"]["total_tokens"];
    EXPECT_EQ(spent(), resp["usage"]["total_tokens"].get<std::uint64_t>() + streamed);
}

TEST_F(Dialects, ResponsesTranslateSkipsTheFirstCallAndPassthroughNeverTranslates) {
    start("", R"(,"responses":"translate")");
    ASSERT_EQ(post("/v1/responses", responses_q, json_h)->status, 200);
    auto reqs = upstream_requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0]["target"], "/v1/chat/completions");
    // Built-in tools cannot be translated: a 400 that names the field.
    auto r = post("/v1/responses", R"({"model":"m","input":"hi","tools":[{"type":"web_search"}]})",
                  json_h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(json::parse(r->body)["error"]["param"], "tools[0].type") << r->body;
    EXPECT_EQ(upstream_requests().size(), 1u);
}

TEST_F(Dialects, ResponsesPassthroughRelaysTheUpstreams404) {
    start("", R"(,"responses":"passthrough")");
    auto r = post("/v1/responses", responses_q, json_h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    EXPECT_FALSE(r->has_header("x-ditto-shim"));
    EXPECT_EQ(spent(), 0u);
}

// The cache stores what the client received, under the client's path: a hit is the same
// Anthropic answer, still marked as translated, and a chat client asking the same question
// is not served it.
TEST_F(Dialects, ACacheHitIsTheTranslatedAnswerAndStaysInItsDialect) {
    start(R"("cache":{"enabled":true})", "", {"--proxy-cache"});
    auto first = post("/v1/messages", anthropic_q, anthropic_h);
    auto second = post("/v1/messages", anthropic_q, anthropic_h);
    ASSERT_TRUE(first && second);
    ASSERT_EQ(first->status, 200) << first->body;
    ASSERT_EQ(second->status, 200) << second->body;
    EXPECT_EQ(second->header("x-ditto-cache"), "hit");
    EXPECT_EQ(second->header("x-ditto-shim"), "messages_via_chat_completions");
    EXPECT_EQ(json::parse(second->body)["type"], "message");
    EXPECT_EQ(second->body, first->body);
    auto chat = post("/v1/chat/completions", chat_q, json_h);
    ASSERT_TRUE(chat);
    ASSERT_EQ(chat->status, 200) << chat->body;
    EXPECT_NE(chat->header("x-ditto-cache"), "hit");
    EXPECT_EQ(json::parse(chat->body)["object"], "chat.completion");
    EXPECT_EQ(mock.request_count(), 2);
}

TEST_F(Dialects, CountTokensIsTheGatewaysFreeEstimate) {
    start(R"("budget":{"total_tokens":1})");
    auto a = post("/v1/messages/count_tokens",
                  R"({"model":"m","messages":[{"role":"user","content":"hello"}]})", anthropic_h);
    ASSERT_TRUE(a);
    ASSERT_EQ(a->status, 200) << a->body;
    EXPECT_GT(json::parse(a->body)["input_tokens"].get<std::uint64_t>(), 0u);
    auto g = post("/v1beta/models/g:countTokens?key=vk-1", gemini_q, {});
    ASSERT_TRUE(g);
    ASSERT_EQ(g->status, 200) << g->body;
    EXPECT_EQ(json::parse(g->body)["totalTokens"].get<std::uint64_t>(), (gemini_q.size() + 3) / 4);
    EXPECT_EQ(upstream_requests().size(), 0u);
    EXPECT_EQ(spent(), 0u);
}

// A backend marked "provider": "anthropic" gets the request as the client sent it, with the
// backend's own x-api-key; its answer is relayed as is and settled at Anthropic's usage, whose
// cache counts are beside input_tokens: 10 + 4 + 2 in, 3 out.
TEST(DialectsNative, AnthropicProviderGetsTheRequestAsIsAndItsUsageCounts) {
    std::mutex mu;
    std::string seen_head;
    const std::string answer =
        R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":)"
        R"([{"type":"text","text":"native"}],"stop_reason":"end_turn","stop_sequence":null,)"
        R"("usage":{"input_tokens":10,"cache_read_input_tokens":4,)"
        R"("cache_creation_input_tokens":2,"output_tokens":3}})";
    raw_server upstream([&](int fd) {
        std::string buf;
        while (auto head = read_request(fd, buf)) {
            {
                std::lock_guard lock(mu);
                seen_head = *head;
            }
            send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(answer.size()) + "\r\n\r\n" + answer);
        }
    });
    running_gateway gw;
    gw.start(R"({"backends":[{"name":"claude","base_url":"http://127.0.0.1:)" +
                 std::to_string(upstream.port()) +
                 R"(/v1","provider":"anthropic","headers":{"x-api-key":"sk-ant-real"}}],)"
                 R"("virtual_keys":[)" +
                 virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":100000})") +
                 R"(],"router":{"default_backends":[{"backend":"claude"}]}})",
             {"--admin-token", admin});
    const std::string body =
        R"({"model":"claude-x","max_tokens":50,"messages":[{"role":"user","content":"hi"}]})";
    auto r = http_request(gw.port, "POST", "/v1/messages", body, anthropic_h);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->body, answer);
    EXPECT_FALSE(r->has_header("x-ditto-shim"));
    {
        std::lock_guard lock(mu);
        EXPECT_TRUE(seen_head.starts_with("POST /v1/messages HTTP/1.1\r\n")) << seen_head;
        EXPECT_NE(seen_head.find("x-api-key: sk-ant-real\r\n"), std::string::npos) << seen_head;
        EXPECT_EQ(seen_head.find("vk-1"), std::string::npos) << seen_head;
        EXPECT_NE(seen_head.find("anthropic-version: 2023-06-01"), std::string::npos);
        EXPECT_NE(seen_head.find("Content-Length: " + std::to_string(body.size())),
                  std::string::npos)
            << seen_head;
    }
    const auto ledger = read_token_ledger(gw.port, admin, "key-1");
    ASSERT_TRUE(ledger);
    EXPECT_EQ(ledger->spent, 19u);
}

// Issue 20 target: 300 concurrent requests of each dialect against a token budget that fits
// exactly 40 admit exactly 40 (the same number in every dialect), and the ledger is their
// summed usage. The mock is told (x-mock-usage) to report exactly the charge, ceil(client
// body bytes / 4) + 9, so every admitted request settles at what it reserved.
class DialectsExact : public Dialects, public ::testing::WithParamInterface<const char*> {};

TEST_P(DialectsExact, ABudgetAdmitsExactlyAsManyInEveryDialect) {
    const std::string dialect = GetParam();
    std::string path = "/v1/chat/completions", body = chat_q;
    headers h = json_h;
    if (dialect == "anthropic") {
        path = "/v1/messages";
        body = anthropic_q;
        h = anthropic_h;
    } else if (dialect == "gemini") {
        path = "/v1beta/models/m:generateContent";
        body = gemini_q;
        h = {{"x-goog-api-key", "vk-1"}, {"Content-Type", "application/json"}};
    }
    const std::uint64_t charge = (body.size() + 3) / 4 + 9;
    h.emplace_back("x-mock-usage", R"({"prompt_tokens":)" + std::to_string(charge - 9) +
                                       R"(,"total_tokens":)" + std::to_string(charge) + "}");
    start(R"("budget":{"total_tokens":)" + std::to_string(40 * charge) + "}", "",
          {"--workers", "2"});
    const auto statuses = concurrent_statuses(gw.port, make_request("POST", path, h, body), 300);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 40);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 402), 260);
    EXPECT_EQ(mock.request_count(), 40);
    const auto ledger = read_token_ledger(gw.port, admin, "key-1");
    ASSERT_TRUE(ledger);
    EXPECT_EQ(ledger->spent, 40 * charge);
    EXPECT_EQ(ledger->reserved, 0u);
    // The refusal is in the dialect's shape.
    auto r = post(path, body, h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 402);
    const auto err = json::parse(r->body);
    if (dialect == "anthropic") {
        EXPECT_EQ(err["error"]["type"], "billing_error") << r->body;
    } else if (dialect == "gemini") {
        EXPECT_EQ(err["error"]["code"], 402) << r->body;
    } else {
        EXPECT_EQ(err["error"]["code"], "budget_exceeded") << r->body;
    }
}

INSTANTIATE_TEST_SUITE_P(EveryDialect, DialectsExact,
                         ::testing::Values("chat", "anthropic", "gemini"));

}  // namespace
}  // namespace ditto::test
