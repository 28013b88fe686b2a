// Several ditto-gateway processes sharing one real redis-server (docs/redis.md): limits and budgets
// exact across replicas, key changes reaching every replica, Redis outages handled by policy, and
// reservations of a dead replica reaped.
#include "support/replicas.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <thread>

#include "support/redis_layout.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

TEST_F(Replicas, RpmIsExactAcrossThreeReplicas) {
    start(3, virtual_key_json("key-1", "vk-1", R"("limits":{"rpm":50})"), {"--workers", "2"});
    const auto statuses = spread("vk-1", 100);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 50);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429), 250);
    EXPECT_EQ(mock.request_count(), 50);
}

TEST_F(Replicas, TokenBudgetIsExactAcrossThreeReplicas) {
    // 40 requests of 27 fit; the ledger ends at exactly their reported usage.
    start(3, virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":1080})"));
    const auto statuses = spread("vk-1", 100);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 40);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 402), 260);
    EXPECT_EQ(cli(ledger_field("t", "key-1", "spent_tokens")), "1080");
    EXPECT_EQ(cli(ledger_field("t", "key-1", "reserved_tokens")), "0");
    auto r = post(1, "vk-1");
    EXPECT_NE(r->body.find("limit=1080 attempted=1107"), std::string::npos) << r->body;
}

TEST_F(Replicas, UsdBudgetIsExactAcrossThreeReplicas) {
    // 18·1 + 9·2 = 36 µ$ per request; 40 fit in 1440.
    const auto pricing = files.write(
        "pricing.json", R"({"m":{"input_cost_per_token":1e-6,"output_cost_per_token":2e-6}})");
    start(3, virtual_key_json("key-1", "vk-1", R"("budget":{"total_usd_micros":1440})"),
          {"--pricing-litellm", pricing});
    const auto statuses = spread("vk-1", 100);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 40);
    EXPECT_EQ(cli(ledger_field("t", "key-1", "spent_usd_micros")), "1440");
    EXPECT_EQ(cli(ledger_field("t", "key-1", "reserved_usd_micros")), "0");
}

TEST_F(Replicas, AKeyDisabledInTheStoreIsRefusedByEveryReplicaWithinOneSecond) {
    start(3, virtual_key_json("key-1", "vk-1"));
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(post(i, "vk-1")->status, 200);
    // What replica A's Admin API writes: the key document, then the new version.
    auto doc = cli({"HGET", "t:virtual_keys", "key-1"});
    const auto at = doc.find(R"("enabled":true)");
    ASSERT_NE(at, std::string::npos) << doc;
    doc.replace(at, 14, R"("enabled":false)");
    EXPECT_EQ(doc.find("vk-1"), std::string::npos) << "raw token stored: " << doc;
    const auto changed = std::chrono::steady_clock::now();
    cli({"HSET", "t:virtual_keys", "key-1", doc});
    cli({"INCR", "t:control_version"});
    for (int i = 1; i < 3; ++i) {
        int status = 0;
        while (std::chrono::steady_clock::now() - changed < 5s) {
            status = post(i, "vk-1")->status;
            if (status == 401)
                break;
            std::this_thread::sleep_for(5ms);
        }
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - changed)
                            .count();
        EXPECT_EQ(status, 401);
        EXPECT_LT(ms, 1000) << "replica " << i;
        RecordProperty("propagation_ms_replica_" + std::to_string(i), static_cast<int>(ms));
        std::cout << "key change reached replica " << i << " in " << ms << " ms\n";
    }
}

class ReplicasDurableRedis : public Replicas {
  protected:
    ReplicasDurableRedis() : Replicas({}, true) {}
};

TEST_F(ReplicasDurableRedis, RedisKilledMidLoadFollowsThePolicyAndReconciles) {
    start(1,
          virtual_key_json("key-b", "vk-b", R"("budget":{"total_tokens":1000000})") + "," +
              virtual_key_json("key-r", "vk-r", R"("limits":{"rpm":1000})"),
          {"--redis-timeout-ms", "250"});
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(post(0, "vk-b")->status, 200);
    // One request is in flight (reserved in Redis) when Redis dies.
    std::optional<http_response> slow;
    std::thread in_flight([&] {
        slow =
            post(0, "vk-b", exact_chat, {{"x-mock-delay-ms", "1500"}, {"x-request-id", "slow-1"}});
    });
    std::this_thread::sleep_for(300ms);
    ASSERT_EQ(cli(ledger_field("t", "key-b", "reserved_tokens")), "27");
    redis.kill();

    // Budgets fail closed, fast; rate limits fall back to the replica's own limiter.
    const auto t0 = std::chrono::steady_clock::now();
    auto refused = post(0, "vk-b", exact_chat, {{"x-request-id", "refused-1"}});
    const auto waited = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503);
    EXPECT_NE(refused->body.find(R"("code":"store_unavailable")"), std::string::npos)
        << refused->body;
    EXPECT_LT(waited, 1s);
    EXPECT_EQ(post(0, "vk-r")->status, 200);
    auto ready = http_request(gws[0]->port, "GET", "/ready");
    EXPECT_EQ(ready->status, 503);
    EXPECT_NE(ready->body.find("store.redis"), std::string::npos) << ready->body;

    in_flight.join();
    ASSERT_TRUE(slow);
    EXPECT_EQ(slow->status, 200);  // its settlement waits for Redis

    redis.restart();
    // The waiting settlement is written once Redis is back: nothing reserved, and spent is
    // exactly the four requests that succeeded.
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline &&
           cli(ledger_field("t", "key-b", "reserved_tokens")) != "0") {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(cli(ledger_field("t", "key-b", "reserved_tokens")), "0");
    EXPECT_EQ(cli(ledger_field("t", "key-b", "spent_tokens")), "108");
    // The audit records written during the outage are not lost either.
    auto slow_record = await_audit("slow-1");
    EXPECT_EQ(slow_record.first, "proxy");
    EXPECT_NE(slow_record.second.find(R"("spent_tokens":27)"), std::string::npos)
        << slow_record.second;
    auto refused_record = await_audit("refused-1");
    EXPECT_EQ(refused_record.first, "proxy.blocked");
    EXPECT_NE(refused_record.second.find(R"("reason":"storage_error")"), std::string::npos)
        << refused_record.second;
    // And the gateway serves budgets again by itself.
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        status = post(0, "vk-b")->status;
        if (status == 200)
            break;
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(status, 200);
    // Readiness too: each worker's connection reconnects on its own backoff (at most 2 s).
    int ready_status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        ready_status = http_request(gws[0]->port, "GET", "/ready")->status;
        if (ready_status == 200)
            break;
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(ready_status, 200);
}

TEST_F(Replicas, ReservationsOfAKilledReplicaAreReaped) {
    start(2, virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":1000000})"),
          {"--reservation-lease-secs", "1"});
    std::thread in_flight([&] { post(0, "vk-1", exact_chat, {{"x-mock-delay-ms", "8000"}}); });
    std::this_thread::sleep_for(300ms);
    ASSERT_EQ(cli(ledger_field("t", "key-1", "reserved_tokens")), "27");
    gws[0]->proc.signal(SIGKILL);
    // Replica 1 reaps leases older than a second, every second.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline &&
           cli(ledger_field("t", "key-1", "reserved_tokens")) != "0") {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(cli(ledger_field("t", "key-1", "reserved_tokens")), "0");
    // Nothing was spent: the field was never written.
    EXPECT_EQ(cli(ledger_field("t", "key-1", "spent_tokens")), "");
    in_flight.join();
}

TEST_F(Replicas, BootstrapWritesHashedTokensAndRedisWinsAfterwards) {
    start(1, virtual_key_json("key-1", "vk-1"));
    const auto doc = cli({"HGET", "t:virtual_keys", "key-1"});
    EXPECT_NE(doc.find(R"("token":"sha256:)"), std::string::npos) << doc;
    // A second replica whose file has another key still serves what Redis holds.
    running_gateway other;
    other.start(R"({"backends":[{"name":"primary","base_url":"http://127.0.0.1:)" +
                    std::to_string(mock.port) + R"(/v1"}],"virtual_keys":[)" +
                    virtual_key_json("key-2", "vk-2") +
                    R"(],"router":{"default_backends":[{"backend":"primary"}]}})",
                {"--redis", redis.url(), "--redis-prefix", "t"});
    auto r = http_request(other.port, "POST", "/v1/chat/completions", exact_chat,
                          {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}});
    EXPECT_EQ(r->status, 200);
    auto no =
        http_request(other.port, "POST", "/v1/chat/completions", exact_chat,
                     {{"Authorization", "Bearer vk-2"}, {"Content-Type", "application/json"}});
    EXPECT_EQ(no->status, 401);
}

TEST_F(Replicas, P2_AnAuditWriteTheStoreRefusesFailsTheAnswer) {
    // Acceptance scenario P2 (docs/testing.md): the store is up but refuses the audit write (here:
    // out of memory) — the upstream was called, the client gets 500 storage_error.
    start(1, virtual_key_json("key-1", "vk-1"));
    ASSERT_EQ(post(0, "vk-1")->status, 200);
    cli({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
    cli({"CONFIG", "SET", "maxmemory", "1"});
    auto r = post(0, "vk-1");
    cli({"CONFIG", "SET", "maxmemory", "0"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
    EXPECT_NE(r->body.find(R"("code":"storage_error")"), std::string::npos) << r->body;
    EXPECT_EQ(mock.request_count(), 2);
}

TEST_F(Replicas, AuditRecordsForEveryOutcome) {
    // docs/governance.md, "Audit": `proxy` for an answer (stream or not), `proxy.error` when no
    // backend answered, `proxy.blocked` for a budget refusal; never a token.
    start(1,
          virtual_key_json("key-1", "vk-1",
                           R"("budget":{"total_tokens":1000},"tenant_id":"acme","user_id":"u1")") +
              "," + virtual_key_json("key-2", "vk-2", R"("budget":{"total_tokens":5})"),
          {}, R"(,"timeout_seconds":1)");
    ASSERT_EQ(post(0, "vk-1", exact_chat, {{"x-request-id", "ok-1"}})->status, 200);
    const std::string stream = R"({"model":"m","stream":true,"max_tokens":9,"messages":[]})";
    ASSERT_EQ(post(0, "vk-1", stream, {{"x-request-id", "stream-1"}})->status, 200);
    ASSERT_EQ(post(0, "vk-1", exact_chat, {{"x-request-id", "slow-1"}, {"x-mock-delay-ms", "2000"}})
                  ->status,
              504);
    ASSERT_EQ(post(0, "vk-2", exact_chat, {{"x-request-id", "blocked-1"}})->status, 402);

    const auto ok = audit_of("ok-1");
    EXPECT_EQ(ok.first, "proxy");
    for (const char* field :
         {R"("virtual_key_id":"key-1")", R"("backend":"primary")", R"("status":200)",
          R"("charge_tokens":27)", R"("total_tokens":27)", R"("spent_tokens":27)",
          R"("tenant_id":"acme")", R"("user_id":"u1")", R"("service_tier":null)",
          R"("attempted_backends":["primary"])", R"("provider":"openai")"}) {
        EXPECT_NE(ok.second.find(field), std::string::npos) << field << " in " << ok.second;
    }
    EXPECT_EQ(ok.second.find("vk-1"), std::string::npos) << "token in audit: " << ok.second;

    const auto streamed = audit_of("stream-1");
    EXPECT_EQ(streamed.first, "proxy");
    EXPECT_NE(streamed.second.find(R"("stream":true)"), std::string::npos) << streamed.second;
    EXPECT_NE(streamed.second.find(R"("output_tokens":9)"), std::string::npos) << streamed.second;

    const auto failed = audit_of("slow-1");
    EXPECT_EQ(failed.first, "proxy.error");
    EXPECT_NE(failed.second.find(R"("error_code":"backend_timeout")"), std::string::npos)
        << failed.second;
    EXPECT_NE(failed.second.find(R"("status":504)"), std::string::npos) << failed.second;

    const auto blocked = audit_of("blocked-1");
    EXPECT_EQ(blocked.first, "proxy.blocked");
    for (const char* field : {R"("reason":"budget_exceeded")", R"("budget_scope":"key-2")",
                              R"("limit":5)", R"("attempted":27)"}) {
        EXPECT_NE(blocked.second.find(field), std::string::npos)
            << field << " in " << blocked.second;
    }
    // Kept for --audit-retention-secs (30 days by default).
    if (redis_layout2()) {
        // One stream, trimmed by age as records are added (XADD … MINID): it never expires.
        EXPECT_EQ(cli({"TTL", "t:audit"}), "-1");
        EXPECT_EQ(cli({"XLEN", "t:audit"}), "4");
        return;
    }
    const auto ttl = std::stol(cli({"TTL", "t:audit:00000000000000000001"}));
    EXPECT_GT(ttl, 29L * 24 * 3600);
}

TEST_F(Replicas, AGovernedRequestsAuditRecordIsStoredRedacted) {
    // The record goes to Redis with the request's settlement (docs/redis.md, "Layout v2"): it is
    // redacted before it is stored, not only when it is read back (the Admin API redacts again).
    start(1, virtual_key_json("key-1", "vk-1",
                              R"("limits":{"rpm":100},"budget":{"total_tokens":10000})"));
    const std::string secret =
        R"({"model":"sk-abcdefghijklmnop1234","max_tokens":5,"messages":[]})";
    ASSERT_EQ(post(0, "vk-1", secret, {{"x-request-id", "secret-1"}})->status, 200);
    const auto stored = await_audit("secret-1", std::chrono::seconds(5));
    EXPECT_EQ(stored.first, "proxy");
    EXPECT_EQ(stored.second.find("sk-abcdefghijklmnop1234"), std::string::npos) << stored.second;
    EXPECT_NE(stored.second.find(R"("model":"<redacted>")"), std::string::npos) << stored.second;
}

TEST_F(Replicas, FailOpenAdmitsWithoutAReservationWhileRedisIsDown) {
    start(1, virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":1000000})"),
          {"--redis-failure-mode", "open"});
    ASSERT_EQ(post(0, "vk-1")->status, 200);
    redis.kill();
    auto r = post(0, "vk-1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(mock.request_count(), 2);
}

TEST_F(Replicas, RedisUrlFromTheEnvironment) {
    start(1, virtual_key_json("key-1", "vk-1", R"("limits":{"rpm":1})"),
          {"--redis-env", "DITTO_TEST_REDIS"}, "", {{"DITTO_TEST_REDIS", redis.url()}});
    EXPECT_EQ(post(0, "vk-1")->status, 200);
    EXPECT_EQ(post(0, "vk-1")->status, 429);  // counted in that Redis
    EXPECT_NE(cli(rate_counters("t", "key-1")), "");
}

TEST_F(Replicas, InvalidKeysWrittenToTheStoreAreRefusedAndTheRunningOnesKept) {
    start(1, virtual_key_json("key-1", "vk-1"));
    ASSERT_EQ(post(0, "vk-1")->status, 200);
    cli({"HSET", "t:virtual_keys", "key-1", R"({"id":"key-1","token":7})"});
    cli({"INCR", "t:control_version"});
    EXPECT_TRUE(gws[0]->proc.wait_for_stderr("store.reload_invalid", 5s));
    EXPECT_EQ(post(0, "vk-1")->status, 200);
}

TEST(RedisStartup, BadRedisSettingsAreClearErrors) {
    temp_dir dir;
    const auto cfg = dir.write("gateway.json", basic_config(9));
    const auto bad_url = run_to_exit(
        DITTO_GATEWAY_BIN, {cfg, "--listen", "127.0.0.1:0", "--redis", "redis://:pw@h:99999"});
    EXPECT_EQ(bad_url.exit_code, 1);
    EXPECT_NE(bad_url.err.find("--redis:"), std::string::npos) << bad_url.err;
    EXPECT_EQ(bad_url.err.find("pw"), std::string::npos) << bad_url.err;
    // rediss:// is TLS (tests/redis/redis_secure_test.cpp): here only a host that is not there.
    const auto tls = run_to_exit(
        DITTO_GATEWAY_BIN, {cfg, "--listen", "127.0.0.1:0", "--redis", "rediss://:pw@h:6379"});
    EXPECT_EQ(tls.exit_code, 1);
    EXPECT_NE(tls.err.find("redis=rediss://:***@h:6379/0"), std::string::npos) << tls.err;
    const auto bad_layout = run_to_exit(
        DITTO_GATEWAY_BIN,
        {cfg, "--listen", "127.0.0.1:0", "--redis", "redis://h:6379", "--redis-layout", "3"});
    EXPECT_EQ(bad_layout.exit_code, 2);
    EXPECT_NE(bad_layout.err.find("--redis-layout"), std::string::npos) << bad_layout.err;
    const auto layout_alone =
        run_to_exit(DITTO_GATEWAY_BIN, {cfg, "--listen", "127.0.0.1:0", "--redis-layout", "2"});
    EXPECT_EQ(layout_alone.exit_code, 2);
    EXPECT_NE(layout_alone.err.find("require --redis"), std::string::npos) << layout_alone.err;
    const auto no_env = run_to_exit(
        DITTO_GATEWAY_BIN, {cfg, "--listen", "127.0.0.1:0", "--redis-env", "DITTO_NO_SUCH_VAR"});
    EXPECT_EQ(no_env.exit_code, 1);
    EXPECT_NE(no_env.err.find("missing env var: DITTO_NO_SUCH_VAR"), std::string::npos)
        << no_env.err;
}

TEST(RedisStartup, UnreachableRedisIsFatal) {
    temp_dir dir;
    const auto r = run_to_exit(
        DITTO_GATEWAY_BIN, {dir.write("gateway.json", basic_config(9)), "--listen", "127.0.0.1:0",
                            "--redis", "redis://:hunter2@127.0.0.1:1/0"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot reach Redis"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
}

// docs/redis.md, "Failure modes", "At shutdown": a write left to the background thread at exit
// (here an audit record retried after Redis hung) is finished, not abandoned after the grace.
// REGRESSION: the background thread kept the connection the shutdown had closed, so the write
// failed until the grace ran out, and "pending settlements abandoned at exit" was logged.
TEST_F(Replicas, AWriteLeftToTheBackgroundAtExitIsFinished) {
    start(1, virtual_key_json("key-1", "vk-1"), {"--redis-timeout-ms", "200"});
    ASSERT_EQ(post(0, "vk-1")->status, 200);
    redis.pause();
    const auto r = post(0, "vk-1");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    const auto id = r->header("x-request-id");
    ASSERT_TRUE(gws[0]->proc.wait_for_stderr("store.retry", 5s)) << gws[0]->proc.stderr_text();
    redis.resume();
    const auto t0 = std::chrono::steady_clock::now();
    gws[0]->proc.signal(SIGTERM);
    ASSERT_TRUE(gws[0]->proc.wait_exit(15s));
    const auto took = std::chrono::steady_clock::now() - t0;
    const auto err = gws[0]->proc.stderr_text();
    EXPECT_EQ(err.find("abandoned"), std::string::npos) << err;
    EXPECT_NE(err.find("store.retry_done"), std::string::npos) << err;
    EXPECT_LT(took, 3s) << err;
    EXPECT_EQ(audit_of(id).first, "proxy");
}

// The same with Redis still hung at the exit: the write cannot land, and the exit waits the
// grace once (5 s), not once for the writes and again for the background thread.
TEST_F(Replicas, AWriteThatCannotLandHoldsTheExitForOneGraceOnly) {
    start(1, virtual_key_json("key-1", "vk-1"), {"--redis-timeout-ms", "200"});
    ASSERT_EQ(post(0, "vk-1")->status, 200);
    redis.pause();
    ASSERT_EQ(post(0, "vk-1")->status, 200);
    ASSERT_TRUE(gws[0]->proc.wait_for_stderr("store.retry", 5s)) << gws[0]->proc.stderr_text();
    const auto t0 = std::chrono::steady_clock::now();
    gws[0]->proc.signal(SIGTERM);
    ASSERT_TRUE(gws[0]->proc.wait_exit(15s));
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, 4500ms);
    EXPECT_LT(took, 6500ms);
    EXPECT_NE(gws[0]->proc.stderr_text().find("abandoned"), std::string::npos);
    redis.resume();
}

// docs/redis.md, "Layout v2": a prefix holds one key layout; a replica of the other is refused at
// start-up with an error that says which flag to use, and nothing is written.
TEST(RedisStartup, AReplicaOfTheOtherKeyLayoutIsRefused) {
    redis_server redis;
    temp_dir dir;
    const auto cfg = dir.write("gateway.json", basic_config(9));
    const auto cli = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"-p", std::to_string(redis.port())});
        return run_to_exit("/usr/bin/redis-cli", args).out;
    };
    cli({"SADD", "old:budget_keys", "key-1"});  // layout 1's ledger index
    const auto v2_on_old =
        run_to_exit(DITTO_GATEWAY_BIN, {cfg, "--listen", "127.0.0.1:0", "--redis", redis.url(),
                                        "--redis-prefix", "old", "--redis-layout", "2"});
    EXPECT_EQ(v2_on_old.exit_code, 1);
    EXPECT_NE(v2_on_old.err.find("holds key layout 1"), std::string::npos) << v2_on_old.err;
    EXPECT_EQ(cli({"EXISTS", "old:layout"}), "0\n");

    cli({"SET", "new:layout", "2"});
    const auto v1_on_new =
        run_to_exit(DITTO_GATEWAY_BIN, {cfg, "--listen", "127.0.0.1:0", "--redis", redis.url(),
                                        "--redis-prefix", "new", "--redis-layout", "1"});
    EXPECT_EQ(v1_on_new.exit_code, 1);
    EXPECT_NE(v1_on_new.err.find("start this replica with --redis-layout 2"), std::string::npos)
        << v1_on_new.err;
}

// docs/redis.md, "Upgrading from layout 1": a prefix of layout 1 — ledgers, a dead replica's open
// reservation, audit records — is moved by the first replica started with --redis-migrate; the
// ledgers carry on exactly, the reservation is released by the layout 2 reaper, the old audit
// records are still listed, and a layout 1 replica still running stops governing.
TEST_F(Replicas, ALayoutOnePrefixIsMovedByTheFirstReplicaStartedWithRedisMigrate) {
    start(2, virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":100000})"),
          {"--redis-layout", "1", "--admin-token", "adm"});
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(
            post(0, "vk-1", exact_chat, {{"x-request-id", "v1-" + std::to_string(i)}})->status,
            200);
    // Replica 0 dies with a request in flight: its reservation stays open. Its id has spaces,
    // which a reservation id keeps (a field name in layout 2).
    std::thread in_flight([&] {
        post(0, "vk-1", exact_chat, {{"x-mock-delay-ms", "3000"}, {"x-request-id", "in flight"}});
    });
    std::this_thread::sleep_for(300ms);
    ASSERT_EQ(cli({"HGET", "t:budget_ledger:key-1", "reserved_tokens"}), "27");
    gws[0]->proc.signal(SIGKILL);
    in_flight.join();

    // Without --redis-migrate, layout 2 refuses the prefix and says how to move it.
    temp_dir dir;
    const auto cfg = dir.write("gateway.json", config);
    const auto refused =
        run_to_exit(DITTO_GATEWAY_BIN, {cfg, "--listen", "127.0.0.1:0", "--redis", redis.url(),
                                        "--redis-prefix", "t", "--redis-layout", "2"});
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("--redis-migrate"), std::string::npos) << refused.err;
    EXPECT_EQ(cli({"EXISTS", "t:layout"}), "0");

    gws.push_back(std::make_unique<running_gateway>());
    gws.back()->start(config, {"--redis", redis.url(), "--redis-prefix", "t", "--redis-layout", "2",
                               "--redis-migrate", "--admin-token", "adm"});
    EXPECT_EQ(cli({"GET", "t:layout"}), "2");
    EXPECT_EQ(cli({"EXISTS", "t:budget_ledger:key-1", "t:budget_keys", "t:reservations_by_ts"}),
              "0");
    EXPECT_EQ(cli({"HGET", "t:scope:key-1", "st"}), "81");
    EXPECT_EQ(cli({"HGET", "t:scope:key-1", "rt"}), "27");

    // The layout 1 replica still running is out of the rotation, and admits nothing.
    auto ready = http_request(gws[1]->port, "GET", "/ready");
    EXPECT_EQ(ready->status, 503);
    EXPECT_NE(ready->body.find("moved to key layout 2"), std::string::npos) << ready->body;
    EXPECT_EQ(post(1, "vk-1")->status, 503);

    // Layout 2 goes on from the moved ledger, and its reaper releases the dead reservation.
    ASSERT_EQ(post(2, "vk-1", exact_chat, {{"x-request-id", "v2-0"}})->status, 200);
    EXPECT_EQ(cli({"HGET", "t:scope:key-1", "st"}), "108");
    const http_headers admin = {{"Authorization", "Bearer adm"}};
    auto reaped = http_request(gws[2]->port, "POST", "/admin/reservations/reap",
                               R"({"older_than_secs":0})", admin);
    ASSERT_EQ(reaped->status, 200) << reaped->body;
    EXPECT_NE(reaped->body.find(R"("reaped":1)"), std::string::npos) << reaped->body;
    EXPECT_EQ(cli({"HGET", "t:scope:key-1", "rt"}), "0");
    EXPECT_EQ(cli({"HGET", "t:scope:key-1", "st"}), "108");

    // The audit: the new record first, then layout 1's, still listed.
    auto audit = http_request(gws[2]->port, "GET", "/admin/audit?limit=10", "", admin);
    ASSERT_EQ(audit->status, 200);
    const auto at_new = audit->body.find("v2-0");
    const auto at_old = audit->body.find("v1-2");
    ASSERT_NE(at_new, std::string::npos) << audit->body;
    ASSERT_NE(at_old, std::string::npos) << audit->body;
    EXPECT_LT(at_new, at_old);
    EXPECT_NE(audit->body.find("v1-0"), std::string::npos);
}

// REGRESSION: an exit after the store had opened (the upstreams cannot be built, the address
// cannot be bound) left Redis' change feed running, which held the background thread, and so
// the exit, for its whole 5 s grace and logged a false "pending settlements abandoned".
TEST(RedisStartup, LaterStartupFailuresCloseTheStoreAndExitAtOnce) {
    redis_server redis;
    temp_dir dir;
    const auto check = [](const run_result& r, std::chrono::milliseconds took,
                          const std::string& error) {
        EXPECT_EQ(r.exit_code, 1);
        EXPECT_NE(r.err.find(error), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("store.redis"), std::string::npos) << r.err;  // it had opened
        EXPECT_EQ(r.err.find("background.stop"), std::string::npos) << r.err;
        EXPECT_LT(took, 3s);
    };
    const auto timed_run = [](const std::vector<std::string>& args) {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = run_to_exit(DITTO_GATEWAY_BIN, args);
        return std::pair(std::move(r), std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - t0));
    };
    // A CA file that exists but holds no certificate passes validation; the backend's TLS
    // context then cannot be built.
    const auto ca = dir.write("ca.pem", "not a certificate\n");
    const auto bad_ca = dir.write("bad-ca.json", R"({
  "backends": [{"name": "primary", "base_url": "https://127.0.0.1:9/v1", "tls_ca_file": ")" +
                                                     ca + R"("}],
  "virtual_keys": [],
  "router": {"default_backends": [{"backend": "primary"}], "rules": []}
})");
    const auto [upstreams, upstreams_took] =
        timed_run({bad_ca, "--listen", "127.0.0.1:0", "--redis", redis.url(1)});
    check(upstreams, upstreams_took, "cannot load CA certificates");
    // Redis' own port is taken by a plain listener: the gateway cannot bind it.
    const auto [listen, listen_took] =
        timed_run({dir.write("gateway.json", basic_config(9)), "--listen",
                   "127.0.0.1:" + std::to_string(redis.port()), "--redis", redis.url(2)});
    check(listen, listen_took, "cannot listen on");
}

}  // namespace
}  // namespace ditto::test
