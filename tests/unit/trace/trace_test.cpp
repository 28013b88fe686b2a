// W3C trace context parsing and the OTLP/HTTP JSON encoding (docs/observability.md, "Tracing").
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "ditto/trace/otlp_json.hpp"
#include "ditto/trace/trace_context.hpp"

namespace ditto::trace {
namespace {

const std::string valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

TEST(TraceParent, ParsesTheSpecExample) {
    auto p = parse_traceparent(valid);
    ASSERT_TRUE(p);
    EXPECT_EQ(hex(p->trace), "0af7651916cd43dd8448eb211c80319c");
    EXPECT_EQ(hex(p->parent), "b7ad6b7169203331");
    EXPECT_TRUE(p->sampled);
    EXPECT_FALSE(parse_traceparent(valid.substr(0, 53) + "00")->sampled);
    EXPECT_TRUE(parse_traceparent(" " + valid + "\t"));  // OWS around a header value
    EXPECT_EQ(format_traceparent(p->trace, p->parent, true), valid);
}

TEST(TraceParent, RefusesWhatTheSpecRefuses) {
    const std::string bad[] = {
        "",
        valid.substr(0, 54),
        valid + "-",                                                // version 00 has 4 fields
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",  // upper case
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  // zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  // zero parent
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  // version ff
        "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",
        "0x-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",  // no '-' after flags
    };
    for (const auto& b : bad)
        EXPECT_FALSE(parse_traceparent(b)) << b;
    // A later version: the first four fields, whatever follows a '-'.
    auto later = parse_traceparent("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what");
    ASSERT_TRUE(later);
    EXPECT_EQ(hex(later->parent), "b7ad6b7169203331");
}

TEST(TraceIds, AreRandomAndNeverZero) {
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        const auto t = random_trace_id();
        ASSERT_TRUE(t.valid());
        ASSERT_NE(random_span_id(), 0u);
        seen.insert(hex(t));
    }
    EXPECT_EQ(seen.size(), 10000u);
}

TEST(TraceSampling, FollowsTheSharedRuleByTraceId) {
    const trace_id t{0x0af7651916cd43ddULL, 0x8448eb211c80319cULL};
    EXPECT_TRUE(sampled(t, 1.0));
    EXPECT_FALSE(sampled(t, 0.0));
    // The same trace gets the same answer everywhere; about half at 0.5.
    int kept = 0;
    for (int i = 0; i < 20000; ++i) {
        const auto id = random_trace_id();
        EXPECT_EQ(sampled(id, 0.5), sampled(id, 0.5));
        kept += sampled(id, 0.5) ? 1 : 0;
    }
    EXPECT_GT(kept, 9000);
    EXPECT_LT(kept, 11000);
}

TEST(OtlpJson, EncodesSpansAsTheCollectorReadsThem) {
    auto shared = std::make_shared<pending_trace>();
    auto& t = *shared;
    t.server.trace = {0x0af7651916cd43ddULL, 0x8448eb211c80319cULL};
    t.server.id = 0x1;
    t.server.start_ns = 1'700'000'000'000'000'000;
    t.server.end_ns = 1'700'000'000'100'000'000;
    t.server.operation = "chat";
    t.server.request_model = "gpt-\"4o\"\n";  // escaped, never breaks the document
    t.server.input_tokens = 12;
    t.server.stream = false;
    t.server.status = 502;
    t.server.error_type = "backend_error";
    span child;
    child.trace = t.server.trace;
    child.id = 0xffffffffffffffffULL;
    child.parent = 0x1;
    child.kind = span_kind::client;
    child.start_ns = t.server.start_ns + 10;
    child.end_ns = child.start_ns - 5;  // a clock step: never an end before the start
    child.error_type = "timeout";
    t.children.push_back(child);
    resource_info r;
    r.service_version = "1.2.3";
    const std::vector<std::shared_ptr<pending_trace>> traces{shared};
    const auto doc = nlohmann::json::parse(encode_otlp_json(r, traces));
    const auto& spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"];
    ASSERT_EQ(spans.size(), 2u);
    EXPECT_EQ(spans[0]["traceId"], "0af7651916cd43dd8448eb211c80319c");
    EXPECT_EQ(spans[0]["spanId"], "0000000000000001");
    EXPECT_FALSE(spans[0].contains("parentSpanId"));
    EXPECT_EQ(spans[0]["name"], "chat gpt-\"4o\"\n");
    EXPECT_EQ(spans[0]["kind"], 2);
    EXPECT_EQ(spans[0]["startTimeUnixNano"], "1700000000000000000");
    EXPECT_EQ(spans[0]["status"]["code"], 2);
    bool saw_tokens = false, saw_stream = false;
    for (const auto& a : spans[0]["attributes"]) {
        if (a["key"] == "gen_ai.usage.input_tokens") {
            EXPECT_EQ(a["value"]["intValue"], "12");
            saw_tokens = true;
        }
        if (a["key"] == "ditto.stream") {
            EXPECT_EQ(a["value"]["boolValue"], false);
            saw_stream = true;
        }
    }
    EXPECT_TRUE(saw_tokens && saw_stream);
    EXPECT_EQ(spans[1]["spanId"], "ffffffffffffffff");
    EXPECT_EQ(spans[1]["parentSpanId"], "0000000000000001");
    EXPECT_EQ(spans[1]["kind"], 3);
    EXPECT_EQ(spans[1]["endTimeUnixNano"], spans[1]["startTimeUnixNano"]);
    EXPECT_EQ(spans[1]["status"]["message"], "timeout");
    EXPECT_EQ(doc["resourceSpans"][0]["scopeSpans"][0]["scope"]["version"], "1.2.3");
}

TEST(OtlpJson, BytesFromTheWireAreRepairedToUtf8) {
    // A request id, a path and a model may carry any byte a client sent; JSON must be UTF-8, or
    // a collector refuses the whole batch (found by review).
    auto t = std::make_shared<pending_trace>();
    t->server.trace = random_trace_id();
    t->server.id = 1;
    t->server.request_id = "id-\xff\xfe";
    t->server.path = "/v1/\xc3";
    t->server.method = "POST";
    t->server.request_model = "caf\xc3\xa9";  // valid UTF-8 stays as it is
    const std::vector<std::shared_ptr<pending_trace>> traces{t};
    const auto body = encode_otlp_json({}, traces);
    const auto doc = nlohmann::json::parse(body);  // throws on invalid UTF-8
    const auto& span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    for (const auto& a : span["attributes"]) {
        if (a["key"] == "ditto.request_id") {
            EXPECT_EQ(a["value"]["stringValue"], "id-\xEF\xBF\xBD\xEF\xBF\xBD");
        }
        if (a["key"] == "gen_ai.request.model") {
            EXPECT_EQ(a["value"]["stringValue"], "caf\xc3\xa9");
        }
    }
}

}  // namespace
}  // namespace ditto::trace
