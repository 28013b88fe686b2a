// rediss:// against a real redis-server serving TLS with certificates made in the test: a
// trusted server answers; an untrusted one, or one whose certificate names another host, is
// refused before AUTH; mTLS needs the client certificate; a restarted server is reached again.
#include "ditto/store/redis/redis_tls.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ssl/error.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "connection_fixture.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"

namespace ditto::store::redis {
namespace {

using ditto::test::redis_server;

class RedisTls : public RedisConnection {
  protected:
    redis_server::options tls_server(const std::string& cert, const std::string& key) const {
        redis_server::options o;
        o.tls_cert = cert;
        o.tls_key = key;
        o.tls_ca = pki.ca();
        return o;
    }

    redis_options trusting(const std::string& ca, const std::string& cert = "",
                           const std::string& key = "") const {
        redis_tls_options t;
        t.ca_file = ca;
        t.cert_file = cert;
        t.key_file = key;
        std::string error;
        redis_options opt;
        opt.tls = make_redis_tls_context(t, error);
        EXPECT_TRUE(opt.tls) << error;
        opt.command_timeout = 2s;
        return opt;
    }

    /// The first command's error: the connection attempt (and why it failed) in one call.
    std::string refusal(const std::shared_ptr<redis_connection>& c) {
        redis_result r = exec(c, {"PING"});
        EXPECT_TRUE(r.error) << "a PING went through";
        return r.error ? r.error.message() : std::string();
    }

    ditto::test::temp_dir dir;
    ditto::test::test_pki pki{dir.path().string()};
};

TEST_F(RedisTls, TrustedServerAnswersOverTls) {
    redis_server srv(tls_server(pki.server_cert(), pki.server_key()));
    auto c = connect(srv.tls_url(), trusting(pki.ca()));
    ASSERT_TRUE(exec(c, {"SET", "k", "over tls"}).reply.is_ok());
    EXPECT_EQ(exec(c, {"GET", "k"}).reply.str, "over tls");
    // The TLS port really was TLS: the plain port sees the same data, and a plain client
    // on the TLS port gets no answer.
    auto plain = connect("redis://127.0.0.1:" + std::to_string(srv.port()));
    EXPECT_EQ(exec(plain, {"GET", "k"}).reply.str, "over tls");
    redis_options quick;
    quick.connect_timeout = 300ms;
    quick.command_timeout = 300ms;
    auto wrong = connect("redis://127.0.0.1:" + std::to_string(srv.tls_port()), quick);
    EXPECT_TRUE(exec(wrong, {"PING"}).error);
}

TEST_F(RedisTls, HostNameIsVerifiedAgainstTheCertificate) {
    // localhost is in the certificate's names as well as 127.0.0.1: both verify.
    redis_server srv(tls_server(pki.server_cert(), pki.server_key()));
    auto by_name =
        connect("rediss://localhost:" + std::to_string(srv.tls_port()), trusting(pki.ca()));
    EXPECT_TRUE(await(by_name->ping()));
    auto by_ip = connect(srv.tls_url(), trusting(pki.ca()));
    EXPECT_TRUE(await(by_ip->ping()));
}

TEST_F(RedisTls, UntrustedServerIsRefusedBeforeAuth) {
    auto o = tls_server(pki.untrusted_cert(), pki.untrusted_key());
    o.password = "hunter2";
    redis_server srv(o);
    auto c = connect(srv.tls_url(), trusting(pki.ca()));
    const std::string why = refusal(c);
    EXPECT_NE(why.find("certificate verify failed"), std::string::npos) << why;
    EXPECT_EQ(why.find("hunter2"), std::string::npos);
    EXPECT_FALSE(c->connected());
    // No AUTH ever reached the server: the only one it counts is redis-cli's own, here.
    const std::string info =
        ditto::test::run_to_exit("/usr/bin/redis-cli",
                                 {"-p", std::to_string(srv.port()), "-a", "hunter2",
                                  "--no-auth-warning", "INFO", "commandstats"})
            .out;
    EXPECT_NE(info.find("cmdstat_auth:calls=1,"), std::string::npos) << info;
}

TEST_F(RedisTls, CertificateForAnotherHostIsRefused) {
    redis_server srv(tls_server(pki.misnamed_cert(), pki.misnamed_key()));
    auto c = connect(srv.tls_url(), trusting(pki.ca()));
    const std::string why = refusal(c);
    EXPECT_NE(why.find("certificate verify failed"), std::string::npos) << why;
}

TEST_F(RedisTls, InsecureSkipVerifyAcceptsAnyCertificate) {
    redis_server srv(tls_server(pki.untrusted_cert(), pki.untrusted_key()));
    redis_tls_options t;
    t.insecure_skip_verify = true;
    std::string error;
    redis_options opt;
    opt.tls = make_redis_tls_context(t, error);
    ASSERT_TRUE(opt.tls) << error;
    auto c = connect(srv.tls_url(), opt);
    EXPECT_TRUE(await(c->ping()));
}

TEST_F(RedisTls, MutualTlsNeedsTheClientCertificate) {
    auto o = tls_server(pki.server_cert(), pki.server_key());
    o.tls_auth_clients = true;
    redis_server srv(o);
    auto without = connect(srv.tls_url(), trusting(pki.ca()));
    EXPECT_FALSE(refusal(without).empty());
    auto with = connect(srv.tls_url(), trusting(pki.ca(), pki.client_cert(), pki.client_key()));
    EXPECT_TRUE(await(with->ping()));
}

TEST_F(RedisTls, UnreadableFilesAreClearErrors) {
    redis_tls_options t;
    t.ca_file = dir.path().string() + "/missing.pem";
    std::string error;
    EXPECT_FALSE(make_redis_tls_context(t, error));
    EXPECT_NE(error.find("missing.pem"), std::string::npos) << error;
    t.ca_file = pki.ca();
    t.cert_file = pki.client_cert();
    error.clear();
    EXPECT_FALSE(make_redis_tls_context(t, error));
    EXPECT_NE(error.find("both"), std::string::npos) << error;
    t.key_file = pki.server_key();  // not the certificate's key
    error.clear();
    EXPECT_FALSE(make_redis_tls_context(t, error));
    EXPECT_NE(error.find("client key"), std::string::npos) << error;
}

TEST_F(RedisTls, RestartedServerIsReachedAgainOverTls) {
    redis_server srv(tls_server(pki.server_cert(), pki.server_key()));
    auto opt = trusting(pki.ca());
    auto c = connect(srv.tls_url(), opt);
    ASSERT_TRUE(exec(c, {"SET", "k", "v"}).reply.is_ok());
    srv.kill();
    EXPECT_TRUE(exec(c, {"GET", "k"}).error);
    srv.restart();
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(eventually_ok(c, {"SET", "k", "again"}));
    std::printf(
        "[ timing   ] TLS back %.0f ms after the restart\n",
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    EXPECT_EQ(exec(c, {"GET", "k"}).reply.str, "again");
    EXPECT_GE(c->stats().connects, 2U);
}

}  // namespace
}  // namespace ditto::store::redis
