// https:// upstreams: a CA and a server certificate made here with the openssl CLI, served
// by `openssl s_server`, so verification runs against a real TLS peer.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "support/gateway_fixture.hpp"

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
        const auto d = dir.path().string();
        // A throwaway CA, and a server certificate for localhost/127.0.0.1 signed by it.
        const std::string script =
            "set -e; cd '" + d +
            "';"
            "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=ditto-test-ca "
            "-keyout ca.key -out ca.pem 2>/dev/null;"
            "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout srv.key "
            "-out srv.csr 2>/dev/null;"
            "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext;"
            "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
            "-extfile san.ext -out srv.pem 2>/dev/null";
        ASSERT_EQ(std::system(script.c_str()), 0) << "openssl could not make certificates";
        port = free_port();
        server.start("/usr/bin/openssl",
                     {"s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                      d + "/srv.pem", "-key", d + "/srv.key", "-www", "-quiet"});
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
    child_process server;
    int port = 0;
};

TEST_F(TlsUpstream, TrustedCertificateIsAccepted) {
    running_gateway gw;
    gw.start(config(R"(,"tls_ca_file":")" + dir.path().string() + R"(/ca.pem")"));
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
