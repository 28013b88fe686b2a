#include "ditto/metrics/prometheus.hpp"

#include <gtest/gtest.h>

#include <string>

#include "ditto/core/strings.hpp"

namespace ditto::metrics {
namespace {

std::string render_path(std::string_view path) {
    prometheus p({}, nullptr, 1);
    request_record r;
    r.authenticated = true;
    r.key_id = "k";
    r.model = "m";
    r.path = path;
    r.status = 200;
    p.record(0, r);
    return p.render({});
}

// Token counters are kept by (key, model); a key id or a model holding the byte that once
// separated the two must not move tokens to another pair's labels.
TEST(Prometheus, UsageLabelsKeepEveryByte) {
    prometheus p({}, nullptr, 1);
    p.usage(0,
            "team\x1f"
            "a",
            "gpt", 3, 0, 0);
    p.usage(0, "team",
            "a\x1f"
            "gpt",
            4, 0, 0);
    const std::string text = p.render({});
    EXPECT_NE(text.find("{virtual_key_id=\"team\x1f"
                        "a\",model=\"gpt\"} 3"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("{virtual_key_id=\"team\",model=\"a\x1f"
                        "gpt\"} 4"),
              std::string::npos)
        << text;
}

// Regression (tests/fuzz/corpus/fuzz_redact_prometheus/crash-non-utf8-label): a request path
// with a byte that is not UTF-8 went into a label as it was, and Prometheus then refused every
// scrape of the gateway ("invalid label value").
TEST(Prometheus, LabelValuesAreAlwaysUtf8) {
    const std::string text = render_path("/v1/a\xff\xc3(\xe2\x82\xac\xf0\x9f\x98\x80\xed\xa0\x80");
    EXPECT_TRUE(core::is_valid_utf8(text));
    // Each stray byte becomes U+FFFD (a lone lead byte, a surrogate's three); the euro sign
    // and the emoji stay as they are.
    EXPECT_NE(text.find("path=\"/v1/a\xef\xbf\xbd\xef\xbf\xbd(\xe2\x82\xac\xf0\x9f\x98\x80"
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""),
              std::string::npos)
        << text;
}

TEST(Prometheus, LabelValuesAreEscaped) {
    const std::string text = render_path("/v1/\"q\"\\\n\xc3\xa9");
    EXPECT_NE(text.find(R"(path="/v1/\"q\"\\\n)"
                        "\xc3\xa9\""),
              std::string::npos)
        << text;
}

}  // namespace
}  // namespace ditto::metrics
