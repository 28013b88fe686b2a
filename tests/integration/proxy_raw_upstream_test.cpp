// Upstreams that misbehave in ways ditto-mock-upstream cannot: a scripted raw-socket server
// in the test itself, answering each request on a connection with the next scripted bytes.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "support/gateway_fixture.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

class raw_upstream {
  public:
    explicit raw_upstream(std::vector<std::string> answers) : answers_(std::move(answers)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
        ::listen(fd_, 16);
        socklen_t len = sizeof(addr);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~raw_upstream() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    int port() const { return port_; }
    int connections() const { return connections_.load(); }

  private:
    // One connection at a time (enough for these tests); every request gets the next answer.
    void serve() {
        std::size_t next = 0;
        while (!stop_) {
            int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0)
                return;
            ++connections_;
            timeval tv{2, 0};
            ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            std::string buf;
            char tmp[4096];
            while (next < answers_.size()) {
                while (buf.find("\r\n\r\n") == std::string::npos) {
                    auto n = ::recv(c, tmp, sizeof(tmp), 0);
                    if (n <= 0)
                        break;
                    buf.append(tmp, static_cast<std::size_t>(n));
                }
                const auto end = buf.find("\r\n\r\n");
                if (end == std::string::npos)
                    break;
                std::size_t body = 0;
                if (auto cl = buf.find("content-length: "); cl != std::string::npos && cl < end) {
                    body = std::stoul(buf.substr(cl + 16));
                } else if (auto cl2 = buf.find("Content-Length: ");
                           cl2 != std::string::npos && cl2 < end) {
                    body = std::stoul(buf.substr(cl2 + 16));
                }
                while (buf.size() < end + 4 + body) {
                    auto n = ::recv(c, tmp, sizeof(tmp), 0);
                    if (n <= 0)
                        break;
                    buf.append(tmp, static_cast<std::size_t>(n));
                }
                buf.erase(0, std::min(buf.size(), end + 4 + body));
                const auto& a = answers_[next++];
                ::send(c, a.data(), a.size(), MSG_NOSIGNAL);
            }
            ::close(c);
        }
    }

    std::vector<std::string> answers_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::thread thread_;
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
