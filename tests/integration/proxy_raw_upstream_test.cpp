// Upstreams that misbehave in ways ditto-mock-upstream cannot: a scripted raw-socket server
// in the test itself, answering each request on a connection with the next scripted bytes.
#include <atomic>
#include <cstdio>
#include <thread>

#include "support/gateway_fixture.hpp"
#include "support/inspect.hpp"
#include "support/raw_server.hpp"
#include "support/wait.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

// Every request, on whichever connection, gets the next scripted answer; a connection closes
// when the script is used up.
class raw_upstream {
  public:
    explicit raw_upstream(std::vector<std::string> answers)
        : answers_(std::move(answers)), server_([this](int fd) { serve(fd); }) {}
    int port() const { return server_.port(); }
    int connections() const { return server_.connections(); }

  private:
    void serve(int fd) {
        std::string buf;
        while (next_ < answers_.size() && read_request(fd, buf, 2s)) {
            if (!send_all(fd, answers_[next_++]))
                return;
        }
    }

    std::vector<std::string> answers_;
    std::atomic<std::size_t> next_{0};
    raw_server server_;  // last: its threads use the members above
};

std::string config_for(int port, const std::string& backend_extra = "") {
    return R"({"backends":[{"name":"raw","base_url":"http://127.0.0.1:)" + std::to_string(port) +
           R"(/v1")" + (backend_extra.empty() ? "" : "," + backend_extra) +
           R"(}],"virtual_keys":[{"id":"k","token":"vk-1","enabled":true,"limits":{},)"
           R"("budget":{},"cache":{"enabled":false},"guardrails":{},)"
           R"("passthrough":{"allow":false,"bypass_cache":false}}],)"
           R"("router":{"default_backends":[{"backend":"raw"}]}})";
}

const std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", "Bearer vk-1"}};

TEST(RawUpstream, InterimResponsesAreSkippedAndTheConnectionStaysInStep) {
    raw_upstream up(
        {"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst",
         "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"});
    running_gateway gw;
    gw.start(config_for(up.port()), {"--workers", "1"});
    auto a = http_request(gw.port, "GET", "/v1/models/a", "", auth);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, 200);
    EXPECT_EQ(a->body, "first");
    // The same pooled connection: it must answer the second request, not leftovers.
    auto b = http_request(gw.port, "GET", "/v1/models/b", "", auth);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->status, 200);
    EXPECT_EQ(b->body, "second");
    EXPECT_EQ(up.connections(), 1);
}

TEST(RawUpstream, UpgradeIsNotProxied) {
    raw_upstream up(
        {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\n\r\n"});
    running_gateway gw;
    gw.start(config_for(up.port()));
    auto r = http_request(gw.port, "GET", "/v1/models/a", "", auth);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 502);
    EXPECT_NE(r->body.find("upgrades are not proxied"), std::string::npos) << r->body;
}

TEST(RawUpstream, ReusedConnectionClosedBeforeAnsweringIsRetriedWhenSafe) {
    // The upstream answers one request per connection and then closes without saying so
    // (no Connection: close): the next GET on the pooled connection meets a closed socket.
    raw_upstream up({"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"});
    running_gateway gw;
    gw.start(config_for(up.port()), {"--workers", "1"});
    auto a = http_request(gw.port, "GET", "/v1/models/a", "", auth);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->body, "one");
    std::this_thread::sleep_for(100ms);  // the upstream has closed by now
    auto b = http_request(gw.port, "GET", "/v1/models/b", "", auth);
    ASSERT_TRUE(b);
    // The retry lands on a fresh connection, which this upstream no longer answers: what
    // matters is that it was retried (two connections), and the client got a clean error.
    EXPECT_EQ(up.connections(), 2);
    EXPECT_EQ(b->status, 502);
}

// ---- issue 19 item 2: bytes past a complete answer (docs/security.md) ----

// The first connection answers every request with `first`, then `late` after `delay` (an
// appended second answer, the start of a response the next request would take for its own);
// every later connection answers "second".
struct desync_case {
    const char* name;
    std::string first;
    std::string late;
    std::chrono::milliseconds delay{0};
};

class Desync : public ::testing::TestWithParam<desync_case> {};

TEST_P(Desync, ConnectionWithBytesPastTheAnswerIsNeverReused) {
    const auto& c = GetParam();
    std::atomic<int> conns{0};
    std::atomic<bool> late_sent{false};
    raw_server up([&](int fd) {
        const bool first_conn = conns++ == 0;
        std::string buf;
        while (read_request(fd, buf, 2s)) {
            if (!first_conn) {
                if (!send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"))
                    return;
                continue;
            }
            if (!send_all(fd, c.first))
                return;
            if (c.delay.count() > 0)
                std::this_thread::sleep_for(c.delay);
            if (!send_all(fd, c.late))
                return;
            late_sent = true;  // on loopback, in the gateway's socket buffer once sent
        }
    });
    running_gateway gw;
    gw.start(config_for(up.port()), {"--workers", "1", "--prometheus-metrics"});
    auto a = http_request(gw.port, "GET", "/v1/models/a", "", auth);
    ASSERT_TRUE(a);
    EXPECT_LT(a->status, 300);
    EXPECT_EQ(a->body.find("EVIL"), std::string::npos) << a->body;
    // The next request must find the late bytes already there (not a sleep: under load a
    // sleep can end before the upstream thread has written them).
    ASSERT_TRUE(eventually([&] { return late_sent.load(); }, 5s, 5ms));
    for (int i = 0; i < 2; ++i) {
        auto b = http_request(gw.port, "GET", "/v1/models/b", "", auth);
        ASSERT_TRUE(b);
        EXPECT_EQ(b->status, 200);
        EXPECT_EQ(b->body, "second");
    }
    EXPECT_EQ(up.connections(), 2);
    EXPECT_EQ(
        prometheus_value(
            gw.port, R"(ditto_gateway_proxy_backend_connections_desynced_total{backend="raw"})"),
        1.0);
    // The log is written by its own thread, in batches: wait for the line, not for the call.
    EXPECT_TRUE(eventually(
        [&] { return gw.proc.stderr_text().find("upstream.desync") != std::string::npos; }, 5s))
        << gw.proc.stderr_text();
}

const std::string evil = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL";

INSTANTIATE_TEST_SUITE_P(
    RawUpstream, Desync,
    ::testing::Values(
        desync_case{"buffered", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst", evil},
        desync_case{"chunked",
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n0\r\n\r\n",
                    evil},
        desync_case{"no_body", "HTTP/1.1 204 No Content\r\n\r\n", evil},
        desync_case{"late", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst", evil, 150ms}),
    [](const auto& tp) { return std::string(tp.param.name); });

// ---- issue 19 item 8: a trickling upstream (docs/security.md) ----

// Sends `head` at once, then `body` one byte every `every` (or until the gateway hangs up).
struct trickler {
    std::string head;
    std::string body;
    std::chrono::milliseconds every;
    raw_server server{[this](int fd) { serve(fd); }};

    trickler(std::string h, std::string b, std::chrono::milliseconds e)
        : head(std::move(h)), body(std::move(b)), every(e) {}

    void serve(int fd) {
        std::string buf;
        if (!read_request(fd, buf, 2s) || !send_all(fd, head))
            return;
        for (char ch : body) {
            std::this_thread::sleep_for(every);
            if (!send_all(fd, std::string_view(&ch, 1)))
                return;
        }
        wait_peer_closed(fd, 10s);
    }
};

const std::string sse_head =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

// `n` SSE events as chunks, one chunk per event.
std::string sse_chunks(int n) {
    std::string out;
    const std::string event = "data: {\"i\":1}\n\n";
    char size[16];
    std::snprintf(size, sizeof(size), "%zx", event.size());
    for (int i = 0; i < n; ++i)
        out += std::string(size) + "\r\n" + event + "\r\n";
    return out;
}

// A streamed chat through a gateway in front of `upstream_port`: it ends, in under 3 s, with
// an SSE error event whose message names `why`.
void expect_stream_cut(int upstream_port, const std::string& backend_extra, std::string_view why) {
    running_gateway gw;
    gw.start(config_for(upstream_port, backend_extra));
    const auto t0 = std::chrono::steady_clock::now();
    auto r = http_request(gw.port, "POST", "/v1/chat/completions", R"({"stream":true})", auth, 6s);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    ASSERT_TRUE(r) << "no clean end of the stream";
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->chunked);
    const auto at = r->body.find("event: error\ndata: {\"error\":");
    ASSERT_NE(at, std::string::npos) << r->body;
    EXPECT_NE(r->body.find(R"("code":"backend_timeout")", at), std::string::npos) << r->body;
    EXPECT_NE(r->body.find(why, at), std::string::npos) << r->body;
    EXPECT_TRUE(r->body.ends_with("}}\n\n")) << r->body;
    // The events before the cut went through, and the error event is one of its own.
    EXPECT_TRUE(r->body.starts_with("data: {\"i\":1}\n\n")) << r->body;
    EXPECT_TRUE(r->body.substr(0, at).ends_with("\n\n")) << r->body;
}

TEST(Trickle, StreamOverMaxResponseSecondsEndsWithAnSseErrorEvent) {
    // An event every 100 ms keeps every gap short; only the total cap can end it.
    raw_server paced([&](int fd) {
        std::string buf;
        if (!read_request(fd, buf, 2s) || !send_all(fd, sse_head))
            return;
        for (int i = 0; i < 100; ++i) {
            if (!send_all(fd, sse_chunks(1)))
                return;
            std::this_thread::sleep_for(100ms);
        }
    });
    expect_stream_cut(paced.port(), R"("timeout_seconds":5,"max_response_seconds":1)",
                      "max_response_seconds");
}

TEST(Trickle, StreamBelowTheMinimumRateEndsWithAnSseErrorEvent) {
    // One event, then a byte every 300 ms: never a gap of a second, but 3 bytes/s.
    trickler up(sse_head + sse_chunks(1), "12\r\ndata: {\"slow\":1}\n\n\r\n", 300ms);
    expect_stream_cut(up.server.port(),
                      R"("timeout_seconds":1,"min_response_bytes_per_second":100)",
                      "min_response_bytes_per_second");
}

TEST(Trickle, AnswerNotCompleteWithinMaxResponseSecondsIsA504) {
    // A small answer with a length is buffered before the client sees a head: the cap makes
    // it a 504, whether the head or the body trickles.
    for (const auto& [head, body] : std::vector<std::pair<std::string, std::string>>{
             {"", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
             {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "0123456789"}}) {
        trickler up(head, body, 250ms);
        running_gateway gw;
        gw.start(config_for(up.server.port(), R"("timeout_seconds":5,"max_response_seconds":1)"));
        const auto t0 = std::chrono::steady_clock::now();
        auto r = http_request(gw.port, "GET", "/v1/models/a", "", auth, 6s);
        const auto took = std::chrono::steady_clock::now() - t0;
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 504) << r->body;
        EXPECT_NE(r->body.find(R"("code":"backend_timeout")"), std::string::npos) << r->body;
        EXPECT_LT(took, 2500ms);
    }
}

}  // namespace
}  // namespace ditto::test
