// docs/routing.md and acceptance scenarios R2-R6, R11 (docs/testing.md) through the real gateway
// and real mock upstreams: retry and fallback by status, the safety guard, the circuit breaker
// (ejection, cooldown, readmission), retry-after, active health checks and /ready, /admin/backends,
// and one budget reservation however many attempts a request takes.
#include <thread>

#include "support/keyed_gateway.hpp"
#include "support/wait.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

// Up to three mocks; primary is always tried first, then secondary, then tertiary (the
// weighted pick is seeded by the request id; these weights make primary first for any id).
class Routing : public ::testing::Test {
  protected:
    struct backend {
        std::string extra;  ///< appended to the backend object, e.g. headers
    };
    void start(std::vector<std::string> args, const std::string& primary_extra = "",
               const std::string& secondary_extra = "", bool third = false,
               const std::string& keys = "", const std::string& tertiary_extra = "") {
        primary.start();
        secondary.start();
        if (third)
            tertiary.start();
        primary_port = primary.port;
        std::string backends = spec("primary", primary.port, primary_extra) + "," +
                               spec("secondary", secondary.port, secondary_extra);
        std::string weights = R"({"backend":"primary","weight":1000000},)"
                              R"({"backend":"secondary","weight":0.000001})";
        if (third) {
            backends += "," + spec("tertiary", tertiary.port, tertiary_extra);
            weights += R"(,{"backend":"tertiary","weight":0.000001})";
        }
        args.insert(args.end(), {"--admin-token", "adm"});
        gw.start(R"({"backends":[)" + backends + R"(],"virtual_keys":[)" +
                     (keys.empty() ? virtual_key_json("key-1", "vk-1") : keys) +
                     R"(],"router":{"default_backends":[)" + weights + "]}}",
                 args);
    }
    static std::string spec(const std::string& name, int port, const std::string& extra) {
        return R"({"name":")" + name + R"(","base_url":"http://127.0.0.1:)" + std::to_string(port) +
               R"(/v1")" + extra + "}";
    }
    std::optional<http_response> chat(const std::string& request_id = "",
                                      const std::string& body = chat_body) {
        http_headers h{{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}};
        if (!request_id.empty())
            h.emplace_back("x-request-id", request_id);
        return http_request(gw.port, "POST", "/v1/chat/completions", body, h);
    }
    std::string backends() {
        return http_request(gw.port, "GET", "/admin/backends", "",
                            {{"Authorization", "Bearer adm"}})
            ->body;
    }
    /// A mock on the primary's old port (after kill()).
    void restart_primary() {
        revived.start(DITTO_MOCK_BIN, {"--listen", "127.0.0.1:" + std::to_string(primary_port)});
        ASSERT_TRUE(revived.wait_for_port());
    }

    running_mock primary, secondary, tertiary;
    child_process revived;
    int primary_port = 0;
    running_gateway gw;
};

const std::string fails_500 = R"(,"headers":{"x-mock-status":"500"})";
const std::string fails_503 = R"(,"headers":{"x-mock-status":"503"})";

TEST_F(Routing, R2_RetryStatusMovesToTheNextBackend) {
    start({"--proxy-retry-status-codes", "500", "--proxy-retry-max-attempts", "2"}, fails_500);
    auto r = chat("req-r2");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-ditto-backend"), "secondary");
    EXPECT_EQ(primary.request_count(), 1);
    EXPECT_EQ(secondary.request_count(), 1);
}

TEST_F(Routing, WithoutARequestIdAPostNeverFailsOverAfterBeingSent) {
    start({"--proxy-retry-status-codes", "500"}, fails_500);
    auto r = chat();
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->header("x-ditto-backend"), "primary");
    EXPECT_EQ(secondary.request_count(), 0);
}

TEST_F(Routing, MaxAttemptsBoundsTheLoopAndTheLastAnswerPassesThrough) {
    start({"--proxy-retry-status-codes", "500", "--proxy-retry-max-attempts", "2"}, fails_500,
          fails_500, true);
    auto r = chat("req-max");
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->header("x-ditto-backend"), "secondary");
    EXPECT_EQ(tertiary.request_count(), 0);
}

TEST_F(Routing, R4_R5_FallbackStatusesWithRetryOff) {
    start({"--proxy-fallback-status-codes", "503"}, fails_503);
    auto r = chat("req-r4");
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-ditto-backend"), "secondary");
}

TEST_F(Routing, R5_AStatusNotListedPassesThrough) {
    start({"--proxy-fallback-status-codes", "429"}, fails_503);
    auto r = chat("req-r5");
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(secondary.request_count(), 0);
}

TEST_F(Routing, R3_BreakerSendsTheNextRequestStraightToTheSecondary) {
    start({"--proxy-retry-status-codes", "500", "--proxy-cb-failure-threshold", "1",
           "--proxy-cb-cooldown-secs", "300"},
          fails_500);
    EXPECT_EQ(chat("req-1")->header("x-ditto-backend"), "secondary");
    // No request id: it could not fail over, so only the breaker keeps it off the primary.
    auto second = chat();
    EXPECT_EQ(second->status, 200);
    EXPECT_EQ(second->header("x-ditto-backend"), "secondary");
    EXPECT_EQ(primary.request_count(), 1);
    EXPECT_EQ(secondary.request_count(), 2);
    const auto state = backends();
    EXPECT_NE(state.find(R"({"backend":"primary","consecutive_failures":1,)"
                         R"("unhealthy_until_epoch_seconds":)"),
              std::string::npos)
        << state;
    EXPECT_NE(state.find(R"("last_error":"upstream status 500")"), std::string::npos) << state;
}

TEST_F(Routing, R11_AfterTheCooldownThePrimaryIsTriedAgain) {
    start({"--proxy-retry-status-codes", "500", "--proxy-cb-failure-threshold", "1",
           "--proxy-cb-cooldown-secs", "1"},
          fails_500);
    chat("req-1");
    chat();
    EXPECT_EQ(primary.request_count(), 1);
    EXPECT_EQ(secondary.request_count(), 2);
    std::this_thread::sleep_for(2100ms);  // the cooldown (whole seconds) is what is under test
    chat("req-3");
    EXPECT_EQ(primary.request_count(), 2);
    EXPECT_EQ(secondary.request_count(), 3);
}

TEST_F(Routing, ABackendThatDiesMidRunIsEjectedThenReadmitted) {
    // One worker: one pool, so which request meets the dead pooled connection is known.
    start({"--proxy-circuit-breaker", "--proxy-cb-failure-threshold", "2",
           "--proxy-cb-cooldown-secs", "1", "--workers", "1"});
    EXPECT_EQ(chat("d-1")->header("x-ditto-backend"), "primary");
    primary.proc.signal(SIGKILL);
    ASSERT_TRUE(primary.proc.wait_exit(5s));
    // The first request after the kill finds the pooled keep-alive connection dead (it may
    // have been sent: it needs its id to fail over); the next one is refused at connect, so
    // it falls back even without an id. Two failures open the breaker.
    EXPECT_EQ(chat("d-2")->header("x-ditto-backend"), "secondary");
    EXPECT_EQ(chat()->header("x-ditto-backend"), "secondary");
    EXPECT_NE(backends().find(R"({"backend":"primary","consecutive_failures":2,)"),
              std::string::npos)
        << backends();
    restart_primary();
    // Ejected: the revived primary is not tried during the cooldown...
    EXPECT_EQ(chat()->header("x-ditto-backend"), "secondary");
    // ...and is readmitted after it; its first answer closes the breaker.
    ASSERT_TRUE(eventually([&] { return chat()->header("x-ditto-backend") == "primary"; }, 4s));
    EXPECT_NE(backends().find(R"({"backend":"primary","consecutive_failures":0,)"
                              R"("unhealthy_until_epoch_seconds":0)"),
              std::string::npos)
        << backends();
}

TEST_F(Routing, An429WithRetryAfterKeepsTheBackendAsideThatLong) {
    // Threshold 5: the breaker alone would keep sending; the upstream's retry-after does not.
    start({"--proxy-retry-status-codes", "429", "--proxy-cb-failure-threshold", "5",
           "--proxy-cb-cooldown-secs", "60"},
          R"(,"headers":{"x-mock-status":"429","x-mock-retry-after":"30"})");
    auto first = chat("req-1");
    EXPECT_EQ(first->status, 200);
    EXPECT_EQ(first->header("x-ditto-backend"), "secondary");
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(chat()->header("x-ditto-backend"), "secondary");
    EXPECT_EQ(primary.request_count(), 1);
}

TEST_F(Routing, R6_HealthChecksSkipAFailingBackendAndReadyReportsIt) {
    start({"--proxy-health-checks", "--proxy-health-check-interval-secs", "1"}, fails_500);
    ASSERT_TRUE(eventually(
        [&] { return backends().find(R"("health_check_healthy":false)") != std::string::npos; },
        5s));
    EXPECT_NE(backends().find(R"("health_check_last_error":"health check returned 500")"),
              std::string::npos)
        << backends();
    // No request id, no retry flags: only the health filter keeps it off the primary.
    auto r = chat();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-ditto-backend"), "secondary");
    auto ready = http_request(gw.port, "GET", "/ready");
    EXPECT_EQ(ready->status, 503);
    EXPECT_NE(ready->body.find(R"({"name":"backend.primary","status":"error","detail":)"
                               R"("health check returned 500"})"),
              std::string::npos)
        << ready->body;
    EXPECT_NE(ready->body.find(R"({"name":"backend.secondary","status":"ok"})"), std::string::npos)
        << ready->body;
}

TEST_F(Routing, HealthCheckRecoveryBringsTheBackendBack) {
    start({"--proxy-health-checks", "--proxy-health-check-interval-secs", "1",
           "--proxy-health-check-timeout-secs", "1"});
    ASSERT_TRUE(
        eventually([&] { return http_request(gw.port, "GET", "/ready")->status == 200; }, 5s));
    primary.proc.signal(SIGKILL);
    ASSERT_TRUE(primary.proc.wait_exit(5s));
    ASSERT_TRUE(
        eventually([&] { return http_request(gw.port, "GET", "/ready")->status == 503; }, 5s));
    EXPECT_EQ(chat()->header("x-ditto-backend"), "secondary");
    restart_primary();
    ASSERT_TRUE(
        eventually([&] { return http_request(gw.port, "GET", "/ready")->status == 200; }, 5s));
    EXPECT_EQ(chat()->header("x-ditto-backend"), "primary");
}

TEST_F(Routing, ABudgetIsReservedOnceAcrossThreeAttempts) {
    // Budget 57, charge 29, reported 28: two successes fit only if each request was charged
    // exactly once, whatever number of attempts it took; the third is refused at 56 + 29.
    start({"--proxy-retry-status-codes", "500"}, fails_500, fails_500, true,
          virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":57})"));
    auto first = chat("req-1");
    ASSERT_EQ(first->status, 200) << first->body;
    EXPECT_EQ(first->header("x-ditto-backend"), "tertiary");
    EXPECT_EQ(chat("req-2")->status, 200);
    auto third = chat("req-3");
    EXPECT_EQ(third->status, 402);
    EXPECT_NE(third->body.find("limit=57 attempted=85"), std::string::npos) << third->body;
    auto audit = http_request(gw.port, "GET", "/admin/audit?limit=10", "",
                              {{"Authorization", "Bearer adm"}});
    EXPECT_NE(audit->body.find(R"("attempted_backends":["primary","secondary","tertiary"])"),
              std::string::npos)
        << audit->body;
}

TEST_F(Routing, AdminBackendsAndReset) {
    start({"--proxy-circuit-breaker", "--proxy-cb-failure-threshold", "1",
           "--proxy-fallback-status-codes", "500"},
          fails_500);
    chat("req-1");
    EXPECT_NE(backends().find(R"("consecutive_failures":1)"), std::string::npos) << backends();
    auto reset = http_request(gw.port, "POST", "/admin/backends/primary/reset", "",
                              {{"Authorization", "Bearer adm"}});
    EXPECT_EQ(
        reset->body,
        R"({"backend":"primary","consecutive_failures":0,"unhealthy_until_epoch_seconds":0})");
    EXPECT_EQ(backends().find(R"("consecutive_failures":1)"), std::string::npos) << backends();
    // The primary is tried again at once.
    chat("req-2");
    EXPECT_EQ(primary.request_count(), 2);
}

TEST_F(Routing, RoutingFlagsAreValidated) {
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"--proxy-retry-status-codes", " , "},
                                               {"--proxy-retry-status-codes", "500,70000"},
                                               {"--proxy-network-error-action", "sometimes"},
                                               {"--proxy-cb-failure-threshold", "0"},
                                               {"--proxy-health-check-interval-secs", "0"},
                                               {"--proxy-health-check-path", " "}}) {
        auto r = run_to_exit(DITTO_GATEWAY_BIN, args);
        EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1];
    }
}

TEST_F(Routing, R8_NetworkActionNoneStopsAtTheFirstBackend) {
    start({"--proxy-network-error-action", "none"});
    primary.proc.signal(SIGKILL);
    ASSERT_TRUE(primary.proc.wait_exit(5s));
    auto r = chat("req-r8");
    EXPECT_EQ(r->status, 502);
    EXPECT_NE(r->body.find("backend_error"), std::string::npos);
    EXPECT_EQ(secondary.request_count(), 0);
}

}  // namespace
}  // namespace ditto::test
