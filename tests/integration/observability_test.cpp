// docs/observability.md through the real gateway: Prometheus exact values after scripted traffic
// (the acceptance scenarios of docs/testing.md), promtool's verdict on the format, label caps,
// redaction of secrets in every sink (logs, audit, labels), sampling at rates 0 and 1, the overhead
// header.
#include <cstdio>
#include <regex>
#include <sstream>
#include <thread>

#include "support/keyed_gateway.hpp"
#include "support/wait.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++n;
    return n;
}

// Log lines are written in batches (every 50 ms, or sooner): wait for the n-th, never sleep.
bool wait_for_lines(child_process& proc, const std::string& needle, std::size_t n) {
    return eventually([&] { return count(proc.stderr_text(), needle) >= n; }, 5s);
}

class Observability : public KeyedGateway {
  protected:
    std::string scrape() {
        auto r = http_request(gw.port, "GET", "/metrics/prometheus");
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
        return r->body;
    }
    /// The value of one sample line `name{labels}` (exact), or -1.
    static double value(const std::string& text, const std::string& series) {
        const auto line = "\n" + series + " ";
        const auto at = ("\n" + text).find(line);
        if (at == std::string::npos)
            return -1;
        return std::stod(text.substr(at + line.size() - 1));
    }
    /// A config with one backend ("primary" on the mock) and `observability`.
    std::string config_with(const std::string& keys, const std::string& observability) {
        return R"({"backends":[{"name":"primary","base_url":"http://127.0.0.1:)" +
               std::to_string(mock.port) + R"(/v1"}],"virtual_keys":[)" + keys +
               R"(],"router":{"default_backends":[{"backend":"primary"}]},"observability":)" +
               observability + "}";
    }
};

const std::string p = "ditto_gateway_proxy_";
const std::string gpt = R"({"model":"gpt-4o-mini","messages":[]})";

TEST_F(Observability, ExactValuesAfterOneRequestAndACacheHit) {
    start(key("key-1", "vk-1"), {"--prometheus-metrics", "--proxy-cache"});
    ASSERT_EQ(post("vk-1", gpt)->status, 200);
    auto text = scrape();
    EXPECT_EQ(value(text, p + "requests_total"), 1) << text;
    EXPECT_EQ(value(text, p + R"(requests_by_key_total{virtual_key_id="key-1"})"), 1);
    EXPECT_EQ(value(text, p + R"(requests_by_model_total{model="gpt-4o-mini"})"), 1);
    EXPECT_EQ(value(text, p + R"(backend_attempts_total{backend="primary"})"), 1);
    EXPECT_EQ(value(text, p + R"(backend_success_total{backend="primary"})"), 1);
    EXPECT_EQ(value(text, p + R"(responses_total{status="200"})"), 1);
    // The backend permit rides in the response and is dropped once it has been written: a
    // client that has read the answer can scrape a moment before that, so wait for it.
    EXPECT_TRUE(eventually(
        [&] { return value(scrape(), p + R"(backend_in_flight{backend="primary"})") == 0; }, 5s))
        << scrape();
    EXPECT_EQ(value(text, p + R"(input_tokens_total{virtual_key_id="key-1",model="gpt-4o-mini"})"),
              10);  // ceil(38 bytes / 4) from the mock
    ASSERT_EQ(post("vk-1", gpt)->header("x-ditto-cache"), "hit");
    text = scrape();
    EXPECT_EQ(value(text, p + "cache_lookups_total"), 2) << text;
    EXPECT_EQ(value(text, p + "cache_hits_total"), 1);
    EXPECT_EQ(value(text, p + R"(cache_hits_by_source_total{source="memory"})"), 1);
    EXPECT_EQ(value(text, p + "cache_misses_total"), 1);
    EXPECT_EQ(value(text, p + R"(cache_stores_total{target="memory"})"), 1);
    EXPECT_EQ(value(text, p + R"(backend_attempts_total{backend="primary"})"), 1);
    EXPECT_EQ(value(text, p + "requests_total"), 2);
    EXPECT_EQ(value(text, p + "overhead_seconds_count"), 2);
    EXPECT_EQ(value(text, p + R"(request_duration_seconds_count{path="/v1/chat/completions"})"), 2);
}

TEST_F(Observability, PromtoolAcceptsTheOutput) {
    start(key("key-1", "vk-1"),
          {"--prometheus-metrics", "--proxy-cache", "--proxy-cache-streaming"});
    post("vk-1", gpt);
    post("vk-1", gpt);
    post("vk-1", R"({"model":"m","stream":true,"messages":[]})");
    post("vk-1", R"({"model":"gpt-4o-mini","n":2})", {{"x-mock-status", "503"}});
    post("nope", gpt);
    const auto text = scrape();
    temp_dir dir;
    const auto file = dir.write("metrics.txt", text);
    auto r = run_to_exit("/bin/sh", {"-c", "/usr/bin/promtool check metrics < " + file});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    // Every family has HELP and TYPE, also those without series yet.
    EXPECT_NE(text.find("# TYPE " + p + "cache_purges_total counter"), std::string::npos);
    EXPECT_NE(text.find("# TYPE " + p + "stream_connections gauge"), std::string::npos);
    EXPECT_EQ(value(text, p + "stream_completed_total"), 1) << text;
    EXPECT_GT(value(text, p + "stream_bytes_total"), 100);
    EXPECT_EQ(value(text, p + "stream_connections"), 0);
    EXPECT_EQ(value(text, p + R"(responses_total{status="503"})"), 1);
    EXPECT_EQ(value(text, p + R"(backend_failures_total{backend="primary"})"), 1);
    EXPECT_EQ(value(text, p + R"(responses_total{status="401"})"), 1);
}

TEST_F(Observability, DisabledIsA404) {
    start(key("key-1", "vk-1"));
    auto r = http_request(gw.port, "GET", "/metrics/prometheus");
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->body, R"({"error":{"code":"not_configured","message":"prometheus metrics not )"
                       R"(enabled"}})");
}

TEST_F(Observability, LabelCardinalityOverflows) {
    start(key("key-1", "vk-1") + "," + key("key-2", "vk-2") + "," + key("key-3", "vk-3"),
          {"--prometheus-max-key-series", "1"});
    post("vk-1", gpt);
    post("vk-2", gpt);
    post("vk-3", gpt);
    const auto text = scrape();
    EXPECT_EQ(value(text, p + R"(requests_by_key_total{virtual_key_id="key-1"})"), 1) << text;
    EXPECT_EQ(value(text, p + R"(requests_by_key_total{virtual_key_id="__overflow__"})"), 2);
    EXPECT_EQ(text.find("key-2"), std::string::npos);
}

TEST_F(Observability, SecretsAreRedactedInLabelsLogsAndAudit) {
    const std::string secret_model = R"({"model":"sk-abcdefghijklmnop1234","messages":[]})";
    const std::string bearer_model = R"({"model":"Bearer hunter2secret","messages":[]})";
    mock.start();
    for (const bool json : {false, true}) {
        running_gateway g;
        std::vector<std::string> args{"--prometheus-metrics", "--admin-token", "adm"};
        if (json)
            args.push_back("--json-logs");
        g.start(config_with(key("key-1", "vk-1"), "{}"), args);
        auto send = [&](const std::string& body) {
            return http_request(
                g.port, "POST", "/v1/chat/completions", body,
                {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}});
        };
        EXPECT_EQ(send(secret_model)->status, 200);
        EXPECT_EQ(send(bearer_model)->status, 200);
        auto metrics = http_request(g.port, "GET", "/metrics/prometheus")->body;
        EXPECT_EQ(metrics.find("sk-abcdefghijklmnop1234"), std::string::npos);
        EXPECT_EQ(metrics.find("hunter2secret"), std::string::npos);
        EXPECT_NE(metrics.find(R"(model="<redacted>")"), std::string::npos) << metrics;
        auto audit =
            http_request(g.port, "GET", "/admin/audit", "", {{"Authorization", "Bearer adm"}});
        EXPECT_EQ(audit->body.find("sk-abcdefghijklmnop1234"), std::string::npos) << audit->body;
        EXPECT_EQ(audit->body.find("hunter2secret"), std::string::npos) << audit->body;
        EXPECT_NE(audit->body.find(R"("model":"<redacted>")"), std::string::npos) << audit->body;
        // The access log of both requests, written asynchronously: wait for both lines.
        ASSERT_TRUE(wait_for_lines(g.proc, json ? R"("status":"200")" : "status=200", 2));
        const auto log = g.proc.stderr_text();
        EXPECT_EQ(log.find("sk-abcdefghijklmnop1234"), std::string::npos) << log;
        EXPECT_EQ(log.find("hunter2secret"), std::string::npos) << log;
        EXPECT_EQ(log.find("vk-1"), std::string::npos) << log;
        EXPECT_NE(log.find("<redacted>"), std::string::npos) << log;
    }
}

// Issue 19 (log forging): a client's model holding CR/LF cannot start a line of its own in
// either log format, and a huge value is cut.
TEST_F(Observability, ClientValuesCannotForgeLogLines) {
    const std::string forged = "2026-12-06T00:00:00.000Z info admin.key.upsert: key_id=k1";
    const std::string body = R"({"model":"m\r\n)" + forged + R"(","messages":[]})";
    const std::string huge = R"({"model":")" + std::string(5000, 'x') + R"(","messages":[]})";
    mock.start();
    for (const bool json : {false, true}) {
        running_gateway g;
        std::vector<std::string> args;
        if (json)
            args.push_back("--json-logs");
        g.start(config_with(key("key-1", "vk-1"), "{}"), args);
        for (const auto* b : {&body, &huge}) {
            EXPECT_EQ(http_request(
                          g.port, "POST", "/v1/chat/completions", *b,
                          {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}})
                          ->status,
                      200);
        }
        const std::string done = json ? R"("status":"200")" : "status=200";
        ASSERT_TRUE(wait_for_lines(g.proc, done, 2));
        std::istringstream lines(g.proc.stderr_text());
        std::size_t access_lines = 0;
        for (std::string line; std::getline(lines, line);) {
            EXPECT_NE(line.rfind(forged, 0), 0u) << "a forged line: " << line;
            EXPECT_LT(line.size(), 2000u) << "a value was not capped: " << line.substr(0, 200);
            if (line.find(done) != std::string::npos) {
                ++access_lines;
                EXPECT_EQ(line.find('\r'), std::string::npos);
            }
        }
        EXPECT_EQ(access_lines, 2u);
        const std::string escaped = json ? R"(m\r\n2026-12-06)" : R"(model="m\r\n2026-12-06)";
        EXPECT_NE(g.proc.stderr_text().find(escaped), std::string::npos) << g.proc.stderr_text();
    }
}

TEST_F(Observability, SamplingRatesZeroAndOne) {
    mock.start();
    running_gateway none;
    none.start(
        config_with(key("key-1", "vk-1"), R"({"sampling":{"json_logs_rate":0,"audit_rate":0}})"),
        {"--json-logs", "--admin-token", "adm"});
    running_gateway all;
    all.start(
        config_with(key("key-1", "vk-1"), R"({"sampling":{"json_logs_rate":1,"audit_rate":1}})"),
        {"--json-logs", "--admin-token", "adm"});
    for (auto* g : {&none, &all}) {
        for (int i = 0; i < 5; ++i) {
            EXPECT_EQ(http_request(
                          g->port, "POST", "/v1/chat/completions", chat_body,
                          {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}})
                          ->status,
                      200);
        }
    }
    ASSERT_TRUE(wait_for_lines(all.proc, R"("event":"proxy.response")", 5));
    EXPECT_EQ(count(all.proc.stderr_text(), R"("event":"proxy.response")"), 5u);
    // Start-up lines are not request events: rate 0 still lets them (and warnings) through.
    EXPECT_NE(none.proc.stderr_text().find("server.listening"), std::string::npos);
    http_headers adm{{"Authorization", "Bearer adm"}};
    EXPECT_EQ(
        count(http_request(all.port, "GET", "/admin/audit", "", adm)->body, R"("kind":"proxy")"),
        5u);
    EXPECT_EQ(http_request(none.port, "GET", "/admin/audit", "", adm)->body, "[]");
    // A stopped gateway has written every line it had: none may be missing from `none`.
    stop_and_check_sanitizers(none.proc, "ditto-gateway");
    EXPECT_EQ(count(none.proc.stderr_text(), R"("event":"proxy.response")"), 0u);
}

TEST_F(Observability, OverheadHeaderIsTheGatewaysOwnTime) {
    start(key("key-1", "vk-1"));
    // The upstream takes 200 ms: the overhead excludes it.
    auto r = post("vk-1", chat_body, {{"x-mock-delay-ms", "200"}});
    ASSERT_TRUE(r->has_header("x-ditto-overhead-ms"));
    const double ms = std::stod(r->header("x-ditto-overhead-ms"));
    EXPECT_GE(ms, 0.0);
    EXPECT_LT(ms, 50.0);
    EXPECT_TRUE(std::regex_match(r->header("x-ditto-overhead-ms"), std::regex(R"(\d+\.\d{3})")));
    // Gateway-made answers carry it too.
    EXPECT_TRUE(post("nope")->has_header("x-ditto-overhead-ms"));
}

TEST_F(Observability, SeriesFlagsAreValidated) {
    EXPECT_EQ(run_to_exit(DITTO_GATEWAY_BIN, {"--prometheus-max-path-series", "0"}).exit_code, 2);
}

}  // namespace
}  // namespace ditto::test
