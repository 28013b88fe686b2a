// redis+sentinel:// against a local primary, its replica and three Sentinels (docs/redis.md,
// "Sentinel"): two gateways find the primary through the Sentinels, follow a fail-over under
// load within their deadlines, and keep ledgers exact once the new primary serves.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "failover_fixture.hpp"
#include "support/inspect.hpp"
#include "support/load.hpp"
#include "support/replicas.hpp"
#include "support/wait.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

std::string redis_cli(int port, std::vector<std::string> args) {
    args.insert(args.begin(), {"-p", std::to_string(port)});
    return trim_end(run_to_exit("/usr/bin/redis-cli", args).out);
}

/// Three Sentinels watching `mymaster` (quorum 2), which they call down after 1 s.
class sentinels {
  public:
    /// `auth_pass`: the primary's password, which the Sentinels need to watch it (they have
    /// none of their own).
    sentinels(const temp_dir& dir, int primary_port, const std::string& auth_pass = "") {
        for (int i = 0; i < 3; ++i) {
            const int port = pick_free_port();
            const std::string conf = dir.write(
                "sentinel-" + std::to_string(i) + ".conf",
                "port " + std::to_string(port) +
                    "\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 " +
                    std::to_string(primary_port) +
                    " 2\nsentinel down-after-milliseconds mymaster 1000\n"
                    "sentinel failover-timeout mymaster 4000\n" +
                    (auth_pass.empty() ? std::string()
                                       : "sentinel auth-pass mymaster " + auth_pass + "\n"));
            procs_.push_back(std::make_unique<child_process>());
            procs_.back()->start("/usr/bin/redis-server", {conf, "--sentinel", "--logfile", ""});
            ports_.push_back(port);
        }
    }

    std::string url() const {
        std::string hosts;
        for (const int p : ports_)
            hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(p);
        return "redis+sentinel://" + hosts + "/mymaster";
    }

    /// Every Sentinel knows the replica and the two other Sentinels: a fail-over can be
    /// agreed on.
    bool ready() const {
        for (const int p : ports_) {
            const auto replicas = redis_cli(p, {"SENTINEL", "replicas", "mymaster"});
            const auto peers = redis_cli(p, {"SENTINEL", "sentinels", "mymaster"});
            std::size_t known_peers = 0;
            for (auto at = peers.find("runid"); at != std::string::npos;
                 at = peers.find("runid", at + 1))
                ++known_peers;
            if (replicas.find("slave") == std::string::npos || known_peers != 2)
                return false;
        }
        return true;
    }

    /// Every Sentinel answers.
    bool up() const {
        return std::all_of(ports_.begin(), ports_.end(),
                           [](int p) { return redis_cli(p, {"PING"}) == "PONG"; });
    }

    /// The primary's port as the first Sentinel reports it.
    int primary() const {
        const auto addr = redis_cli(ports_[0], {"SENTINEL", "get-master-addr-by-name", "mymaster"});
        const auto nl = addr.find('\n');
        return nl == std::string::npos ? 0 : std::atoi(addr.c_str() + nl + 1);
    }

    int port(std::size_t i) const { return ports_[i]; }
    ~sentinels() {
        for (auto& p : procs_)
            p->signal(SIGCONT);  // a stopped process would sit out SIGTERM's grace period
    }
    sentinels(const sentinels&) = delete;
    sentinels& operator=(const sentinels&) = delete;

    /// SIGSTOP: it still accepts connections (the kernel's backlog) and never answers.
    void pause(std::size_t i) { procs_[i]->signal(SIGSTOP); }

  private:
    std::vector<std::unique_ptr<child_process>> procs_;
    std::vector<int> ports_;
};

redis_server::options replica_of(int primary_port) {
    redis_server::options o;
    o.extra = {"--replicaof", "127.0.0.1", std::to_string(primary_port)};
    return o;
}

/// The primary starts a replica's first sync at once (Redis waits 5 s by default for more
/// replicas to join it).
redis_server::options primary() {
    redis_server::options o;
    o.extra = {"--repl-diskless-sync-delay", "0"};
    return o;
}

class Sentinel : public FailoverReplicas {
  protected:
    Sentinel()
        : FailoverReplicas(primary()),
          replica(replica_of(redis.port())),
          watch(files, redis.port()) {}

    void SetUp() override {
        ASSERT_TRUE(eventually([&] { return watch.ready(); }, 15s, 100ms))
            << "the Sentinels did not find the replica and each other";
        ASSERT_TRUE(eventually(
            [&] {
                return redis_cli(replica.port(), {"INFO", "replication"})
                           .find("master_link_status:up") != std::string::npos;
            },
            10s, 50ms))
            << "the replica did not sync";
        ASSERT_EQ(watch.primary(), redis.port());
        start(2, virtual_key_json("key-b", "vk-b", R"("budget":{"total_tokens":100000000})"),
              failover_args(watch.url()));
    }

    /// Connections of the gateways to the Redis on `port` (the Sentinels name theirs).
    static int gateway_clients(int port) {
        const auto list = redis_cli(port, {"CLIENT", "LIST"});
        int n = 0;
        for (std::size_t at = 0; at < list.size();) {
            auto end = list.find('\n', at);
            if (end == std::string::npos)
                end = list.size();
            const auto line = list.substr(at, end - at);
            at = end + 1;
            if (line.find(" name= ") != std::string::npos &&
                line.find("cmd=client|list") == std::string::npos &&
                line.find("flags=S") == std::string::npos)
                ++n;
        }
        return n;
    }

    redis_server replica;
    sentinels watch;
};

TEST_F(Sentinel, AFailOverAskedOfTheSentinelsUnderLoad) {
    std::uint64_t ok = 0;
    ASSERT_TRUE(both_serve(ok));
    ASSERT_GT(gateway_clients(redis.port()), 0);
    load clients({gws[0]->port, gws[1]->port}, 6, "vk-b", exact_chat);
    std::this_thread::sleep_for(300ms);
    // The replica is promoted while the old primary still runs, a primary too until Sentinel
    // makes it a replica seconds later: the gateways' watch of the Sentinels moves them.
    EXPECT_EQ(redis_cli(watch.port(0), {"SENTINEL", "FAILOVER", "mymaster"}), "OK");
    EXPECT_TRUE(eventually([&] { return watch.primary() == replica.port(); }, 10s, 50ms));
    const auto promoted = steady::now();
    const bool moved = eventually(
        [&] { return gateway_clients(replica.port()) > 0 && gateway_clients(redis.port()) == 0; },
        5s, 20ms);
    EXPECT_TRUE(moved) << "the gateways stayed on the old primary";
    std::printf("every gateway connection on the new primary %lld ms after the promotion\n",
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - promoted)
                        .count()));
    EXPECT_TRUE(both_serve(ok)) << "the gateways did not reach the new primary";
    std::this_thread::sleep_for(300ms);
    ok += check(clients.finish(), "SENTINEL FAILOVER");
    ledger_exact_from_now_on(ok);
}

TEST_F(Sentinel, APrimaryKilledUnderLoadFailsOverWithinTheDeadlines) {
    std::uint64_t ok = 0;
    ASSERT_TRUE(both_serve(ok));
    load clients({gws[0]->port, gws[1]->port}, 6, "vk-b", exact_chat);
    std::this_thread::sleep_for(300ms);
    const auto killed = steady::now();
    redis.kill();
    // The Sentinels call it down after 1 s, agree, and promote the replica.
    EXPECT_TRUE(eventually([&] { return watch.primary() == replica.port(); }, 15s, 50ms));
    EXPECT_TRUE(both_serve(ok)) << "the gateways did not reach the new primary";
    std::printf(
        "serving again %lld ms after the primary was killed\n",
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - killed).count()));
    std::this_thread::sleep_for(300ms);
    ok += check(clients.finish(), "primary killed");
    ledger_exact_from_now_on(ok);
}

TEST(SentinelStart, AnUnknownMasterNameStopsTheStartWithTheReason) {
    temp_dir dir;
    redis_server primary;
    sentinels watch(dir, primary.port());
    ASSERT_TRUE(eventually([&] { return watch.up(); }, 10s, 50ms));
    const std::string cfg = dir.write("gateway.json", basic_config(1));
    std::string url = watch.url();
    url.replace(url.rfind("mymaster"), 8, "nosuchmaster");
    const auto r = run_to_exit(DITTO_GATEWAY_BIN, {cfg, "--listen", "127.0.0.1:0", "--redis", url});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("no Sentinel named a primary"), std::string::npos) << r.err;
}

TEST(SentinelStart, AHungSentinelIsPassedOver) {
    // The first Sentinel of the list accepts connections and never answers: each Sentinel
    // gets a share of the connect deadline, so the next one is asked in time.
    temp_dir dir;
    redis_server primary;
    sentinels watch(dir, primary.port());
    ASSERT_TRUE(eventually([&] { return watch.up(); }, 10s, 50ms));
    watch.pause(0);
    running_mock mock;
    mock.start();
    running_gateway gw;
    gw.start(basic_config(mock.port), {"--redis", watch.url()});
    const auto r =
        http_request(gw.port, "POST", "/v1/chat/completions", chat_body,
                     {{"Authorization", "Bearer vk-test-1"}, {"Content-Type", "application/json"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_NE(redis_cli(primary.port(), {"CLIENT", "LIST"}).find("cmd="), std::string::npos);
}

TEST(SentinelStart, APasswordForTheDataNodesIsNotRequiredOfTheSentinels) {
    // The URL's password is the primary's; these Sentinels have none and refuse AUTH ("called
    // without any password configured"), and are asked all the same.
    temp_dir dir;
    redis_server::options o;
    o.password = "data-pw-77";
    redis_server primary(o);
    sentinels watch(dir, primary.port(), o.password);
    ASSERT_TRUE(eventually([&] { return watch.up(); }, 10s, 50ms));
    std::string url = watch.url();
    url.replace(url.find("://") + 3, 0, ":data-pw-77@");
    running_mock mock;
    mock.start();
    running_gateway gw;
    gw.start(basic_config(mock.port), {"--redis", url});
    const auto r =
        http_request(gw.port, "POST", "/v1/chat/completions", chat_body,
                     {{"Authorization", "Bearer vk-test-1"}, {"Content-Type", "application/json"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    // A wrong password is refused by the primary, not taken for a Sentinel's quirk.
    std::string wrong = watch.url();
    wrong.replace(wrong.find("://") + 3, 0, ":not-it@");
    const auto refused = run_to_exit(
        DITTO_GATEWAY_BIN,
        {dir.write("gw.json", basic_config(1)), "--listen", "127.0.0.1:0", "--redis", wrong});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.err.find("authentication failed"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace ditto::test
