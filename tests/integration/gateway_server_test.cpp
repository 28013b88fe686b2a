// The HTTP server as clients see it: the real ditto-gateway binary over loopback sockets.
#include <signal.h>

#include <chrono>
#include <thread>

#include "support/gateway_fixture.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

class GatewayServer : public ::testing::Test {
  protected:
    void SetUp() override {
        gw.start(basic_config(9), {"--workers", "2", "--header-timeout-ms", "500",
                                   "--idle-timeout-ms", "1500", "--proxy-max-body-bytes", "1024",
                                   "--max-header-bytes", "2048", "--drain-timeout-secs", "5"});
    }
    running_gateway gw;
};

TEST_F(GatewayServer, HealthReadyAndMetrics) {
    auto h = http_request(gw.port, "GET", "/health");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
    EXPECT_EQ(h->header("content-type"), "application/json");
    EXPECT_EQ(h->body, R"({"status":"ok"})");

    auto r = http_request(gw.port, "GET", "/ready");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"status":"ready"})");

    auto m = http_request(gw.port, "GET", "/metrics");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200);
    EXPECT_EQ(m->body, R"({"requests":0,"cache_hits":0,"rate_limited":0,"guardrail_blocked":0,)"
                       R"("budget_exceeded":0,"backend_calls":0})");

    auto head = http_request(gw.port, "HEAD", "/health");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->header("content-length"), "15");
    EXPECT_TRUE(head->body.empty());
}

TEST_F(GatewayServer, UnknownPathIsEmpty404AndWrongMethodIs405) {
    auto nf = http_request(gw.port, "GET", "/no/such/path?x=1");
    ASSERT_TRUE(nf);
    EXPECT_EQ(nf->status, 404);
    EXPECT_TRUE(nf->body.empty());

    for (const char* path : {"/health", "/ready", "/metrics"}) {
        auto r = http_request(gw.port, "POST", path, "{}");
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 405) << path;
        EXPECT_EQ(r->header("allow"), "GET, HEAD") << path;
    }
}

TEST_F(GatewayServer, KeepAliveAndPipelining) {
    http_connection c(gw.port);
    ASSERT_TRUE(c.connected());
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(c.send(make_request("GET", "/health")));
        auto r = c.read_response();
        ASSERT_TRUE(r) << "request " << i;
        EXPECT_EQ(r->status, 200);
        EXPECT_NE(r->header("connection"), "close");
    }
    // Three requests in one write: three responses, in order, on the same connection.
    ASSERT_TRUE(c.send(make_request("GET", "/health") + make_request("GET", "/nope") +
                       make_request("GET", "/ready")));
    auto a = c.read_response();
    auto b = c.read_response();
    auto d = c.read_response();
    ASSERT_TRUE(a && b && d);
    EXPECT_EQ(a->status, 200);
    EXPECT_EQ(b->status, 404);
    EXPECT_EQ(d->status, 200);
    EXPECT_EQ(d->body, R"({"status":"ready"})");
}

TEST_F(GatewayServer, ConnectionCloseIsHonoured) {
    http_connection c(gw.port);
    ASSERT_TRUE(c.send(make_request("GET", "/health", {{"Connection", "close"}})));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.wait_closed(2s));
}

TEST_F(GatewayServer, BodyOverLimitIs413WithOpenAIError) {
    const std::string big(2048, 'x');
    auto r = http_request(gw.port, "POST", "/v1/chat/completions", big,
                          {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_NE(r->body.find(R"("type":"invalid_request_error")"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find(R"("code":"request_too_large")"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("1024 bytes"), std::string::npos) << r->body;

    // A chunked body has no length up front: it is cut when it crosses the limit.
    http_connection c(gw.port);
    std::string chunked =
        make_request("POST", "/v1/embeddings", {{"Transfer-Encoding", "chunked"}}) + "400\r\n" +
        std::string(1024, 'y') + "\r\n" + "10\r\n" + std::string(16, 'z') + "\r\n0\r\n\r\n";
    ASSERT_TRUE(c.send(chunked));
    auto rc = c.read_response();
    ASSERT_TRUE(rc);
    EXPECT_EQ(rc->status, 413);

    // Exactly at the limit is fine (405: POST on a GET route, after the body was read).
    auto ok = http_request(gw.port, "POST", "/health", std::string(1024, 'x'));
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 405);
}

TEST_F(GatewayServer, ExpectContinueGets100ThenTheResponse) {
    http_connection c(gw.port);
    ASSERT_TRUE(
        c.send("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
               "Expect: 100-continue\r\n\r\n"));
    // The interim 100 comes first; read_response skips it and returns the final answer.
    ASSERT_TRUE(c.send("0123456789"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);

    http_connection big(gw.port);
    ASSERT_TRUE(
        big.send("POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n"
                 "Expect: 100-continue\r\n\r\n"));
    auto rb = big.read_response();
    ASSERT_TRUE(rb);
    EXPECT_EQ(rb->status, 413);  // answered without waiting for the body
}

TEST_F(GatewayServer, OversizedHeadIs431AndGarbageIs400) {
    auto r = http_request(gw.port, "GET", "/health", "", {{"X-Big", std::string(4096, 'a')}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);

    http_connection c(gw.port);
    ASSERT_TRUE(c.send("THIS IS NOT HTTP\r\n\r\n"));
    auto g = c.read_response();
    ASSERT_TRUE(g);
    EXPECT_EQ(g->status, 400);
    EXPECT_NE(g->body.find("malformed HTTP request"), std::string::npos);
}

TEST_F(GatewayServer, SlowLorisIsDroppedAndDoesNotHoldAWorker) {
    // Two workers; open more slow connections than workers so a held worker would show.
    std::vector<std::unique_ptr<http_connection>> slow;
    for (int i = 0; i < 4; ++i) {
        slow.push_back(std::make_unique<http_connection>(gw.port));
        ASSERT_TRUE(slow.back()->send("GET /health HTTP/1.1\r\nHost: x\r\n"));
    }
    const auto start = std::chrono::steady_clock::now();
    auto r = http_request(gw.port, "GET", "/health", "", {}, 2s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    for (auto& c : slow) {
        c->send("X-Drip: 1\r\n");  // still dripping: the head deadline is not per byte
        EXPECT_TRUE(c->wait_closed(3s));
    }
    // Closed by the 500 ms head deadline, well before the 1.5 s idle timeout would apply.
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1400ms);
}

TEST_F(GatewayServer, ARequestOnAnIdleConnectionDuringTheDrainIsAnsweredWithClose) {
    // A load balancer may send on a pooled connection just as the drain starts: the request
    // is served (not dropped), and the answer closes the connection.
    http_connection pooled(gw.port);
    ASSERT_TRUE(pooled.send(make_request("GET", "/health")));
    ASSERT_TRUE(pooled.read_response());
    gw.proc.signal(SIGTERM);
    ASSERT_TRUE(gw.proc.wait_for_stderr("server.drain", 2s));
    ASSERT_TRUE(pooled.send(make_request("GET", "/health")));
    auto r = pooled.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(pooled.wait_closed(2s));
    EXPECT_TRUE(gw.proc.wait_exit(5s));
}

TEST_F(GatewayServer, IdleKeepAliveConnectionIsClosed) {
    http_connection c(gw.port);
    ASSERT_TRUE(c.send(make_request("GET", "/health")));
    ASSERT_TRUE(c.read_response());
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(c.wait_closed(5s));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 1000ms);
}

TEST_F(GatewayServer, GracefulDrainFinishesInFlightRequestThenExits) {
    // A request whose head is half sent is in flight: the drain must wait for it.
    http_connection busy(gw.port);
    ASSERT_TRUE(busy.send("GET /ready HTTP/1.1\r\nHost: x\r\n"));
    http_connection idle(gw.port);
    ASSERT_TRUE(idle.send(make_request("GET", "/health")));
    ASSERT_TRUE(idle.read_response());

    std::this_thread::sleep_for(50ms);  // let the server see the first bytes of `busy`
    gw.proc.signal(SIGTERM);
    ASSERT_TRUE(gw.proc.wait_for_stderr("server.drain", 2s));
    EXPECT_TRUE(gw.proc.running()) << "the in-flight request keeps the process up";

    ASSERT_TRUE(busy.send("\r\n"));
    auto r = busy.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_NE(r->body.find(R"("status":"not_ready")"), std::string::npos) << r->body;
    // Idle keep-alive connections get a one-second grace (a request sent on one now is still
    // answered, with Connection: close), then close.
    EXPECT_TRUE(idle.wait_closed(2s)) << "idle keep-alive connections close after the grace";

    auto code = gw.proc.wait_exit(3s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 0);
    EXPECT_FALSE(http_connection(gw.port).connected());
}

TEST_F(GatewayServer, SecondSignalForcesExit) {
    http_connection busy(gw.port);
    ASSERT_TRUE(busy.send("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"));
    std::this_thread::sleep_for(50ms);
    gw.proc.signal(SIGTERM);
    ASSERT_TRUE(gw.proc.wait_for_stderr("server.drain", 2s));
    EXPECT_TRUE(gw.proc.running());
    gw.proc.signal(SIGINT);
    auto code = gw.proc.wait_exit(2s);
    ASSERT_TRUE(code) << "second signal must not wait for the 5 s drain timeout";
    EXPECT_EQ(*code, 0);
}

TEST(GatewayDrain, DrainTimeoutBoundsShutdown) {
    running_gateway gw;
    gw.start(basic_config(9), {"--drain-timeout-secs", "1", "--client-timeout-ms", "60000"});
    http_connection stuck(gw.port);
    ASSERT_TRUE(stuck.send("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab"));
    std::this_thread::sleep_for(50ms);
    const auto start = std::chrono::steady_clock::now();
    gw.proc.signal(SIGTERM);
    auto code = gw.proc.wait_exit(4s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 0);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
    EXPECT_TRUE(gw.proc.wait_for_stderr("drain timeout", 1s));
}

TEST(GatewayJsonLogs, OneJsonObjectPerLine) {
    running_gateway gw;
    gw.start(basic_config(9), {"--json-logs"});
    const auto line = gw.proc.wait_for_stderr("server.listening", 2s);
    ASSERT_TRUE(line);
    EXPECT_EQ(line->rfind(R"({"ts_ms":)", 0), 0u) << *line;
    EXPECT_NE(line->find(R"("event":"server.listening")"), std::string::npos) << *line;
}

}  // namespace
}  // namespace ditto::test
