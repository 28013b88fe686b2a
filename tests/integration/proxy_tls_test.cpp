// https:// upstreams: a CA and a server certificate made here (support/test_pki.hpp), served
// by `openssl s_server`, so verification runs against a real TLS peer.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "support/gateway_fixture.hpp"
#include "support/test_pki.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

class TlsUpstream : public ::testing::Test {
  protected:
    void SetUp() override {
        port = free_port();
        server.start("/usr/bin/openssl",
                     {"s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                      pki.server_cert(), "-key", pki.server_key(), "-www", "-quiet"});
        // s_server prints nothing useful when quiet: wait until it accepts.
        for (int i = 0; i < 200; ++i) {
            if (http_connection(port).connected())
                return;
            std::this_thread::sleep_for(10ms);
        }
        FAIL() << "openssl s_server did not start";
    }

    std::string config(const std::string& backend_extra) {
        return R"({"backends":[{"name":"tls","base_url":"https://localhost:)" +
               std::to_string(port) + R"(/v1")" + backend_extra +
               R"(}],"virtual_keys":[{"id":"k","token":"vk-1","enabled":true,"limits":{},)"
               R"("budget":{},"cache":{"enabled":false},"guardrails":{},)"
               R"("passthrough":{"allow":false,"bypass_cache":false}}],)"
               R"("router":{"default_backends":[{"backend":"tls"}]}})";
    }

    temp_dir dir;
    test_pki pki{dir.path().string()};  // a CA, and a localhost certificate it signed
    child_process server;
    int port = 0;
};

TEST_F(TlsUpstream, TrustedCertificateIsAccepted) {
    running_gateway gw;
    gw.start(config(R"(,"tls_ca_file":")" + pki.ca() + R"(")"));
    auto r = http_request(gw.port, "GET", "/v1/models/x", "", {{"Authorization", "Bearer vk-1"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->body.find("s_server"), std::string::npos) << r->body;
    EXPECT_EQ(r->header("x-ditto-backend"), "tls");
}

TEST_F(TlsUpstream, UntrustedCertificateIsRefused) {
    running_gateway gw;
    gw.start(config(""));  // the system store does not know our test CA
    auto r = http_request(gw.port, "GET", "/v1/models/x", "", {{"Authorization", "Bearer vk-1"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 502);
    EXPECT_NE(r->body.find(R"("code":"backend_error")"), std::string::npos);
    EXPECT_NE(r->body.find("TLS handshake"), std::string::npos) << r->body;
}

TEST_F(TlsUpstream, InsecureSkipVerifyIsExplicit) {
    running_gateway gw;
    gw.start(config(R"(,"tls_insecure_skip_verify":true)"));
    auto r = http_request(gw.port, "GET", "/v1/models/x", "", {{"Authorization", "Bearer vk-1"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(gw.proc.wait_for_stderr("verification is OFF", 1s));
}

}  // namespace
}  // namespace ditto::test
