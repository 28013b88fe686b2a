// Upstreams that misbehave in ways ditto-mock-upstream cannot: a scripted raw-socket server
// in the test itself, answering each request on a connection with the next scripted bytes.
#include <atomic>
#include <thread>

#include "support/gateway_fixture.hpp"
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

std::string config_for(int port) {
    return R"({"backends":[{"name":"raw","base_url":"http://127.0.0.1:)" + std::to_string(port) +
           R"(/v1"}],"virtual_keys":[{"id":"k","token":"vk-1","enabled":true,"limits":{},)"
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

}  // namespace
}  // namespace ditto::test
