// A Redis URL with a password, given as a secret reference (docs/redis.md, "Secrets"): the
// gateway resolves `secret://file`, `secret://env` and `${ENV}` for --redis and --redis-env as it
// does for the config, and the password shows up in no output: not in a log line, a response
// body or header, /ready, /metrics or the Admin API, while Redis is up, down and back.
#include <gtest/gtest.h>

#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "support/replicas.hpp"
#include "support/test_pki.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

const std::string k_password = "pw-Kx4-never-printed-93";

redis_server::options with_password() {
    redis_server::options o;
    o.password = k_password;
    return o;
}

class RedisSecretUrl : public Replicas {
  protected:
    RedisSecretUrl() : Replicas(with_password()) {}

    /// Every read-only page and one request of each kind, on every replica; all of what
    /// comes back (status lines aside) goes into `seen`.
    void visit_everything() {
        const http_headers admin{{"Authorization", "Bearer adm-1"}};
        const char* pages[] = {"/ready",
                               "/health",
                               "/metrics",
                               "/metrics/prometheus",
                               "/admin/keys",
                               "/admin/budgets",
                               "/admin/audit",
                               "/admin/config/versions",
                               "/admin/backends",
                               "/admin/costs",
                               "/admin/config/export"};
        for (const auto& gw : gws) {
            for (const char* page : pages)
                record(http_request(gw->port, "GET", page, "", admin));
            record(http_request(gw->port, "POST", "/v1/chat/completions", exact_chat,
                                {{"Authorization", "Bearer vk-1"},
                                 {"Content-Type", "application/json"},
                                 {"x-request-id", "r-" + std::to_string(seen.size())}}));
            record(http_request(
                gw->port, "POST", "/admin/keys",
                virtual_key_json("key-" + std::to_string(seen.size()), "vk-x"),
                {{"Authorization", "Bearer adm-1"}, {"Content-Type", "application/json"}}));
        }
    }

    void record(const std::optional<http_response>& r) {
        ASSERT_TRUE(r) << "no answer";
        std::string all = r->body;
        for (const auto& [name, value] : r->headers)
            all += name + ": " + value + "\n";
        seen.push_back(std::move(all));
    }

    std::vector<std::string> seen;
};

TEST_F(RedisSecretUrl, ThePasswordAppearsInNoOutput) {
    // Replica 0: --redis secret://file; replica 1: --redis-env naming a variable that holds a
    // secret://env reference; replica 2: --redis with ${ENV} inside the URL.
    const std::string url_file = files.write("redis-url", redis.url() + "\n");
    const std::vector<std::string> common{
        "--redis-prefix",     "t",  "--admin-token", "adm-1", "--proxy-cache",
        "--redis-timeout-ms", "200"};
    std::vector<std::string> first{"--redis", "secret://file?path=" + url_file};
    first.insert(first.end(), common.begin() + 2, common.end());
    start(1, virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":100000})"), first);
    std::vector<std::string> second{"--redis-env", "REDIS_REF"};
    second.insert(second.end(), common.begin(), common.end());
    gws.push_back(std::make_unique<running_gateway>());
    gws.back()->start(
        config, second,
        {{"REDIS_REF", "secret://env/REAL_REDIS_URL"}, {"REAL_REDIS_URL", redis.url()}});
    std::vector<std::string> third{
        "--redis", "redis://:${REDIS_PASSWORD}@127.0.0.1:" + std::to_string(redis.port())};
    third.insert(third.end(), common.begin(), common.end());
    gws.push_back(std::make_unique<running_gateway>());
    gws.back()->start(config, third, {{"REDIS_PASSWORD", k_password}});

    visit_everything();
    ASSERT_EQ(seen.size(), gws.size() * 13);
    EXPECT_NE(seen[0].find("\"ready\""), std::string::npos) << seen[0];
    redis.kill();  // errors, /ready 503, connection failures in the logs
    visit_everything();
    EXPECT_NE(seen[gws.size() * 13].find("not_ready"), std::string::npos) << seen[gws.size() * 13];
    redis.restart();
    for (int i = 0; i < 100; ++i) {
        auto r = http_request(gws[0]->port, "GET", "/ready");
        if (r && r->status == 200)
            break;
        std::this_thread::sleep_for(50ms);
    }
    visit_everything();
    for (auto& gw : gws) {
        gw->proc.signal(SIGTERM);
        ASSERT_TRUE(gw->proc.wait_exit(15s));
        seen.push_back(gw->proc.stdout_text());
        seen.push_back(gw->proc.stderr_text());
    }
    // Sanity: the logs are there, and they name the Redis they use.
    EXPECT_NE(seen.back().find("127.0.0.1:" + std::to_string(redis.port())), std::string::npos);
    for (const auto& out : seen)
        EXPECT_EQ(out.find(k_password), std::string::npos) << out;
}

TEST_F(RedisSecretUrl, FailuresToStartDoNotPrintThePassword) {
    mock.start();
    const std::string cfg = files.write("gateway.json", basic_config(mock.port));
    const std::string port = std::to_string(redis.port());
    const std::vector<std::vector<std::string>> attempts = {
        // the wrong password, a bad port, nobody listening, a reference that does not resolve
        {"--redis", "redis://:" + k_password + "x@127.0.0.1:" + port},
        {"--redis", "redis://:" + k_password + "@127.0.0.1:" + k_password},
        {"--redis", "redis://:" + k_password + "@127.0.0.1:1"},
        {"--redis", "secret://env/NOT_SET_ANYWHERE"},
        {"--redis", "secret://env/${REDIS_PASSWORD}"},
        // a raw password that looks like a placeholder (an invalid name): not quoted back
        {"--redis", "redis://:${" + k_password + "}@127.0.0.1:" + port},
    };
    for (const auto& a : attempts) {
        std::vector<std::string> args{cfg, "--listen", "127.0.0.1:0", "--redis-timeout-ms", "200"};
        args.insert(args.end(), a.begin(), a.end());
        const auto r = run_to_exit(DITTO_GATEWAY_BIN, args, 15s, {{"REDIS_PASSWORD", k_password}});
        EXPECT_NE(r.exit_code, 0) << a.back();
        EXPECT_FALSE(r.err.empty());
        EXPECT_EQ(r.err.find(k_password), std::string::npos) << r.err;
        EXPECT_EQ(r.out.find(k_password), std::string::npos) << r.out;
    }
}

}  // namespace
}  // namespace ditto::test
