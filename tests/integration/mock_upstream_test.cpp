// ditto-mock-upstream: the answers and fault modes later tests rely on.
#include <chrono>
#include <nlohmann/json.hpp>

#include "support/gateway_fixture.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;
using headers = std::vector<std::pair<std::string, std::string>>;

class MockUpstream : public ::testing::Test {
  protected:
    void SetUp() override { mock.start({"--workers", "2"}); }
    std::optional<http_response> post(const std::string& path, const std::string& body,
                                      headers h = {}) {
        h.emplace_back("Content-Type", "application/json");
        return http_request(mock.port, "POST", path, body, h);
    }
    running_mock mock;
};

const std::string chat_body =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})";

TEST_F(MockUpstream, ChatCompletionJsonWithUsage) {
    auto r = post("/v1/chat/completions", chat_body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("content-type"), "application/json");
    const auto prompt = (chat_body.size() + 3) / 4;
    EXPECT_NE(
        r->body.find(R"("usage":{"completion_tokens":9,"prompt_tokens":)" + std::to_string(prompt) +
                     R"(,"total_tokens":)" + std::to_string(prompt + 9) + "}"),
        std::string::npos)
        << r->body;
    EXPECT_NE(r->body.find("Hello from ditto-mock-upstream. This reply is deterministic."),
              std::string::npos);
    // Deterministic: the same request gives the same bytes.
    auto again = post("/v1/chat/completions", chat_body);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->body, r->body);
}

TEST_F(MockUpstream, ChatCompletionStreamsSseAndHonoursIncludeUsage) {
    const std::string body = R"({"model":"m","stream":true,"messages":[]})";
    auto r = post("/v1/chat/completions", body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("content-type"), "text/event-stream");
    EXPECT_TRUE(r->chunked);
    EXPECT_GE(r->chunks.size(), 12u);  // role, 9 words, finish, [DONE]
    EXPECT_EQ(r->body.find("\"usage\""), std::string::npos);
    EXPECT_EQ(r->chunks.back(), "data: [DONE]\n\n");

    auto u = post("/v1/chat/completions",
                  R"({"model":"m","stream":true,"stream_options":{"include_usage":true}})");
    ASSERT_TRUE(u);
    ASSERT_GE(u->chunks.size(), 2u);
    const auto& usage_chunk = u->chunks[u->chunks.size() - 2];
    EXPECT_NE(usage_chunk.find(R"("choices":[])"), std::string::npos) << usage_chunk;
    EXPECT_NE(usage_chunk.find(R"("completion_tokens":9)"), std::string::npos) << usage_chunk;
}

TEST_F(MockUpstream, ResponsesApiJsonAndStream) {
    auto r = post("/v1/responses", R"({"model":"m","input":"hi"})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find(R"("object":"response")"), std::string::npos);
    EXPECT_NE(r->body.find(R"("input_tokens":)"), std::string::npos);

    auto s = post("/v1/responses", R"({"model":"m","input":"hi","stream":true})");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->header("content-type"), "text/event-stream");
    EXPECT_EQ(s->chunks.front().rfind("event: response.created\n", 0), 0u);
    EXPECT_EQ(s->chunks.back().rfind("event: response.completed\n", 0), 0u);
    EXPECT_NE(s->chunks.back().find(R"("output_tokens":9)"), std::string::npos);
    EXPECT_EQ(s->body.find("[DONE]"), std::string::npos);
}

TEST_F(MockUpstream, CompletionsEmbeddingsAndModels) {
    auto c = post("/v1/completions", R"({"model":"m","prompt":"hi"})");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->status, 200);
    EXPECT_NE(c->body.find(R"("object":"text_completion")"), std::string::npos);
    auto e = post("/v1/embeddings", R"({"model":"m","input":"hi"})");
    ASSERT_TRUE(e);
    EXPECT_NE(e->body.find(R"("embedding":[0.125,-0.25,0.5,1.0])"), std::string::npos) << e->body;
    auto b64 = post("/v1/embeddings", R"({"model":"m","input":"hi","encoding_format":"base64"})");
    ASSERT_TRUE(b64);
    EXPECT_NE(b64->body.find(R"("embedding":"AAAAPgAAgL4AAAA/AACAPw==")"), std::string::npos)
        << b64->body;
    auto m = http_request(mock.port, "GET", "/v1/models");
    ASSERT_TRUE(m);
    EXPECT_NE(m->body.find(R"("id":"gpt-4o-mini")"), std::string::npos);
    auto one = http_request(mock.port, "GET", "/v1/models/claude-3.5-sonnet");
    ASSERT_TRUE(one);
    EXPECT_NE(one->body.find(R"("id":"claude-3.5-sonnet")"), std::string::npos);
    auto nf = http_request(mock.port, "GET", "/v1/nothing");
    ASSERT_TRUE(nf);
    EXPECT_EQ(nf->status, 404);
}

TEST_F(MockUpstream, ForcedStatusAndDelay) {
    auto r = post("/v1/chat/completions", chat_body,
                  {{"x-mock-status", "429"}, {"x-mock-retry-after", "2"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->header("retry-after"), "2");
    EXPECT_NE(r->body.find(R"("type":"rate_limit_error")"), std::string::npos);

    const auto start = std::chrono::steady_clock::now();
    auto d = post("/v1/chat/completions", chat_body, {{"x-mock-delay-ms", "300"}});
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 200);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
}

TEST_F(MockUpstream, ResetAfterBytesCutsTheConnection) {
    http_connection c(mock.port);
    ASSERT_TRUE(c.send(
        make_request("POST", "/v1/chat/completions",
                     {{"Content-Type", "application/json"}, {"x-mock-reset-after-bytes", "20"}},
                     R"({"model":"m","stream":true})")));
    EXPECT_FALSE(c.read_response(3s)) << "a reset stream must not parse as complete";
    EXPECT_TRUE(c.wait_closed(1s));
}

TEST_F(MockUpstream, StallAfterBytesPausesThenFinishes) {
    const auto start = std::chrono::steady_clock::now();
    auto r = post("/v1/chat/completions", chat_body,
                  {{"x-mock-stall-after-bytes", "10"}, {"x-mock-stall-ms", "400"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 400ms);
    ASSERT_GE(r->chunks.size(), 2u);
    EXPECT_EQ(r->chunks[0].size(), 10u);
    auto plain = post("/v1/chat/completions", chat_body);
    ASSERT_TRUE(plain);
    EXPECT_EQ(r->body, plain->body);  // same bytes, only delivered with a pause
}

TEST_F(MockUpstream, StreamEventsSetsTheStreamLength) {
    // x-mock-stream-events: N content events (bench/scale.sh measures cost by stream length).
    auto count = [](const std::string& body) {
        std::size_t n = 0;
        for (auto at = body.find("chat.completion.chunk"); at != std::string::npos;
             at = body.find("chat.completion.chunk", at + 1))
            ++n;
        return n;
    };
    auto r = post("/v1/chat/completions", R"({"model":"m","stream":true})",
                  {{"x-mock-stream-events", "50"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(count(r->body), 52u) << r->body;  // role, 50 content events, finish
    EXPECT_NE(r->body.find("data: [DONE]"), std::string::npos);
    auto plain = post("/v1/chat/completions", R"({"model":"m","stream":true})");
    ASSERT_TRUE(plain);
    EXPECT_EQ(count(plain->body), 11u);  // role, the reply's 9 words, finish
    auto huge = post("/v1/chat/completions", R"({"model":"m","stream":true})",
                     {{"x-mock-stream-events", "99999999999"}});
    ASSERT_TRUE(huge);
    EXPECT_EQ(count(huge->body), 10'002u);  // capped at 10,000 content events
}

TEST_F(MockUpstream, ChunkDelaySpacesSseEvents) {
    const auto start = std::chrono::steady_clock::now();
    auto r = post("/v1/chat/completions", R"({"model":"m","stream":true})",
                  {{"x-mock-chunk-delay-ms", "30"}});
    ASSERT_TRUE(r);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms * 11);
}

TEST_F(MockUpstream, RecordsWhatItReceived) {
    ASSERT_TRUE(post("/v1/embeddings", R"({"model":"m","input":"x"})",
                     {{"Authorization", "Bearer sk-upstream"}, {"X-Request-Id", "req-9"}}));
    auto rec = http_request(mock.port, "GET", "/__mock/requests");
    ASSERT_TRUE(rec);
    EXPECT_NE(rec->body.find(R"("authorization":"Bearer sk-upstream")"), std::string::npos)
        << rec->body;
    EXPECT_NE(rec->body.find(R"("x-request-id":"req-9")"), std::string::npos);
    EXPECT_NE(rec->body.find(R"("target":"/v1/embeddings")"), std::string::npos);
    EXPECT_NE(rec->body.find(R"("body":"{\"model\":\"m\",\"input\":\"x\"}")"), std::string::npos);
    auto del = http_request(mock.port, "DELETE", "/__mock/requests");
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 204);
    auto empty = http_request(mock.port, "GET", "/__mock/requests");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->body, "[]");
}

// The `data:` payloads of an SSE body, `[DONE]` left out.
std::vector<nlohmann::json> sse_events(const std::string& body) {
    std::vector<nlohmann::json> out;
    for (auto at = body.find("data: "); at != std::string::npos; at = body.find("data: ", at)) {
        at += 6;
        const auto end = body.find("\n\n", at);
        const auto data = body.substr(at, end - at);
        if (data != "[DONE]")
            out.push_back(nlohmann::json::parse(data));
    }
    return out;
}

const std::string tools_body =
    R"({"model":"m","messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function",)"
    R"("function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":)"
    R"({"type":"string"},"unit":{"type":"string","enum":["c","f"]},"days":{"type":"integer"}},)"
    R"("required":["city","unit","days"]}}},{"type":"function","function":{"name":"other"}}])";

TEST_F(MockUpstream, ToolsGetACallToTheFirstTool) {
    auto r = post("/v1/chat/completions", tools_body + "}");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    auto j = nlohmann::json::parse(r->body);
    const auto& choice = j["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "tool_calls");
    EXPECT_TRUE(choice["message"]["content"].is_null());
    const auto& call = choice["message"]["tool_calls"][0];
    EXPECT_EQ(call["id"], "call_mock");
    EXPECT_EQ(call["type"], "function");
    EXPECT_EQ(call["function"]["name"], "get_weather");
    // Each required parameter gets a value its schema accepts: strings "Paris", an enum's
    // first value, numbers 1.
    EXPECT_EQ(call["function"]["arguments"], R"({"city":"Paris","days":1,"unit":"c"})");
    EXPECT_GT(j["usage"]["completion_tokens"], 0);

    // tool_choice "none": the plain reply.
    auto none = post("/v1/chat/completions", tools_body + R"(,"tool_choice":"none"})");
    ASSERT_TRUE(none);
    EXPECT_NE(none->body.find("Hello from ditto-mock-upstream."), std::string::npos);
    EXPECT_NE(none->body.find(R"("finish_reason":"stop")"), std::string::npos);
}

TEST_F(MockUpstream, ToolCallStreamsAsOpenAiDoes) {
    auto r = post("/v1/chat/completions",
                  tools_body + R"(,"stream":true,"stream_options":{"include_usage":true}})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->chunks.back(), "data: [DONE]\n\n");
    auto events = sse_events(r->body);
    ASSERT_EQ(events.size(), 5u) << r->body;  // id+name, 2 argument pieces, finish, usage
    const auto& first = events[0]["choices"][0]["delta"];
    EXPECT_EQ(first["role"], "assistant");
    EXPECT_EQ(first["tool_calls"][0]["index"], 0);
    EXPECT_EQ(first["tool_calls"][0]["id"], "call_mock");
    EXPECT_EQ(first["tool_calls"][0]["function"]["name"], "get_weather");
    std::string args;
    for (std::size_t i = 1; i <= 2; ++i) {
        const auto& tc = events[i]["choices"][0]["delta"]["tool_calls"][0];
        EXPECT_EQ(tc["index"], 0);
        EXPECT_FALSE(tc.contains("id"));
        EXPECT_FALSE(tc["function"]["arguments"].get<std::string>().empty());
        args += tc["function"]["arguments"].get<std::string>();
    }
    EXPECT_EQ(args, R"({"city":"Paris","days":1,"unit":"c"})");
    EXPECT_EQ(events[3]["choices"][0]["finish_reason"], "tool_calls");
    EXPECT_TRUE(events[4]["choices"].empty());
    EXPECT_GT(events[4]["usage"]["completion_tokens"], 0);
}

TEST_F(MockUpstream, ToolResultIsQuotedBack) {
    // The result as a string, then as content parts (an image part among them carries no text).
    for (const std::string content :
         {R"("22C")", R"([{"type":"text","text":"22"},{"type":"image_url","image_url":)"
                      R"({"url":"data:image/png;base64,AAAA"}},{"type":"text","text":"C"}])"}) {
        const std::string body =
            R"({"model":"m","tools":[{"type":"function","function":{"name":"get_weather"}}],)"
            R"("messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":)"
            R"(null,"tool_calls":[{"id":"call_mock","type":"function","function":{"name":)"
            R"("get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_mock",)"
            R"("content":)" +
            content + "}]";
        auto r = post("/v1/chat/completions", body + "}");
        ASSERT_TRUE(r);
        auto j = nlohmann::json::parse(r->body);
        EXPECT_EQ(j["choices"][0]["message"]["content"], "Tool said: 22C") << r->body;
        EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");

        auto s = post("/v1/chat/completions", body + R"(,"stream":true})");
        ASSERT_TRUE(s);
        std::string text;
        for (const auto& ev : sse_events(s->body))
            text += ev["choices"][0]["delta"].value("content", "");
        EXPECT_EQ(text, "Tool said: 22C");
    }
}

TEST_F(MockUpstream, ImagePartsGetThePlainReply) {
    auto r =
        post("/v1/chat/completions",
             R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"what?"},)"
             R"({"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("Hello from ditto-mock-upstream."), std::string::npos);
}

TEST(MockUpstreamChatOnly, AnswersNotFoundOnResponsesAndMessages) {
    running_mock mock;
    mock.start({"--chat-only"});
    const headers json_ct{{"Content-Type", "application/json"}};
    for (const char* path : {"/v1/responses", "/v1/messages", "/v1/messages/count_tokens"}) {
        auto r = http_request(mock.port, "POST", path, R"({"model":"m","input":"hi"})", json_ct);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 404) << path;
        EXPECT_NE(r->body.find(R"("code":"unknown_url")"), std::string::npos) << r->body;
    }
    auto chat = http_request(mock.port, "POST", "/v1/chat/completions", chat_body, json_ct);
    ASSERT_TRUE(chat);
    EXPECT_EQ(chat->status, 200);
    auto models = http_request(mock.port, "GET", "/v1/models");
    ASSERT_TRUE(models);
    EXPECT_EQ(models->status, 200);
}

}  // namespace
}  // namespace ditto::test
