// Upstreams that misbehave in ways ditto-mock-upstream cannot: a scripted raw-socket server
// in the test itself, answering each request on a connection with the next scripted bytes.
#include <atomic>
#include <cstdio>
#include <thread>

#include "support/gateway_fixture.hpp"
#include "support/inspect.hpp"
#include "support/raw_server.hpp"

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
        }
    });
    running_gateway gw;
    gw.start(config_for(up.port()), {"--workers", "1", "--prometheus-metrics"});
    auto a = http_request(gw.port, "GET", "/v1/models/a", "", auth);
    ASSERT_TRUE(a);
    EXPECT_LT(a->status, 300);
    EXPECT_EQ(a->body.find("EVIL"), std::string::npos) << a->body;
    std::this_thread::sleep_for(c.delay + 200ms);  // the late bytes have arrived by now
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
    EXPECT_NE(gw.proc.stderr_text().find("upstream.desync"), std::string::npos)
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
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ditto::test
