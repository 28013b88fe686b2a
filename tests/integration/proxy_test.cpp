// The /v1/* proxy end to end: the real gateway in front of real mock upstream processes.
// Scenario ids (P1, R7, …) are the acceptance scenarios of docs/testing.md.
#include <chrono>
#include <cstdio>
#include <thread>

#include "support/gateway_fixture.hpp"
#include "support/inspect.hpp"
#include "support/wait.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;
using headers = std::vector<std::pair<std::string, std::string>>;

struct backend_spec {
    std::string name;
    std::string base_url;
    std::string extra;  // more JSON members, e.g. R"("timeout_seconds": 1)"
};

std::string key_json(const std::string& id, const std::string& token, const std::string& extra = "",
                     bool enabled = true) {
    return R"({"id":")" + id + R"(","token":")" + token + R"(","enabled":)" +
           (enabled ? "true" : "false") +
           R"(,"limits":{},"budget":{},"cache":{"enabled":false},)"
           R"("guardrails":{},"passthrough":{"allow":false,"bypass_cache":false})" +
           (extra.empty() ? "" : "," + extra) + "}";
}

std::string config_json(const std::vector<backend_spec>& backends, const std::string& keys,
                        const std::string& router) {
    std::string b = "[";
    for (std::size_t i = 0; i < backends.size(); ++i) {
        if (i)
            b += ",";
        b += R"({"name":")" + backends[i].name + R"(","base_url":")" + backends[i].base_url +
             R"(","headers":{"authorization":"Bearer sk-test"})" +
             (backends[i].extra.empty() ? "" : "," + backends[i].extra) + "}";
    }
    b += "]";
    return R"({"backends":)" + b + R"(,"virtual_keys":[)" + keys + R"(],"router":)" + router + "}";
}

std::string url_of(const running_mock& m) {
    return "http://127.0.0.1:" + std::to_string(m.port) + "/v1";
}

const std::string chat = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})";
const headers auth_json = {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}};

std::string recorded(const running_mock& m) {
    auto r = http_request(m.port, "GET", "/__mock/requests");
    return r ? r->body : "";
}

int recorded_count(const running_mock& m) {
    const auto body = recorded(m);
    int n = 0;
    for (std::size_t pos = body.find(R"("seq":)"); pos != std::string::npos;
         pos = body.find(R"("seq":)", pos + 1)) {
        ++n;
    }
    return n;
}

// One gateway in front of one mock: most scenarios need nothing more.
class Proxy : public ::testing::Test {
  protected:
    void start(const std::string& backend_extra = "", const std::vector<std::string>& args = {},
               const std::string& key_extra = "") {
        mock.start();
        gw.start(config_json({{"primary", url_of(mock), backend_extra}},
                             key_json("key-1", "vk-1", key_extra),
                             R"({"default_backends":[{"backend":"primary"}]})"),
                 args);
    }
    std::optional<http_response> post(const std::string& path, const std::string& body,
                                      headers h = auth_json) {
        return http_request(gw.port, "POST", path, body, h);
    }
    running_mock mock;
    running_gateway gw;
};

TEST_F(Proxy, P1_ForwardsRequestIdAndBackendAuthAndRelaysTheBody) {
    start();
    auto h = auth_json;
    h.emplace_back("x-request-id", "req-1");
    auto r = post("/v1/chat/completions", chat, h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-ditto-request-id"), "req-1");
    EXPECT_EQ(r->header("x-request-id"), "req-1");
    EXPECT_EQ(r->header("x-ditto-backend"), "primary");
    auto direct = http_request(mock.port, "POST", "/v1/chat/completions", chat,
                               {{"Content-Type", "application/json"}});
    ASSERT_TRUE(direct);
    EXPECT_EQ(r->body, direct->body);  // byte-identical to the upstream's answer
    const auto rec = recorded(mock);
    EXPECT_NE(rec.find(R"("x-request-id":"req-1")"), std::string::npos) << rec;
    EXPECT_NE(rec.find(R"("authorization":"Bearer sk-test")"), std::string::npos) << rec;
    EXPECT_EQ(rec.find("vk-1"), std::string::npos) << "the virtual key must not leak upstream";
}

TEST_F(Proxy, P3_AliasesGainTheV1Prefix) {
    start();
    auto r = post("/chat/completions", chat);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(recorded(mock).find(R"("target":"/v1/chat/completions")"), std::string::npos);
    auto e = post("/embeddings", R"({"model":"m","input":"x"})");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 200);
}

TEST_F(Proxy, P4_P5_AlternativeKeyHeadersAuthenticateAndNeverReachTheUpstream) {
    start();
    const std::vector<headers> ways = {
        {{"x-api-key", "vk-1"}},
        {{"x-litellm-api-key", "Bearer vk-1"}},
        {{"x-litellm-api-key", "vk-1"}},
        {{"x-ditto-virtual-key", "vk-1"}},
        {{"Authorization", "bearer vk-1"}},
    };
    for (auto h : ways) {
        h.emplace_back("Content-Type", "application/json");
        auto r = post("/v1/chat/completions", chat, h);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << h[0].first;
    }
    const auto rec = recorded(mock);
    for (auto name : {"x-api-key", "x-litellm-api-key", "x-ditto-virtual-key"}) {
        EXPECT_EQ(rec.find(std::string("\"") + name + "\""), std::string::npos) << name;
    }
    EXPECT_EQ(rec.find("vk-1"), std::string::npos);
}

TEST_F(Proxy, V1_AuthFailures) {
    start();
    auto none = post("/v1/chat/completions", chat, {{"Content-Type", "application/json"}});
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401);
    EXPECT_EQ(none->body,
              R"({"error":{"message":"missing virtual key","type":"authentication_error",)"
              R"("code":"invalid_api_key"}})");
    EXPECT_FALSE(none->has_header("x-ditto-backend"));
    auto bad = post("/v1/chat/completions", chat, {{"Authorization", "Bearer nope"}});
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 401);
    EXPECT_NE(bad->body.find("unauthorized virtual key"), std::string::npos);
    // A scheme other than Bearer presents no key; later headers are not tried.
    auto basic = post("/v1/chat/completions", chat,
                      {{"Authorization", "Basic dms="}, {"x-api-key", "vk-1"}});
    ASSERT_TRUE(basic);
    EXPECT_EQ(basic->status, 401);
    EXPECT_EQ(recorded_count(mock), 0);
}

TEST(ProxyAuth, DisabledKeyAndNoKeysAreRejected_V19_V20) {
    running_mock mock;
    mock.start();
    running_gateway gw;
    gw.start(config_json({{"primary", url_of(mock), ""}}, key_json("key-1", "vk-1", "", false),
                         R"({"default_backends":[{"backend":"primary"}]})"));
    auto d = http_request(gw.port, "POST", "/v1/chat/completions", chat, auth_json);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 401);
    EXPECT_NE(d->body.find("virtual key disabled"), std::string::npos) << d->body;

    running_gateway empty;
    empty.start(config_json({{"primary", url_of(mock), ""}}, "",
                            R"({"default_backends":[{"backend":"primary"}]})"));
    for (auto h : {headers{}, headers{{"Authorization", "Bearer sk-client"}}}) {
        auto r = http_request(empty.port, "POST", "/v1/chat/completions", chat, h);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 401);
    }
    EXPECT_EQ(recorded_count(mock), 0);
}

TEST_F(Proxy, P6_BackendQueryParamsAreAppended) {
    start(R"("query_params":{"api-version":" 2024-06-01 ","":"dropped"})");
    auto r = post("/v1/chat/completions?trace=1", chat);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(
        recorded(mock).find(R"("target":"/v1/chat/completions?trace=1&api-version=2024-06-01")"),
        std::string::npos)
        << recorded(mock);
}

TEST_F(Proxy, P7_P8_ModelMapRewritesOnlyTheModel) {
    start(R"("model_map":{"gpt-4o-mini":"upstream-mini","*":"fallback-model"})");
    auto r = post("/v1/chat/completions", chat);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    auto any = post("/v1/chat/completions", R"({"messages":[],"model":"other","temperature":0.5})");
    ASSERT_TRUE(any);
    const auto rec = recorded(mock);
    EXPECT_NE(rec.find(R"(\"model\":\"upstream-mini\",\"messages\")"), std::string::npos) << rec;
    // Every other byte is as the client sent it.
    EXPECT_NE(rec.find(R"({\"messages\":[],\"model\":\"fallback-model\",\"temperature\":0.5})"),
              std::string::npos)
        << rec;
}

TEST_F(Proxy, InvalidJsonAndOversizeBodies) {
    start("", {"--proxy-max-body-bytes", "1000"});
    auto bad = post("/v1/chat/completions", "{\"model\":");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    EXPECT_NE(bad->body.find(R"("code":"invalid_json")"), std::string::npos);
    // A number no double can hold: nlohmann and the config reader refuse it, so does the proxy.
    auto huge = post("/v1/chat/completions", R"({"model":"m","temperature":1e400})");
    ASSERT_TRUE(huge);
    EXPECT_EQ(huge->status, 400);
    EXPECT_NE(huge->body.find(R"("code":"invalid_json")"), std::string::npos);
    auto big = post("/v1/chat/completions", std::string(2000, ' '));
    ASSERT_TRUE(big);
    EXPECT_EQ(big->status, 413);
    EXPECT_NE(big->body.find(R"("code":"request_too_large")"), std::string::npos);
    EXPECT_EQ(recorded_count(mock), 0);
}

TEST_F(Proxy, MalformedTokenLimitsAreRefusedBeforeTheUpstream) {
    // Issue 19 item 6: these were read as "unset", so the gateway reserved the default output
    // while a lenient upstream might honour "99999" or 1e18. Each is now a 400 naming the field.
    start();
    const std::pair<const char*, const char*> cases[] = {
        {R"("99999")", "invalid_type"},
        {"true", "invalid_type"},
        {"1.5", "invalid_type"},
        {"1e18", "invalid_type"},
        {"[1]", "invalid_type"},
        {"-1", "integer_below_min_value"},
        {"0", "integer_below_min_value"},
        {"16777217", "integer_above_max_value"},
        {"18446744073709551616", "integer_above_max_value"},
    };
    for (const char* field : {"max_tokens", "max_completion_tokens", "max_output_tokens"}) {
        for (const auto& [value, code] : cases) {
            for (const char* path : {"/v1/chat/completions", "/v1/responses"}) {
                const std::string body = std::string(R"({"model":"m",")") + field + "\":" + value +
                                         R"(,"messages":[],"input":"hi"})";
                auto r = post(path, body);
                ASSERT_TRUE(r);
                EXPECT_EQ(r->status, 400) << body;
                EXPECT_NE(r->body.find(R"("type":"invalid_request_error","param":")" +
                                       std::string(field) + R"(","code":")" + code + "\""),
                          std::string::npos)
                    << body << " -> " << r->body;
                EXPECT_NE(r->body.find("'" + std::string(field) + "'"), std::string::npos)
                    << r->body;
            }
        }
    }
    auto text = post("/v1/chat/completions", R"({"model":"m","max_tokens":"99999"})");
    EXPECT_EQ(text->body, R"({"error":{"message":"Invalid type for 'max_tokens': expected an )"
                          R"(integer, but got a string instead.","type":"invalid_request_error",)"
                          R"("param":"max_tokens","code":"invalid_type"}})");
    EXPECT_EQ(recorded_count(mock), 0);
    // null is "unset", as OpenAI takes it; the largest accepted value goes through too.
    EXPECT_EQ(
        post("/v1/chat/completions", R"({"model":"m","max_tokens":null,"messages":[]})")->status,
        200);
    EXPECT_EQ(post("/v1/chat/completions", R"({"model":"m","max_tokens":16777216,"messages":[]})")
                  ->status,
              200);
    EXPECT_EQ(recorded_count(mock), 2);
}

// Two requests that overlap at a slow upstream: the first is in flight when the second
// arrives. Returns {first, second}.
std::pair<std::optional<http_response>, std::optional<http_response>> overlapping(int port) {
    auto h = auth_json;
    h.emplace_back("x-mock-delay-ms", "400");
    http_connection a(port), b(port);
    a.send(make_request("POST", "/v1/chat/completions", h, chat));
    std::this_thread::sleep_for(100ms);
    b.send(make_request("POST", "/v1/chat/completions", h, chat));
    auto rb = b.read_response();
    auto ra = a.read_response();
    return {ra, rb};
}

TEST_F(Proxy, P9_GlobalInFlightLimit) {
    start("", {"--proxy-max-in-flight", "1"});
    auto [ra, rb] = overlapping(gw.port);
    ASSERT_TRUE(ra && rb);
    EXPECT_EQ(ra->status, 200);
    EXPECT_EQ(rb->status, 429);
    EXPECT_NE(rb->body.find(R"("code":"inflight_limit")"), std::string::npos);
    EXPECT_EQ(recorded_count(mock), 1);
    // The permit is released with the response, once it has been written: the next request
    // goes through. One sent the moment the client has the last byte can still find it held
    // (the gateway has not yet seen its write complete; this failed once under ctest -j2), so
    // the check allows that moment.
    int status = 0;
    const bool released = eventually(
        [&] {
            auto again = post("/v1/chat/completions", chat);
            status = again ? again->status : 0;
            return status == 200;
        },
        1s, 10ms);
    EXPECT_TRUE(released) << "still " << status << " a second after the response";
}

TEST_F(Proxy, P10_BackendInFlightLimit) {
    start(R"("max_in_flight":1)");
    auto [ra, rb] = overlapping(gw.port);
    ASSERT_TRUE(ra && rb);
    EXPECT_EQ(ra->status, 200);
    EXPECT_EQ(rb->status, 429);
    EXPECT_NE(rb->body.find("too many in-flight proxy requests for backend primary"),
              std::string::npos);
    EXPECT_EQ(recorded_count(mock), 1);
}

TEST_F(Proxy, P11_UpstreamThatNeverAnswersIs504WithinTheTimeout) {
    start(R"("timeout_seconds":1)");
    auto h = auth_json;
    h.emplace_back("x-mock-delay-ms", "5000");
    const auto t0 = std::chrono::steady_clock::now();
    auto r = post("/v1/chat/completions", chat, h);
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 504);
    EXPECT_NE(r->body.find(R"("code":"backend_timeout")"), std::string::npos);
    EXPECT_FALSE(r->has_header("x-ditto-backend"));
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 3s);
}

TEST_F(Proxy, TimeoutBoundsGapsNotWholeStreams) {
    start(R"("timeout_seconds":1)");
    auto h = auth_json;
    h.emplace_back("x-mock-chunk-delay-ms", "300");  // 12 events × 0.3 s = 3.6 s in all
    auto r = post("/v1/chat/completions", R"({"model":"m","stream":true})", h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->chunks.back(), "data: [DONE]\n\n");

    auto stall = auth_json;
    stall.emplace_back("x-mock-stall-after-bytes", "50");
    stall.emplace_back("x-mock-stall-ms", "3000");
    http_connection c(gw.port);
    ASSERT_TRUE(c.send(
        make_request("POST", "/v1/chat/completions", stall, R"({"model":"m","stream":true})")));
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(c.read_response(5s)) << "a stalled stream is cut, not reported complete";
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);
}

TEST_F(Proxy, P15_SseRelayedByteExact) {
    start();
    const std::string body =
        R"({"model":"m","stream":true,"stream_options":{"include_usage":true}})";
    auto r = post("/v1/chat/completions", body);
    ASSERT_TRUE(r);
    auto direct = http_request(mock.port, "POST", "/v1/chat/completions", body,
                               {{"Content-Type", "application/json"}});
    ASSERT_TRUE(direct);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("content-type"), "text/event-stream");
    EXPECT_TRUE(r->chunked);
    EXPECT_FALSE(r->has_header("content-length"));
    EXPECT_EQ(r->body, direct->body);
}

// A streamed body is read from the upstream in reads that grow while they come back full (to
// 64 KiB), and each read is relayed as one chunk: a megabyte that is already waiting arrives
// in tens of chunks. Reads that stayed at the connection buffer's first size (~512 bytes)
// made it about two thousand.
TEST_F(Proxy, AStreamedBodyIsReadInGrowingPieces) {
    start();
    auto h = auth_json;
    h.emplace_back("x-mock-response-bytes", "1048576");
    h.emplace_back("x-mock-chunked", "1");
    auto r = http_request(gw.port, "GET", "/v1/models/big", "", h, 20s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, std::string(1048576, 'x'));
    ASSERT_TRUE(r->chunked);
    EXPECT_LT(r->chunks.size(), 200u);
}

TEST_F(Proxy, Http10ClientsGetAStreamEndedByClose) {
    start();
    const std::string body = R"({"model":"m","stream":true})";
    http_connection c(gw.port);
    ASSERT_TRUE(
        c.send("POST /v1/chat/completions HTTP/1.0\r\nAuthorization: Bearer vk-1\r\n"
               "Content-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(r->chunked) << "HTTP/1.0 has no chunked coding";
    EXPECT_FALSE(r->has_header("transfer-encoding"));
    auto direct = http_request(mock.port, "POST", "/v1/chat/completions", body,
                               {{"Content-Type", "application/json"}});
    ASSERT_TRUE(direct);
    EXPECT_EQ(r->body, direct->body);
}

TEST_F(Proxy, ClientDisconnectMidStreamCancelsTheUpstream) {
    start();
    auto h = auth_json;
    h.emplace_back("x-mock-chunk-delay-ms", "150");
    {
        http_connection c(gw.port);
        ASSERT_TRUE(c.send(
            make_request("POST", "/v1/chat/completions", h, R"({"model":"m","stream":true})")));
        std::this_thread::sleep_for(400ms);  // a few events through, then hang up
    }
    bool aborted = false;
    for (int i = 0; i < 100 && !aborted; ++i) {
        auto st = http_request(mock.port, "GET", "/__mock/stats");
        aborted = st && st->body.find(R"("aborted_streams":1)") != std::string::npos;
        if (!aborted)
            std::this_thread::sleep_for(30ms);
    }
    EXPECT_TRUE(aborted) << "the upstream stream must be abandoned when the client leaves";
    auto next = post("/v1/chat/completions", chat);
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
}

TEST_F(Proxy, UpstreamResetMidStreamAbortsTheClientAndTheGatewayStaysUp) {
    start();
    auto h = auth_json;
    h.emplace_back("x-mock-reset-after-bytes", "120");
    http_connection c(gw.port);
    ASSERT_TRUE(
        c.send(make_request("POST", "/v1/chat/completions", h, R"({"model":"m","stream":true})")));
    EXPECT_FALSE(c.read_response(3s));
    EXPECT_TRUE(c.wait_closed(2s));
    auto next = post("/v1/chat/completions", chat);
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
}

TEST_F(Proxy, HopByHopAndCredentialHeadersStayHere) {
    start();
    auto h = auth_json;
    h.emplace_back("Connection", "keep-alive, x-private-hop");
    h.emplace_back("x-private-hop", "1");
    h.emplace_back("Keep-Alive", "timeout=5");
    h.emplace_back("TE", "trailers");
    h.emplace_back("Proxy-Authorization", "Basic eA==");
    h.emplace_back("X-Forwarded-Authorization", "Bearer z");
    h.emplace_back("OpenAI-Beta", "assistants=v2");
    auto r = post("/v1/chat/completions", chat, h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    const auto rec = recorded(mock);
    for (auto name : {"x-private-hop", "keep-alive", "\"te\"", "proxy-authorization",
                      "x-forwarded-authorization"}) {
        EXPECT_EQ(rec.find(name), std::string::npos) << name << " in " << rec;
    }
    EXPECT_NE(rec.find(R"("openai-beta":"assistants=v2")"), std::string::npos);
}

TEST_F(Proxy, LargeBodiesStreamThroughInBoundedMemory) {
    start("", {"--proxy-max-body-bytes", "1048576", "--workers", "1"});
    const long before = proc_status_kb(gw.proc.pid(), "VmHWM");
    // 20 MB multipart upload: over the body limit, so it streams to the upstream.
    const std::string boundary = "XyZ";
    const std::size_t size = 20 * 1000 * 1000;
    std::string head =
        "--" + boundary +
        "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jsonl\"\r\n\r\n";
    std::string tail = "\r\n--" + boundary + "--\r\n";
    http_connection c(gw.port);
    ASSERT_TRUE(c.send(
        "POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer vk-1\r\n"
        "Content-Type: multipart/form-data; boundary=" +
        boundary + "\r\nContent-Length: " + std::to_string(head.size() + size + tail.size()) +
        "\r\n\r\n" + head));
    const std::string block(1 << 16, 'a');
    for (std::size_t sent = 0; sent < size; sent += block.size()) {
        ASSERT_TRUE(c.send(std::string_view(block).substr(0, std::min(block.size(), size - sent))));
    }
    ASSERT_TRUE(c.send(tail));
    auto up = c.read_response(20s);
    ASSERT_TRUE(up);
    EXPECT_EQ(up->status, 200) << up->body;
    EXPECT_NE(up->body.find(R"("bytes":)" + std::to_string(head.size() + size + tail.size())),
              std::string::npos)
        << up->body;

    // 20 MB response: relayed piece by piece with its Content-Length.
    auto h = auth_json;
    h.emplace_back("x-mock-response-bytes", std::to_string(size));
    auto down = http_request(gw.port, "GET", "/v1/models/big", "", h, 20s);
    ASSERT_TRUE(down);
    EXPECT_EQ(down->status, 200);
    EXPECT_EQ(down->header("content-length"), std::to_string(size));
    EXPECT_EQ(down->body.size(), size);
    const long after = proc_status_kb(gw.proc.pid(), "VmHWM");
    std::printf("gateway peak RSS %ld kB -> %ld kB\n", before, after);
    ASSERT_GT(before, 0);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // Sanitizer allocators keep freed blocks and shadow memory: RSS says nothing there. The
    // byte counts above are still checked; the memory bound is checked in normal builds.
    GTEST_SKIP() << "peak RSS is not meaningful under a sanitizer";
#endif
    // Neither 20 MB body was ever held whole (that alone would add 20 000 kB).
    EXPECT_LT(after - before, 12000) << "peak RSS grew from " << before << " to " << after;
}

// Two upstreams: routing, fail-over and the models aggregator.
class ProxyTwoBackends : public ::testing::Test {
  protected:
    void start(const std::string& primary_url, const std::string& router,
               const std::string& primary_extra = "", const std::string& secondary_extra = "") {
        secondary.start();
        gw.start(config_json({{"primary", primary_url, primary_extra},
                              {"secondary", url_of(secondary), secondary_extra}},
                             key_json("key-1", "vk-1"), router));
    }
    running_mock primary;
    running_mock secondary;
    running_gateway gw;
};

// Weighted so that primary is first for every request id (the pick is seeded by the id):
// the chance of secondary first is 1e-12.
const std::string both = R"({"default_backends":[{"backend":"primary","weight":1000000},)"
                         R"({"backend":"secondary","weight":0.000001}]})";

TEST_F(ProxyTwoBackends, R1_PrefixRuleRoutesToItsBackendOnly) {
    primary.start();
    start(
        url_of(primary),
        R"({"default_backends":[{"backend":"secondary"}],"rules":[{"model_prefix":"gpt-","backend":"primary"}]})");
    auto r = http_request(gw.port, "POST", "/v1/chat/completions", chat, auth_json);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("x-ditto-backend"), "primary");
    auto other = http_request(gw.port, "POST", "/v1/chat/completions",
                              R"({"model":"llama-3","messages":[]})", auth_json);
    ASSERT_TRUE(other);
    EXPECT_EQ(other->header("x-ditto-backend"), "secondary");
    EXPECT_EQ(recorded_count(primary), 1);
    EXPECT_EQ(recorded_count(secondary), 1);
}

TEST_F(ProxyTwoBackends, R7_ConnectFailureFallsBackEvenForPost) {
    start("http://127.0.0.1:1/v1", both);  // nothing listens on port 1
    auto r = http_request(gw.port, "POST", "/v1/chat/completions", chat, auth_json);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-ditto-backend"), "secondary");
    EXPECT_TRUE(gw.proc.wait_for_stderr("proxy.fallback", 1s)) << "primary was tried first";
}

// Each attempt borrows the client's body (docs/architecture.md): a backend's model_map rewrite
// stays in its own attempt, and the next backend gets the body exactly as the client sent it.
TEST_F(ProxyTwoBackends, EachAttemptSendsTheClientsBodyWithItsOwnModelMap) {
    primary.start();
    secondary.start();
    gw.start(config_json({{"primary", url_of(primary),
                           R"("model_map":{"gpt-4o-mini":"mapped-mini"},)"
                           R"("headers":{"x-mock-status":"503"})"},
                          {"secondary", url_of(secondary), ""}},
                         key_json("key-1", "vk-1"), both),
             {"--proxy-fallback-status-codes", "503"});
    auto h = auth_json;
    h.emplace_back("x-request-id", "borrowed-body-1");
    auto r = http_request(gw.port, "POST", "/v1/chat/completions", chat, h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->header("x-ditto-backend"), "secondary");
    const auto first = recorded(primary);
    EXPECT_NE(first.find(R"(\"model\":\"mapped-mini\")"), std::string::npos) << first;
    // The mock records each body as a JSON string: quotes escaped, nothing else in `chat`.
    std::string as_recorded = R"("body":")";
    for (char c : chat)
        as_recorded += c == '"' ? std::string(R"(\")") : std::string(1, c);
    as_recorded += '"';
    EXPECT_EQ(recorded_count(secondary), 1);
    const auto second = recorded(secondary);
    EXPECT_NE(second.find(as_recorded), std::string::npos) << second;
}

TEST_F(ProxyTwoBackends, R9_R10_TimeoutFailsOverOnlyWithAClientRequestId) {
    primary.start();
    start(url_of(primary), both, R"("timeout_seconds":1,"headers":{"x-mock-delay-ms":"3000"})");
    auto no_id = http_request(gw.port, "POST", "/v1/chat/completions", chat, auth_json);
    ASSERT_TRUE(no_id);
    EXPECT_EQ(no_id->status, 504);
    EXPECT_FALSE(no_id->has_header("x-ditto-backend"));
    EXPECT_EQ(recorded_count(secondary), 0);

    auto h = auth_json;
    h.emplace_back("x-request-id", "retry-safe-1");
    auto with_id = http_request(gw.port, "POST", "/v1/chat/completions", chat, h);
    ASSERT_TRUE(with_id);
    EXPECT_EQ(with_id->status, 200);
    EXPECT_EQ(with_id->header("x-ditto-backend"), "secondary");
    EXPECT_EQ(recorded_count(primary), 2);
}

TEST_F(ProxyTwoBackends, M1_M2_ModelsAreMergedAndOversizeListsSkipped) {
    primary.start();
    // primary answers last, yet its list comes first: the merge follows backend names,
    // not the order the answers arrived in.
    start(url_of(primary), both, R"("headers":{"x-mock-models":"a,b","x-mock-delay-ms":"300"})",
          R"("headers":{"x-mock-models":"b,c"})");
    auto r = http_request(gw.port, "GET", "/v1/models", "", {{"Authorization", "Bearer vk-1"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.find(R"({"object":"list","data":[{)"), 0u) << r->body;
    const auto a = r->body.find(R"("id":"a")");
    const auto b = r->body.find(R"("id":"b")");
    const auto c = r->body.find(R"("id":"c")");
    ASSERT_NE(a, std::string::npos);
    ASSERT_NE(b, std::string::npos);
    ASSERT_NE(c, std::string::npos);
    EXPECT_LT(a, b);
    EXPECT_LT(b, c);
    EXPECT_EQ(r->body.find(R"("id":"b")", b + 1), std::string::npos) << "b once";
    auto alias = http_request(gw.port, "GET", "/models", "", {{"x-api-key", "vk-1"}});
    ASSERT_TRUE(alias);
    EXPECT_EQ(alias->body, r->body);
    auto post_models = http_request(gw.port, "POST", "/v1/models", "{}", auth_json);
    ASSERT_TRUE(post_models);
    EXPECT_EQ(post_models->status, 405);
}

TEST(ProxyModels, BackendsAreAskedAtTheSameTime) {
    running_mock slow1, slow2;
    slow1.start();
    slow2.start();
    running_gateway gw;
    gw.start(config_json({{"a", url_of(slow1), R"("headers":{"x-mock-delay-ms":"1500"})"},
                          {"b", url_of(slow2), R"("headers":{"x-mock-delay-ms":"1500"})"}},
                         key_json("key-1", "vk-1"), R"({"default_backends":[{"backend":"a"}]})"));
    const auto t0 = std::chrono::steady_clock::now();
    auto r = http_request(gw.port, "GET", "/v1/models", "", {{"Authorization", "Bearer vk-1"}});
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    // One after the other would take 3 s.
    EXPECT_LT(took, 2600ms);
}

TEST(ProxyModels, M2_OversizeModelListIsSkipped) {
    running_mock big, small;
    big.start();
    small.start();
    running_gateway gw;
    gw.start(config_json({{"big", url_of(big), R"("headers":{"x-mock-response-bytes":"5000000"})"},
                          {"small", url_of(small), R"("headers":{"x-mock-models":"only"})"}},
                         key_json("key-1", "vk-1"),
                         R"({"default_backends":[{"backend":"small"}]})"));
    auto r = http_request(gw.port, "GET", "/v1/models", "", {{"Authorization", "Bearer vk-1"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"object":"list","data":[{"created":1700000000,"id":"only",)"
                       R"("object":"model","owned_by":"ditto-mock"}]})");
}

TEST_F(ProxyTwoBackends, M3_ModelByIdIsRoutedByItsId) {
    primary.start();
    start(
        url_of(primary),
        R"({"default_backends":[{"backend":"primary"}],"rules":[{"model_prefix":"claude-","backend":"secondary"}]})");
    auto r = http_request(gw.port, "GET", "/v1/models/claude-3.5-sonnet", "",
                          {{"Authorization", "Bearer vk-1"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-ditto-backend"), "secondary");
    EXPECT_NE(r->body.find(R"("id":"claude-3.5-sonnet")"), std::string::npos);
}

TEST_F(ProxyTwoBackends, KeyRoutePinsOneBackend) {
    primary.start();
    secondary.start();
    gw.start(config_json({{"primary", url_of(primary), ""}, {"secondary", url_of(secondary), ""}},
                         key_json("key-1", "vk-1", R"("route":"secondary")"), both));
    auto r = http_request(gw.port, "POST", "/v1/chat/completions", chat, auth_json);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("x-ditto-backend"), "secondary");
}

}  // namespace
}  // namespace ditto::test
