// Retries with an x-request-id (docs/proxy.md, "Retries with x-request-id"; acceptance scenarios
// D1-D10 of docs/testing.md) through the real gateway and mock upstream on the memory store: a
// retry gets the first answer, not a second upstream call or charge.
#include <thread>

#include "support/keyed_gateway.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

const std::string stream_body =
    R"({"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]})";

class Dedup : public KeyedGateway {
  protected:
    std::optional<http_response> send(const std::string& id, const std::string& body = chat_body,
                                      headers extra = {}) {
        extra.emplace_back("x-request-id", id);
        return post("vk-1", body, extra);
    }
    std::string budgets() {
        return http_request(gw.port, "GET", "/admin/budgets", "", {{"Authorization", "Bearer adm"}})
            ->body;
    }
};

TEST_F(Dedup, D1_ARetryIsTheFirstAnswerWithoutASecondCallOrCharge) {
    start(key("key-1", "vk-1", R"("budget":{"total_tokens":1000})"), {"--admin-token", "adm"});
    auto first = send("req-1");
    ASSERT_TRUE(first);
    ASSERT_EQ(first->status, 200) << first->body;
    EXPECT_EQ(first->header("x-ditto-request-dedup"), "leader");
    for (int i = 0; i < 3; ++i) {
        auto again = send("req-1");
        ASSERT_TRUE(again);
        EXPECT_EQ(again->status, 200);
        EXPECT_EQ(again->header("x-ditto-request-dedup"), "replay");
        EXPECT_EQ(again->header("x-request-id"), "req-1");
        EXPECT_EQ(again->header("x-ditto-backend"), "primary");
        EXPECT_EQ(again->header("content-type"), first->header("content-type"));
        EXPECT_EQ(again->body, first->body);
    }
    EXPECT_EQ(mock.request_count(), 1);
    // One charge: the mock's 28 tokens, once.
    EXPECT_NE(budgets().find(R"("key_id":"key-1","spent_tokens":28,"reserved_tokens":0)"),
              std::string::npos)
        << budgets();
    // Another id is another request; no id, no record.
    EXPECT_EQ(send("req-2")->header("x-ditto-request-dedup"), "leader");
    EXPECT_FALSE(post("vk-1")->has_header("x-ditto-request-dedup"));
    EXPECT_EQ(mock.request_count(), 3);
}

TEST_F(Dedup, D2_AStreamedAnswerIsRecordedWhileRelayedAndReplayedWhole) {
    start(key("key-1", "vk-1"));
    auto first = send("s-1", stream_body);
    ASSERT_EQ(first->status, 200);
    ASSERT_NE(first->body.find("data: [DONE]"), std::string::npos) << first->body;
    auto again = send("s-1", stream_body);
    EXPECT_EQ(again->status, 200);
    EXPECT_EQ(again->header("x-ditto-request-dedup"), "replay");
    EXPECT_EQ(again->header("content-type"), "text/event-stream");
    EXPECT_EQ(again->body, first->body);
    EXPECT_EQ(mock.request_count(), 1);
}

TEST_F(Dedup, D3_ConcurrentRetriesWaitForOneLeader) {
    start(key("key-1", "vk-1"));
    constexpr int n = 8;
    const auto answers = in_parallel(n, [&](int) {
        return send("c-1", chat_body, {{"x-mock-delay-ms", "300"}});
    });
    for (const auto& a : answers) {
        ASSERT_TRUE(a);
        EXPECT_EQ(a->status, 200) << a->body;
        EXPECT_EQ(a->body, answers[0]->body);
    }
    EXPECT_EQ(count_header(answers, "x-ditto-request-dedup", "leader"), 1);
    EXPECT_EQ(count_header(answers, "x-ditto-request-dedup", "replay"), n - 1);
    EXPECT_EQ(mock.request_count(), 1);
}

TEST_F(Dedup, D4_D5_D7_TheIdIsBoundToTheRequestButNotToItsTraceHeaders) {
    start(key("key-1", "vk-1"));
    ASSERT_EQ(send("f-1", chat_body, {{"traceparent", "00-aaaa-01"}})->status, 200);
    // D7: only the trace headers differ: the same request.
    auto traced = send("f-1", chat_body, {{"traceparent", "00-bbbb-01"}, {"tracestate", "x=1"}});
    EXPECT_EQ(traced->header("x-ditto-request-dedup"), "replay");
    // D4: another body.
    auto other = send("f-1", R"({"model":"m","max_tokens":10,"messages":[]})");
    EXPECT_EQ(other->status, 409);
    EXPECT_EQ(other->body,
              R"({"error":{"message":"x-request-id was already used for a different )"
              R"(request","type":"invalid_request_error","code":"request_id_conflict"}})");
    // D5: a header that changes the answer.
    EXPECT_EQ(send("f-1", chat_body, {{"openai-beta", "assistants=v2"}})->status, 409);
    // Another key's id space is its own.
    EXPECT_EQ(mock.request_count(), 1);
}

TEST_F(Dedup, D6_FailuresAndGatewayRefusalsAreForgottenSoARetryTriesAgain) {
    start(key("key-1", "vk-1", R"("budget":{"total_tokens":29})"));
    for (int i = 0; i < 2; ++i) {
        auto r = send("e-1", chat_body, {{"x-mock-status", "503"}});
        EXPECT_EQ(r->status, 503);
        EXPECT_EQ(r->header("x-ditto-request-dedup"), "leader");
    }
    EXPECT_EQ(mock.request_count(), 2);
    // A 429 from the upstream likewise; then the same id succeeds and is kept.
    EXPECT_EQ(send("e-2", chat_body, {{"x-mock-status", "429"}})->status, 429);
    EXPECT_EQ(send("e-2")->status, 200);
    EXPECT_EQ(send("e-2")->header("x-ditto-request-dedup"), "replay");
    // The gateway's own refusal (the budget is spent) is not an answer to keep either, and, like
    // every gateway error, carries no x-ditto-* header.
    for (int i = 0; i < 2; ++i) {
        auto r = send("e-3");
        EXPECT_EQ(r->status, 402);
        EXPECT_FALSE(r->has_header("x-ditto-request-dedup"));
    }
    EXPECT_EQ(mock.request_count(), 4);
}

TEST_F(Dedup, D8_D9_D10_AnAnswerTooLargeToKeepIsNeverSentTwice) {
    start(key("key-1", "vk-1"), {"--proxy-max-body-bytes", "4096"});
    // D8: a small chunked answer (no content-length) is kept and replayed.
    auto small =
        send("b-1", chat_body, {{"x-mock-response-bytes", "1000"}, {"x-mock-chunked", "1"}});
    ASSERT_EQ(small->status, 200);
    EXPECT_EQ(small->body.size(), 1000u);
    EXPECT_EQ(
        send("b-1", chat_body, {{"x-mock-response-bytes", "1000"}, {"x-mock-chunked", "1"}})->body,
        small->body);
    // D9: a stream over the bound is relayed whole, and its retry is refused, not sent again.
    const headers long_stream = {{"x-mock-stream-events", "200"}};
    auto streamed = send("b-2", stream_body, long_stream);
    ASSERT_EQ(streamed->status, 200);
    EXPECT_GT(streamed->body.size(), 4096u);
    EXPECT_NE(streamed->body.find("data: [DONE]"), std::string::npos);
    auto refused = send("b-2", stream_body, long_stream);
    EXPECT_EQ(refused->status, 409);
    EXPECT_NE(refused->body.find(R"("code":"request_id_replay_unavailable")"), std::string::npos)
        << refused->body;
    EXPECT_FALSE(refused->has_header("x-ditto-request-dedup"));  // a gateway error
    // D10: the same for a chunked answer.
    const headers big = {{"x-mock-response-bytes", "10000"}, {"x-mock-chunked", "1"}};
    EXPECT_EQ(send("b-3", chat_body, big)->body.size(), 10000u);
    EXPECT_EQ(send("b-3", chat_body, big)->status, 409);
    EXPECT_EQ(mock.request_count(), 3);
}

TEST_F(Dedup, ARetryWaitsNoLongerThanItsOwnRequestCould) {
    // timeout_seconds 1: a stream of 9 events 400 ms apart (no gap over the timeout) outlasts it.
    start(key("key-1", "vk-1"), {}, R"(,"timeout_seconds":1)");
    const headers slow = {{"x-mock-chunk-delay-ms", "400"}};
    std::optional<http_response> first;
    std::thread leader([&] { first = send("w-1", stream_body, slow); });
    std::this_thread::sleep_for(300ms);  // the leader holds the record by now (its head is sent)
    const auto t0 = std::chrono::steady_clock::now();
    auto waited = send("w-1", stream_body, slow);
    const auto took = std::chrono::steady_clock::now() - t0;
    leader.join();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 200);
    ASSERT_TRUE(waited);
    EXPECT_EQ(waited->status, 409);
    EXPECT_NE(waited->body.find(R"("code":"request_id_in_flight")"), std::string::npos);
    EXPECT_EQ(waited->header("retry-after"), "1");
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 2500ms);
    // Once the leader is done, the retry is its answer.
    auto replay = send("w-1", stream_body, slow);
    EXPECT_EQ(replay->header("x-ditto-request-dedup"), "replay");
    EXPECT_EQ(replay->body, first->body);
    EXPECT_EQ(mock.request_count(), 1);
}

TEST_F(Dedup, ACacheHitIsKeptForReplayWholeAndReplaysCountInRpm) {
    start(key("key-1", "vk-1", R"("limits":{"rpm":3})"), {"--proxy-cache"});
    ASSERT_EQ(send("h-0")->status, 200);  // a miss, now cached
    auto hit = send("h-1");
    ASSERT_EQ(hit->status, 200);
    EXPECT_EQ(hit->header("x-ditto-cache"), "hit");
    EXPECT_EQ(hit->header("x-ditto-request-dedup"), "leader");
    auto again = send("h-1");
    EXPECT_EQ(again->header("x-ditto-request-dedup"), "replay");
    EXPECT_EQ(again->header("content-type"), hit->header("content-type"));
    EXPECT_EQ(again->body, hit->body);
    EXPECT_FALSE(again->body.empty());
    // Three requests in the minute: the fourth, a replay too, is refused by the key's rpm.
    auto limited = send("h-1");
    EXPECT_EQ(limited->status, 429);
    EXPECT_NE(limited->body.find(R"("code":"rate_limited")"), std::string::npos) << limited->body;
    EXPECT_EQ(mock.request_count(), 1);
}

TEST_F(Dedup, ABlankIdIsNoIdAndAReplayedGatewayErrorIsInTheClientsDialect) {
    start(key("key-1", "vk-1"), {"--proxy-max-body-bytes", "4096"});
    for (int i = 0; i < 2; ++i)
        EXPECT_FALSE(send("  ")->has_header("x-ditto-request-dedup"));
    // An Anthropic stream (translated from the upstream's chat stream) over the bound.
    const std::string msg = R"({"model":"m","max_tokens":10,"stream":true,)"
                            R"("messages":[{"role":"user","content":"hi"}]})";
    const headers big = {{"x-request-id", "ab-1"},
                         {"anthropic-version", "2023-06-01"},
                         {"x-mock-stream-events", "200"}};
    auto first = post("vk-1", msg, big, "/v1/messages");
    EXPECT_EQ(first->status, 200);
    EXPECT_GT(first->body.size(), 4096u);
    EXPECT_NE(first->body.find("message_stop"), std::string::npos);
    auto refused = post("vk-1", msg, big, "/v1/messages");
    EXPECT_EQ(refused->status, 409);
    EXPECT_NE(refused->body.find(R"({"type":"error","error":{"type":"invalid_request_error",)"),
              std::string::npos)
        << refused->body;
    EXPECT_NE(refused->body.find(R"("code":"request_id_replay_unavailable")"), std::string::npos);
    EXPECT_EQ(mock.request_count(), 3);
}

TEST_F(Dedup, ReplayTtlZeroTurnsReplayOff) {
    start(key("key-1", "vk-1"), {"--proxy-replay-ttl", "0"});
    for (int i = 0; i < 2; ++i) {
        auto r = send("z-1");
        EXPECT_EQ(r->status, 200);
        EXPECT_FALSE(r->has_header("x-ditto-request-dedup"));
        EXPECT_EQ(r->header("x-request-id"), "z-1");
    }
    EXPECT_EQ(mock.request_count(), 2);
}

TEST_F(Dedup, ErrorsAreInTheClientsDialectAndSafeMethodsAreNeverRecorded) {
    start(key("key-1", "vk-1"));
    const std::string msg =
        R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})";
    const headers anthropic = {{"x-request-id", "a-1"}, {"anthropic-version", "2023-06-01"}};
    auto first = post("vk-1", msg, anthropic, "/v1/messages");
    ASSERT_EQ(first->status, 200) << first->body;
    auto again = post("vk-1", msg, anthropic, "/v1/messages");
    EXPECT_EQ(again->header("x-ditto-request-dedup"), "replay");
    EXPECT_EQ(again->body, first->body);
    auto conflict =
        post("vk-1", R"({"model":"m","max_tokens":11,"messages":[{"role":"user","content":"hi"}]})",
             anthropic, "/v1/messages");
    EXPECT_EQ(conflict->status, 409);
    EXPECT_EQ(conflict->body,
              R"({"type":"error","error":{"type":"invalid_request_error","message":"x-request-id )"
              R"(was already used for a different request","code":"request_id_conflict"}})");
    for (int i = 0; i < 2; ++i) {
        auto r = http_request(gw.port, "GET", "/v1/models/m", "",
                              {{"Authorization", "Bearer vk-1"}, {"x-request-id", "g-1"}});
        EXPECT_EQ(r->status, 200);
        EXPECT_FALSE(r->has_header("x-ditto-request-dedup"));
    }
    EXPECT_EQ(mock.request_count(), 3);
}

}  // namespace
}  // namespace ditto::test
