// The local cluster (scripts/cluster.sh: redis-server, three replicas, nginx) under steady
// load: restarting each replica in turn loses no request and leaves the shared ledger exact.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/redis_layout.hpp"
#include "support/temp_dir.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

class Cluster : public ::testing::Test {
  protected:
    void SetUp() override {
        // Six consecutive ports per run; spread by pid so parallel runs do not collide.
        base = 20000 + static_cast<int>(::getpid() % 1500) * 8;
        auto r = script({"start"});
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    }
    void TearDown() override {
        auto r = script({"stop"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    run_result script(std::vector<std::string> args) {
        args.insert(args.begin(), std::string(DITTO_SOURCE_DIR) + "/scripts/cluster.sh");
        std::vector<std::pair<std::string, std::string>> env{
            {"DITTO_CLUSTER_DIR", dir.path().string()},
            {"DITTO_CLUSTER_PORT", std::to_string(base)},
            {"DITTO_GATEWAY_BIN", DITTO_GATEWAY_BIN},
            {"DITTO_MOCK_BIN", DITTO_MOCK_BIN}};
        if (!test::redis_layout2())
            env.emplace_back("DITTO_CLUSTER_ARGS", "--redis-layout 1");
        return run_to_exit("/bin/bash", args, 60s, env);
    }
    std::string redis(const std::vector<std::string>& args) {
        std::vector<std::string> all{"-p", std::to_string(base + 5)};
        all.insert(all.end(), args.begin(), args.end());
        auto out = run_to_exit("/usr/bin/redis-cli", all).out;
        while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
            out.pop_back();
        return out;
    }

    temp_dir dir;
    int base = 0;
};

TEST_F(Cluster, RollingRestartLosesNoRequestAndKeepsTheLedgerExact) {
    // 72-byte body: charge 27 (18 + max_tokens 9), reported 27.
    const std::string body =
        R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]})";
    std::atomic<bool> stop{false};
    std::atomic<long> ok{0}, failed{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
        clients.emplace_back([&] {
            while (!stop) {
                auto r = http_request(
                    base, "POST", "/v1/chat/completions", body,
                    {{"Authorization", "Bearer vk-cluster"}, {"Content-Type", "application/json"}},
                    10s);
                (r && r->status == 200 ? ok : failed)++;
            }
        });
    }
    std::this_thread::sleep_for(500ms);
    for (int n = 1; n <= 3; ++n) {
        auto r = script({"restart", std::to_string(n)});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        std::this_thread::sleep_for(300ms);
    }
    std::this_thread::sleep_for(300ms);
    stop = true;
    for (auto& c : clients)
        c.join();
    EXPECT_GT(ok.load(), 100);
    EXPECT_EQ(failed.load(), 0);
    // Every answered request was charged exactly once, and nothing is left reserved.
    EXPECT_EQ(redis(test::ledger_field("cluster", "cluster", "spent_tokens")),
              std::to_string(ok.load() * 27));
    EXPECT_EQ(redis(test::ledger_field("cluster", "cluster", "reserved_tokens")), "0");
}

}  // namespace
}  // namespace ditto::test
