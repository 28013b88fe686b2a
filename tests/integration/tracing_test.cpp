// docs/observability.md, "Tracing", through the real gateway: W3C trace context in and out, the
// OTLP/HTTP JSON the gateway exports, decoded by a collector the test runs (a raw loopback
// server), the parent/child links across a fail-over, sampling, and a collector that is down.
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>

#include "support/gateway_fixture.hpp"
#include "support/keyed_gateway.hpp"
#include "support/raw_server.hpp"
#include "support/wait.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

std::string lower(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

/// The value of `name` in a request head (names compared lowercased), or "".
std::string header_of(const std::string& head, const std::string& name) {
    const auto l = lower(head);
    const auto at = l.find("\r\n" + name + ":");
    if (at == std::string::npos)
        return "";
    auto begin = at + 3 + name.size();
    const auto end = head.find("\r\n", begin);
    while (begin < end && head[begin] == ' ')
        ++begin;
    return head.substr(begin, end - begin);
}

/// Serves each request with `answer` and keeps every request (head and body) it read.
class recording_server {
  public:
    explicit recording_server(std::string answer)
        : answer_(std::move(answer)), server_([this](int fd) { serve(fd); }) {}
    int port() const { return server_.port(); }
    std::vector<std::pair<std::string, std::string>> requests() {
        std::lock_guard lock(mu_);
        return requests_;
    }

  private:
    void serve(int fd) {
        std::string buf;
        std::string body;
        while (auto head = read_request(fd, buf, 10s, &body)) {
            {
                std::lock_guard lock(mu_);
                requests_.emplace_back(*head, body);
            }
            if (!send_all(fd, answer_))
                return;
        }
    }
    std::string answer_;
    std::mutex mu_;
    std::vector<std::pair<std::string, std::string>> requests_;
    raw_server server_;
};

std::string http_answer(int status, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string completion =
    R"({"id":"c1","object":"chat.completion","model":"gpt-4o-2024","choices":[{"index":0,)"
    R"("message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}})";
const std::string chat =
    R"({"model":"gpt-4o","max_tokens":20,"messages":[{"role":"user","content":"hi"}]})";
const std::string client_trace = "0af7651916cd43dd8448eb211c80319c";
const std::string client_span = "b7ad6b7169203331";

/// The string, int or bool value of attribute `key` in an OTLP attribute list, as text.
std::string attr(const json& span, const std::string& key) {
    for (const auto& a : span.at("attributes")) {
        if (a.at("key") != key)
            continue;
        const auto& v = a.at("value");
        if (v.contains("stringValue"))
            return v["stringValue"];
        if (v.contains("intValue"))
            return v["intValue"];
        if (v.contains("boolValue"))
            return v["boolValue"].get<bool>() ? "true" : "false";
    }
    return "";
}

class Tracing : public ::testing::Test {
  protected:
    recording_server collector{http_answer(200, "{}")};
    recording_server failing{http_answer(503, R"({"error":{"message":"busy"}})")};
    recording_server upstream{http_answer(200, completion)};
    running_gateway gw;

    /// A gateway whose router tries `failing` then `upstream`, moving on after a 503.
    void start(const std::string& observability = "{}", std::vector<std::string> args = {}) {
        if (args.empty())
            args = {"--otel-endpoint", "http://127.0.0.1:" + std::to_string(collector.port())};
        args.insert(args.end(), {"--proxy-fallback-status-codes", "503", "--prometheus-metrics"});
        gw.start(
            R"({"backends":[{"name":"first","base_url":"http://127.0.0.1:)" +
                std::to_string(failing.port()) +
                R"(/v1","headers":{"authorization":"Bearer upstream-secret-1"}},)"
                R"({"name":"second","base_url":"http://127.0.0.1:)" +
                std::to_string(upstream.port()) + R"(/v1"}],"virtual_keys":[)" +
                virtual_key_json("team-a", "vk-secret-token", R"("tenant_id":"acme")") +
                R"(],"router":{"rules":[],"default_backends":[)"
                R"({"backend":"first","weight":1000000},{"backend":"second","weight":0.000001}]},)"
                R"("observability":)" +
                observability + "}",
            args);
    }

    /// With an x-request-id of its own: a POST fails over only with one (docs/proxy.md).
    std::optional<http_response> post(http_headers extra = {}, const std::string& body = chat) {
        extra.emplace_back("x-request-id", "trace-test-" + std::to_string(++requests_));
        extra.emplace_back("Authorization", "Bearer vk-secret-token");
        extra.emplace_back("Content-Type", "application/json");
        return http_request(gw.port, "POST", "/v1/chat/completions", body, extra);
    }

    /// Every span the collector received so far, decoded.
    std::vector<json> spans() {
        std::vector<json> out;
        for (const auto& [head, body] : collector.requests()) {
            EXPECT_NE(head.find("POST /v1/traces HTTP/1.1"), std::string::npos) << head;
            EXPECT_EQ(header_of(head, "content-type"), "application/json");
            const auto doc = json::parse(body);  // throws (and fails the test) when malformed
            for (const auto& rs : doc.at("resourceSpans")) {
                EXPECT_EQ(attr(rs.at("resource"), "service.name"), "ditto-gateway");
                for (const auto& ss : rs.at("scopeSpans"))
                    for (const auto& s : ss.at("spans"))
                        out.push_back(s);
            }
        }
        return out;
    }
    std::vector<json> wait_spans(std::size_t n) {
        std::vector<json> got;
        EXPECT_TRUE(eventually(
            [&] {
                got = spans();
                return got.size() >= n;
            },
            10s))
            << got.size() << " spans";
        return got;
    }
    double metric(const std::string& series) {
        auto r = http_request(gw.port, "GET", "/metrics/prometheus");
        const auto line = "\n" + series + " ";
        const auto text = "\n" + (r ? r->body : "");
        const auto at = text.find(line);
        return at == std::string::npos ? -1 : std::stod(text.substr(at + line.size()));
    }
    int requests_ = 0;
};

TEST_F(Tracing, ParentChildLinksAcrossAFailOver) {
    start();
    auto r = post({{"traceparent", "00-" + client_trace + "-" + client_span + "-01"},
                   {"tracestate", "congo=t61rcWkgMzE"}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const auto all = wait_spans(3);
    ASSERT_EQ(all.size(), 3u);
    const auto& server = all[0];
    EXPECT_EQ(server.at("kind"), 2);
    EXPECT_EQ(server.at("traceId"), client_trace);
    EXPECT_EQ(server.at("parentSpanId"), client_span);
    EXPECT_EQ(server.at("traceState"), "congo=t61rcWkgMzE");
    EXPECT_EQ(server.at("name"), "chat gpt-4o");
    EXPECT_EQ(attr(server, "gen_ai.operation.name"), "chat");
    EXPECT_EQ(attr(server, "gen_ai.request.model"), "gpt-4o");
    EXPECT_EQ(attr(server, "gen_ai.request.max_tokens"), "20");
    EXPECT_EQ(attr(server, "gen_ai.usage.input_tokens"), "11");
    EXPECT_EQ(attr(server, "gen_ai.usage.output_tokens"), "7");
    EXPECT_EQ(attr(server, "http.response.status_code"), "200");
    EXPECT_EQ(attr(server, "ditto.virtual_key_id"), "team-a");
    EXPECT_EQ(attr(server, "ditto.tenant_id"), "acme");
    EXPECT_EQ(attr(server, "ditto.backend"), "second");
    EXPECT_EQ(attr(server, "ditto.attempts"), "2");
    EXPECT_EQ(attr(server, "ditto.request_id"), r->header("x-request-id"));
    EXPECT_FALSE(server.contains("status")) << server.dump();
    const auto server_id = server.at("spanId").get<std::string>();
    EXPECT_TRUE(std::regex_match(server_id, std::regex("[0-9a-f]{16}")));
    EXPECT_NE(server_id, client_span);

    // Each attempt: a CLIENT child of the server span, and the upstream saw it as its parent.
    const auto& failed = all[1];
    const auto& served = all[2];
    for (const auto* s : {&failed, &served}) {
        EXPECT_EQ(s->at("kind"), 3);
        EXPECT_EQ(s->at("traceId"), client_trace);
        EXPECT_EQ(s->at("parentSpanId"), server_id);
        EXPECT_EQ(attr(*s, "gen_ai.provider.name"), "openai");
        EXPECT_EQ(attr(*s, "server.address"), "127.0.0.1");
        EXPECT_GE(std::stoull(s->at("startTimeUnixNano").get<std::string>()),
                  std::stoull(server.at("startTimeUnixNano").get<std::string>()));
        EXPECT_LE(std::stoull(s->at("endTimeUnixNano").get<std::string>()),
                  std::stoull(server.at("endTimeUnixNano").get<std::string>()));
    }
    EXPECT_EQ(attr(failed, "ditto.backend"), "first");
    EXPECT_EQ(attr(failed, "http.response.status_code"), "503");
    EXPECT_EQ(attr(failed, "error.type"), "503");
    EXPECT_EQ(failed.at("status").at("code"), 2);
    EXPECT_EQ(attr(served, "ditto.backend"), "second");
    EXPECT_EQ(attr(served, "server.port"), std::to_string(upstream.port()));
    EXPECT_FALSE(served.contains("status"));
    EXPECT_NE(failed.at("spanId"), served.at("spanId"));

    const auto first_seen = failing.requests();
    const auto second_seen = upstream.requests();
    ASSERT_EQ(first_seen.size(), 1u);
    ASSERT_EQ(second_seen.size(), 1u);
    EXPECT_EQ(header_of(first_seen[0].first, "traceparent"),
              "00-" + client_trace + "-" + failed.at("spanId").get<std::string>() + "-01");
    EXPECT_EQ(header_of(second_seen[0].first, "traceparent"),
              "00-" + client_trace + "-" + served.at("spanId").get<std::string>() + "-01");
    EXPECT_EQ(header_of(second_seen[0].first, "tracestate"), "congo=t61rcWkgMzE");

    // No secret reaches the collector: not the virtual key, not the backend's credential.
    for (const auto& [head, body] : collector.requests()) {
        EXPECT_EQ(body.find("vk-secret-token"), std::string::npos);
        EXPECT_EQ(body.find("upstream-secret-1"), std::string::npos);
        EXPECT_EQ(head.find("upstream-secret-1"), std::string::npos);
    }
    EXPECT_TRUE(eventually(
        [&] { return metric("ditto_gateway_proxy_trace_spans_exported_total") == 3; }, 5s));
}

TEST_F(Tracing, StartsATraceWhenNoneCameAndDropsAStrayTracestate) {
    start();
    // A tracestate without a traceparent, then an invalid traceparent (upper-case hex).
    ASSERT_EQ(post({{"tracestate", "vendor=stale"}})->status, 200);
    ASSERT_EQ(post({{"traceparent", "00-0AF7651916CD43DD8448EB211C80319C-" + client_span + "-01"},
                    {"tracestate", "vendor=stale"}})
                  ->status,
              200);
    const auto all = wait_spans(6);
    std::vector<json> servers;
    for (const auto& s : all)
        if (s.at("kind") == 2)
            servers.push_back(s);
    ASSERT_EQ(servers.size(), 2u);
    for (const auto& s : servers) {
        EXPECT_FALSE(s.contains("parentSpanId")) << s.dump();
        EXPECT_FALSE(s.contains("traceState"));
        EXPECT_TRUE(
            std::regex_match(s.at("traceId").get<std::string>(), std::regex("[0-9a-f]{32}")));
        EXPECT_NE(s.at("traceId"), std::string(32, '0'));
    }
    EXPECT_NE(servers[0].at("traceId"), servers[1].at("traceId"));
    for (const auto& [head, body] : upstream.requests()) {
        EXPECT_TRUE(std::regex_match(header_of(head, "traceparent"),
                                     std::regex("00-[0-9a-f]{32}-[0-9a-f]{16}-01")));
        EXPECT_EQ(header_of(head, "tracestate"), "");
    }
}

TEST_F(Tracing, AnUnsampledCallerAndARateOfZeroExportNothingButStillPropagate) {
    start(R"({"sampling":{"traces_rate":0}})");
    ASSERT_EQ(post()->status, 200);
    ASSERT_EQ(post({{"traceparent", "00-" + client_trace + "-" + client_span + "-00"}})->status,
              200);
    const auto seen = upstream.requests();
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_TRUE(std::regex_match(header_of(seen[0].first, "traceparent"),
                                 std::regex("00-[0-9a-f]{32}-[0-9a-f]{16}-00")));
    EXPECT_TRUE(std::regex_match(header_of(seen[1].first, "traceparent"),
                                 std::regex("00-" + client_trace + "-[0-9a-f]{16}-00")));
    // Nothing queued: the exporter's next tick (1 s) would have sent it; the counters say so
    // without waiting for one.
    EXPECT_EQ(metric("ditto_gateway_proxy_trace_spans_exported_total"), 0);
    EXPECT_EQ(metric(R"(ditto_gateway_proxy_trace_spans_dropped_total{reason="queue_full"})"), 0);
    EXPECT_TRUE(collector.requests().empty());
}

TEST_F(Tracing, ACollectorThatIsDownCostsSpansNotRequests) {
    int closed_port = 0;
    {
        raw_server gone([](int) {});
        closed_port = gone.port();
    }  // nothing listens there any more
    start("{}", {"--otel-endpoint", "http://127.0.0.1:" + std::to_string(closed_port)});
    for (int i = 0; i < 5; ++i)
        ASSERT_EQ(post()->status, 200);
    EXPECT_TRUE(eventually(
        [&] {
            return metric(
                       R"(ditto_gateway_proxy_trace_spans_dropped_total{reason="export_failed"})") ==
                   15;
        },
        10s));
    EXPECT_EQ(metric("ditto_gateway_proxy_trace_spans_exported_total"), 0);
    EXPECT_NE(gw.proc.stderr_text().find("trace.export_failed"), std::string::npos);
}

TEST_F(Tracing, AStreamedAnswerEndsItsSpanWithItsUsage) {
    running_mock mock;
    mock.start();
    gw.start(R"({"backends":[{"name":"primary","base_url":"http://127.0.0.1:)" +
                 std::to_string(mock.port) + R"(/v1"}],"virtual_keys":[)" +
                 virtual_key_json("team-a", "vk-secret-token") +
                 R"(],"router":{"default_backends":[{"backend":"primary"}]}})",
             {"--otel-endpoint", "http://127.0.0.1:" + std::to_string(collector.port())});
    auto r =
        post({}, R"({"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]})");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    ASSERT_NE(r->body.find("[DONE]"), std::string::npos);
    const auto all = wait_spans(2);
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(attr(all[0], "ditto.stream"), "true");
    EXPECT_NE(attr(all[0], "gen_ai.usage.output_tokens"), "");
    EXPECT_NE(attr(all[0], "gen_ai.usage.input_tokens"), "");
    // The server span ends after the last byte, the attempt's span at the answer's head.
    EXPECT_GE(std::stoull(all[0].at("endTimeUnixNano").get<std::string>()),
              std::stoull(all[1].at("endTimeUnixNano").get<std::string>()));
}

TEST_F(Tracing, RefusalsAreSpansToo) {
    start();
    auto r =
        http_request(gw.port, "POST", "/v1/chat/completions", chat,
                     {{"Authorization", "Bearer wrong"}, {"Content-Type", "application/json"}});
    ASSERT_EQ(r->status, 401);
    const auto all = wait_spans(1);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(attr(all[0], "http.response.status_code"), "401");
    EXPECT_EQ(attr(all[0], "error.type"), "401");
    EXPECT_EQ(attr(all[0], "ditto.virtual_key_id"), "");
    EXPECT_FALSE(all[0].contains("status"));  // a client's error is not the server's
    EXPECT_TRUE(failing.requests().empty());
}

}  // namespace
}  // namespace ditto::test
