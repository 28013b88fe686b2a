#include "ditto/core/json_scan.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <string_view>

namespace ditto::core {
namespace {

bool valid(std::string_view text) {
    request_fields f;
    return scan_request_json(text, f);
}

request_fields scan_ok(std::string_view text) {
    request_fields f;
    EXPECT_TRUE(scan_request_json(text, f)) << text;
    return f;
}

std::string nested_arrays(int depth) {
    return std::string(static_cast<std::size_t>(depth), '[') +
           std::string(static_cast<std::size_t>(depth), ']');
}

// depth levels of objects: {"a":{"a":...{}...}}
std::string nested_objects(int depth) {
    std::string s;
    for (int i = 1; i < depth; ++i)
        s += "{\"a\":";
    s += "{}";
    s += std::string(static_cast<std::size_t>(depth - 1), '}');
    return s;
}

// ---- validity --------------------------------------------------------------------------

TEST(JsonScanValid, AcceptsScalarsAndContainers) {
    for (std::string_view t :
         {"{}", "[]", "0", "-0", "1", "-12", "1.5", "-0.5e-3", "1E+2", "2e10", "true", "false",
          "null", "\"\"", "\"abc\"", " \t\r\n{ \"a\" : [ 1 , 2 , {} ] } \n", "[[], {}, [{}]]",
          "{\"a\":null,\"b\":true,\"c\":false,\"d\":\"x\",\"e\":-1.25e+7}"}) {
        EXPECT_TRUE(valid(t)) << t;
    }
}

TEST(JsonScanValid, RejectsTrailingCommas) {
    EXPECT_FALSE(valid("[1,]"));
    EXPECT_FALSE(valid("{\"a\":1,}"));
    EXPECT_FALSE(valid("[,]"));
    EXPECT_FALSE(valid("{,}"));
    EXPECT_FALSE(valid("[1,,2]"));
}

TEST(JsonScanValid, RejectsBadNumbers) {
    for (std::string_view t :
         {"01", "-01", "00", "[01]", "{\"max_tokens\":012}", "1.", ".5", "-", "+1", "1e", "1e+",
          "1.e3", "0x10", "NaN", "Infinity", "-Infinity", "1 2"}) {
        EXPECT_FALSE(valid(t)) << t;
    }
}

// A number no double can hold is refused, as the config reader and nlohmann refuse it: every
// reader in the gateway agrees on what is JSON. Underflow is not an error (it reads as 0).
TEST(JsonScanValid, RejectsNumbersThatOverflowADouble) {
    const std::string digits309(309, '9');
    for (const std::string& t :
         {std::string("1e400"), std::string("-1E+309"), std::string("{\"temperature\":2.5e308}"),
          std::string("[1,") + digits309 + "]", digits309 + ".5"}) {
        EXPECT_FALSE(valid(t)) << t;
    }
    for (const std::string& t : {std::string("1e-400"), std::string("1.7976931348623157e308"),
                                 std::string(308, '9'), std::string("0e99999")}) {
        EXPECT_TRUE(valid(t)) << t;
    }
}

TEST(JsonScanValid, StringEscapes) {
    EXPECT_TRUE(valid(R"("\" \\ \/ \b \f \n \r \t \u0041 \u00e9 \uFFFF")"));
    EXPECT_TRUE(valid(R"("\ud83d\ude00")"));  // surrogate pair
    EXPECT_FALSE(valid(R"("\a")"));
    EXPECT_FALSE(valid(R"("\x41")"));
    EXPECT_FALSE(valid(R"("\')"));
    EXPECT_FALSE(valid(R"("\u12")"));
    EXPECT_FALSE(valid(R"("\u12G4")"));
    EXPECT_FALSE(valid("\"\\"));  // backslash at the end of input
}

TEST(JsonScanValid, RejectsLoneSurrogates) {
    EXPECT_FALSE(valid(R"("\ud800")"));        // high, nothing after
    EXPECT_FALSE(valid(R"("\ud800x")"));       // high, then a plain char
    EXPECT_FALSE(valid(R"("\ud800\n")"));      // high, then another escape
    EXPECT_FALSE(valid(R"("\ud800\u0041")"));  // high, then a non-surrogate
    EXPECT_FALSE(valid(R"("\ud800\ud800")"));  // high, then high
    EXPECT_FALSE(valid(R"("\udc00")"));        // low alone
    EXPECT_FALSE(valid(R"("\ude00\ud83d")"));  // pair in the wrong order
    EXPECT_TRUE(valid(R"("\uDBFF\uDFFF")"));   // highest pair
}

TEST(JsonScanValid, RejectsRawControlCharsInStrings) {
    EXPECT_FALSE(valid("\"a\nb\""));
    EXPECT_FALSE(valid("\"a\tb\""));
    EXPECT_FALSE(valid(std::string_view("\"a\0b\"", 5)));
    EXPECT_FALSE(valid("\"\x1f\""));
    EXPECT_FALSE(valid("{\"model\":\"gpt\x01\"}"));
    EXPECT_TRUE(valid("\"\x7f\""));  // DEL is not a control char for JSON
}

TEST(JsonScanValid, RejectsUnterminated) {
    for (std::string_view t : {"", "   ", "{", "[", "\"abc", "{\"a\"", "{\"a\":", "{\"a\":1", "[1",
                               "[1,", "{\"model\":\"x", "tru", "nul", "fals"}) {
        EXPECT_FALSE(valid(t)) << '[' << t << ']';
    }
}

TEST(JsonScanValid, RejectsTrailingGarbage) {
    EXPECT_FALSE(valid("{}x"));
    EXPECT_FALSE(valid("{} {}"));
    EXPECT_FALSE(valid("[]]"));
    EXPECT_FALSE(valid("truex"));
    EXPECT_FALSE(valid("null,"));
    EXPECT_FALSE(valid(std::string_view("{}\0", 3)));
    EXPECT_TRUE(valid("{} \r\n\t"));  // trailing whitespace is fine
}

TEST(JsonScanValid, RejectsStructuralErrors) {
    EXPECT_FALSE(valid("{\"a\" 1}"));
    EXPECT_FALSE(valid("{a:1}"));
    EXPECT_FALSE(valid("{'a':1}"));
    EXPECT_FALSE(valid("{1:1}"));
    EXPECT_FALSE(valid("[1 2]"));
    EXPECT_FALSE(valid("{\"a\":1 \"b\":2}"));
    EXPECT_FALSE(valid("True"));
    EXPECT_FALSE(valid("[undefined]"));
    EXPECT_FALSE(valid("{\"a\":1]"));
    EXPECT_FALSE(valid("[1}"));
}

TEST(JsonScanValid, NestingUpTo256Accepted) {
    EXPECT_TRUE(valid(nested_arrays(256)));
    EXPECT_TRUE(valid(nested_objects(256)));
    // A top-level object holding 255 arrays: 256 levels in all.
    EXPECT_TRUE(valid("{\"a\":" + nested_arrays(255) + "}"));
    // stream_options is the second level.
    EXPECT_TRUE(valid("{\"stream_options\":{\"x\":" + nested_arrays(254) + "}}"));
}

TEST(JsonScanValid, NestingBeyond256Rejected) {
    EXPECT_FALSE(valid(nested_arrays(257)));
    EXPECT_FALSE(valid(nested_objects(257)));
    EXPECT_FALSE(valid("{\"a\":" + nested_arrays(256) + "}"));
    EXPECT_FALSE(valid("{\"stream_options\":{\"x\":" + nested_arrays(255) + "}}"));
    EXPECT_FALSE(valid(nested_arrays(100000)));  // no stack overflow
    EXPECT_FALSE(valid(std::string(100000, '{')));
}

TEST(JsonScanValid, TopLevelNonObjectIsValidButNotAnObject) {
    for (std::string_view t : {"[]", "[{\"model\":\"m\"}]", "\"model\"", "1", "null", "true"}) {
        request_fields f;
        ASSERT_TRUE(scan_request_json(t, f)) << t;
        EXPECT_FALSE(f.is_object) << t;
        EXPECT_FALSE(f.model.has_value()) << t;
    }
    EXPECT_TRUE(scan_ok(" {}").is_object);
}

TEST(JsonScanValid, FailureResetsOutput) {
    request_fields f;
    ASSERT_TRUE(scan_request_json(R"({"model":"m","stream":true,"max_tokens":3})", f));
    ASSERT_EQ(f.model, "m");
    EXPECT_FALSE(scan_request_json(R"({"model":"m","stream":true,"max_tokens":3)", f));
    EXPECT_FALSE(f.is_object);
    EXPECT_FALSE(f.model.has_value());
    EXPECT_FALSE(f.stream.has_value());
    EXPECT_FALSE(f.max_tokens.has_value());
    EXPECT_EQ(f.model_span.begin, 0u);
    EXPECT_EQ(f.model_span.end, 0u);
    // A successful scan also starts from scratch.
    ASSERT_TRUE(scan_request_json(R"({"model":"a","stream":true})", f));
    ASSERT_TRUE(scan_request_json(R"({"other":1})", f));
    EXPECT_TRUE(f.is_object);
    EXPECT_FALSE(f.model.has_value());
    EXPECT_FALSE(f.stream.has_value());
}

// ---- field extraction ------------------------------------------------------------------

TEST(JsonScanFields, EmptyObjectHasNoFields) {
    const auto f = scan_ok("{}");
    EXPECT_TRUE(f.is_object);
    EXPECT_FALSE(f.model);
    EXPECT_FALSE(f.stream);
    EXPECT_FALSE(f.service_tier);
    EXPECT_FALSE(f.max_tokens);
    EXPECT_FALSE(f.max_completion_tokens);
    EXPECT_FALSE(f.max_output_tokens);
    EXPECT_FALSE(f.include_usage);
    EXPECT_FALSE(f.stream_options_span);
}

TEST(JsonScanFields, ExtractsAllTopLevelFields) {
    const std::string body =
        R"({"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o","stream":true,)"
        R"("service_tier":"flex","max_tokens":100,"max_completion_tokens":200,)"
        R"("max_output_tokens":300,"stream_options":{"include_usage":true}})";
    const auto f = scan_ok(body);
    EXPECT_TRUE(f.is_object);
    EXPECT_EQ(f.model, "gpt-4o");
    EXPECT_EQ(f.stream, true);
    EXPECT_EQ(f.service_tier, "flex");
    EXPECT_EQ(f.max_tokens, 100u);
    EXPECT_EQ(f.max_completion_tokens, 200u);
    EXPECT_EQ(f.max_output_tokens, 300u);
    EXPECT_EQ(f.include_usage, true);
    ASSERT_TRUE(f.stream_options_span);
    EXPECT_EQ(body.substr(f.stream_options_span->begin,
                          f.stream_options_span->end - f.stream_options_span->begin),
              R"({"include_usage":true})");
}

TEST(JsonScanFields, ModelIsUnescaped) {
    EXPECT_EQ(scan_ok(R"({"model":"a\"b\\c\/d\n\t"})").model, "a\"b\\c/d\n\t");
    EXPECT_EQ(scan_ok(R"({"model":"\u0067pt-\u00e9"})").model, "gpt-\xc3\xa9");
    EXPECT_EQ(scan_ok(R"({"model":"\u20ac"})").model, "\xe2\x82\xac");
    EXPECT_EQ(scan_ok(R"({"model":"\ud83d\ude00"})").model, "\xf0\x9f\x98\x80");
    EXPECT_EQ(scan_ok(R"({"model":"\b\f\r"})").model, "\b\f\r");
    EXPECT_EQ(scan_ok(R"({"model":"\u0000x"})").model, std::string("\0x", 2));
    EXPECT_EQ(scan_ok(R"({"model":""})").model, "");
    EXPECT_EQ(scan_ok("{\"model\":\"caf\xc3\xa9\"}").model, "caf\xc3\xa9");  // raw UTF-8
}

TEST(JsonScanFields, ModelKeyMayBeEscaped) {
    // "mod\u0065l" is the key "model".
    EXPECT_EQ(scan_ok(R"({"mod\u0065l":"m"})").model, "m");
}

TEST(JsonScanFields, ModelSpanCoversExactlyTheQuotedToken) {
    const std::string body = R"({ "messages": [], "model" :  "gpt-\"4\"" , "stream": false })";
    const auto f = scan_ok(body);
    ASSERT_EQ(f.model, "gpt-\"4\"");
    EXPECT_EQ(f.model_span.begin, body.find("\"gpt"));
    EXPECT_EQ(body.substr(f.model_span.begin, f.model_span.end - f.model_span.begin),
              R"("gpt-\"4\"")");

    std::string replaced = body;
    replaced.replace(f.model_span.begin, f.model_span.end - f.model_span.begin,
                     json_quote("mapped/model"));
    EXPECT_EQ(replaced, R"({ "messages": [], "model" :  "mapped/model" , "stream": false })");
    const auto g = scan_ok(replaced);
    EXPECT_EQ(g.model, "mapped/model");
    EXPECT_EQ(g.stream, false);
}

TEST(JsonScanFields, ModelNotAStringIsAbsent) {
    for (std::string_view t : {R"({"model":1})", R"({"model":null})", R"({"model":["m"]})",
                               R"({"model":{"model":"m"}})", R"({"model":true})"}) {
        const auto f = scan_ok(t);
        EXPECT_FALSE(f.model.has_value()) << t;
        EXPECT_EQ(f.model_span.begin, 0u) << t;
        EXPECT_EQ(f.model_span.end, 0u) << t;
    }
}

TEST(JsonScanFields, NestedKeysAreNotPickedUp) {
    const auto f = scan_ok(
        R"({"metadata":{"model":"nested","stream":true,"max_tokens":5,)"
        R"("stream_options":{"include_usage":true}},)"
        R"("messages":[{"model":"in-array","service_tier":"x"}],"tools":[[{"model":"deep"}]]})");
    EXPECT_TRUE(f.is_object);
    EXPECT_FALSE(f.model.has_value());
    EXPECT_FALSE(f.stream.has_value());
    EXPECT_FALSE(f.max_tokens.has_value());
    EXPECT_FALSE(f.service_tier.has_value());
    EXPECT_FALSE(f.include_usage.has_value());
    EXPECT_FALSE(f.stream_options_span.has_value());
}

TEST(JsonScanFields, TopLevelModelFoundAfterNestedOne) {
    const std::string body = R"({"metadata":{"model":"nested"},"model":"top"})";
    const auto f = scan_ok(body);
    EXPECT_EQ(f.model, "top");
    EXPECT_EQ(f.model_span.begin, body.rfind("\"top\""));
    EXPECT_EQ(f.model_span.end, body.rfind("\"top\"") + 5);
}

TEST(JsonScanFields, StreamFlag) {
    EXPECT_EQ(scan_ok(R"({"stream":true})").stream, true);
    EXPECT_EQ(scan_ok(R"({"stream":false})").stream, false);
    EXPECT_FALSE(scan_ok(R"({"stream":"true"})").stream.has_value());
    EXPECT_FALSE(scan_ok(R"({"stream":1})").stream.has_value());
    EXPECT_FALSE(scan_ok(R"({"stream":0})").stream.has_value());
    EXPECT_FALSE(scan_ok(R"({"stream":null})").stream.has_value());
    EXPECT_FALSE(scan_ok(R"({"stream":[true]})").stream.has_value());
    EXPECT_FALSE(scan_ok(R"({"stream":{"x":false}})").stream.has_value());
    EXPECT_FALSE(valid(R"({"stream":tru})"));
    EXPECT_FALSE(valid(R"({"stream":trueish})"));
}

TEST(JsonScanFields, ServiceTier) {
    EXPECT_EQ(scan_ok(R"({"service_tier":"priority"})").service_tier, "priority");
    EXPECT_EQ(scan_ok(R"({"service_tier":"a\u0062c"})").service_tier, "abc");
    EXPECT_FALSE(scan_ok(R"({"service_tier":null})").service_tier.has_value());
    EXPECT_FALSE(scan_ok(R"({"service_tier":3})").service_tier.has_value());
}

TEST(JsonScanFields, MaxTokensIntegers) {
    EXPECT_EQ(scan_ok(R"({"max_tokens":1})").max_tokens, 1u);
    EXPECT_EQ(scan_ok(R"({"max_tokens":4096})").max_tokens, 4096u);
    EXPECT_EQ(scan_ok(R"({"max_tokens":16777216})").max_tokens, max_token_limit);
    EXPECT_EQ(scan_ok(R"({"max_completion_tokens":7})").max_completion_tokens, 7u);
    EXPECT_EQ(scan_ok(R"({"max_output_tokens":9})").max_output_tokens, 9u);
    EXPECT_FALSE(scan_ok(R"({"max_tokens":4096})").bad_token_limit.has_value());
}

TEST(JsonScanFields, NullTokenLimitIsUnsetNotAnError) {
    const auto f = scan_ok(R"({"max_tokens":null,"max_completion_tokens":null})");
    EXPECT_FALSE(f.max_tokens.has_value());
    EXPECT_FALSE(f.max_completion_tokens.has_value());
    EXPECT_FALSE(f.bad_token_limit.has_value());
}

// Issue 19 item 6: each of these used to read as "unset"; now the field is named and refused.
TEST(JsonScanFields, MalformedTokenLimitsAreRecordedNotIgnored) {
    using reason = token_limit_error::reason;
    const struct {
        std::string_view value;
        reason why;
        std::string_view got;
    } cases[] = {
        {"\"99999\"", reason::not_an_integer, "a string"},
        {"\"\"", reason::not_an_integer, "a string"},
        {"true", reason::not_an_integer, "a boolean"},
        {"false", reason::not_an_integer, "a boolean"},
        {"[1]", reason::not_an_integer, "an array"},
        {"{\"n\":1}", reason::not_an_integer, "an object"},
        {"1.5", reason::not_an_integer, "a decimal number"},
        {"1.0", reason::not_an_integer, "a decimal number"},
        {"-1.5", reason::not_an_integer, "a decimal number"},
        {"1e18", reason::not_an_integer, "a decimal number"},
        {"1E2", reason::not_an_integer, "a decimal number"},
        {"-1", reason::below_minimum, ""},
        {"-0", reason::below_minimum, ""},
        {"0", reason::below_minimum, ""},
        {"-18446744073709551616", reason::below_minimum, ""},
        {"16777217", reason::above_maximum, ""},
        {"18446744073709551615", reason::above_maximum, ""},
        {"18446744073709551616", reason::above_maximum, ""},
        {"99999999999999999999999999999999999999", reason::above_maximum, ""},
    };
    for (const auto& c : cases) {
        for (std::string_view key : {"max_tokens", "max_completion_tokens", "max_output_tokens"}) {
            const std::string body = "{\"model\":\"m\",\"" + std::string(key) +
                                     "\": " + std::string(c.value) + " ,\"stream\":true}";
            const auto f = scan_ok(body);
            EXPECT_FALSE(f.max_tokens.has_value()) << body;
            EXPECT_FALSE(f.max_completion_tokens.has_value()) << body;
            EXPECT_FALSE(f.max_output_tokens.has_value()) << body;
            ASSERT_TRUE(f.bad_token_limit.has_value()) << body;
            EXPECT_EQ(f.bad_token_limit->field, key) << body;
            EXPECT_EQ(f.bad_token_limit->why, c.why) << body;
            EXPECT_EQ(f.bad_token_limit->got, c.got) << body;
            // The rest of the document is still read.
            EXPECT_EQ(f.model, "m");
            EXPECT_EQ(f.stream, true);
        }
    }
}

TEST(JsonScanFields, TheFirstMalformedTokenLimitIsReportedWhateverFollows) {
    // A duplicate keeps its last value (as nlohmann), but a bad earlier one still refuses:
    // upstreams differ on which duplicate they read.
    const auto dup = scan_ok(R"({"max_tokens":"9","max_tokens":8})");
    EXPECT_EQ(dup.max_tokens, 8u);
    ASSERT_TRUE(dup.bad_token_limit.has_value());
    EXPECT_EQ(dup.bad_token_limit->field, "max_tokens");
    const auto two =
        scan_ok(R"({"max_completion_tokens":8,"max_output_tokens":0,"max_tokens":-1})");
    EXPECT_EQ(two.max_completion_tokens, 8u);
    ASSERT_TRUE(two.bad_token_limit.has_value());
    EXPECT_EQ(two.bad_token_limit->field, "max_output_tokens");
    // Nested members of the same name are not the request's limits.
    EXPECT_FALSE(
        scan_ok(R"({"x":{"max_tokens":"9"},"y":[{"max_tokens":-1}]})").bad_token_limit.has_value());
}

TEST(JsonScanFields, MaxTokensFieldsAreIndependent) {
    const auto f = scan_ok(R"({"max_tokens":1.5,"max_completion_tokens":8})");
    EXPECT_FALSE(f.max_tokens.has_value());
    EXPECT_EQ(f.max_completion_tokens, 8u);
    EXPECT_FALSE(f.max_output_tokens.has_value());
}

TEST(JsonScanFields, IncludeUsage) {
    EXPECT_EQ(scan_ok(R"({"stream_options":{"include_usage":true}})").include_usage, true);
    EXPECT_EQ(scan_ok(R"({"stream_options":{"include_usage":false}})").include_usage, false);
    EXPECT_EQ(scan_ok(R"({"stream_options":{"a":{"include_usage":false},"include_usage":true}})")
                  .include_usage,
              true);
    EXPECT_FALSE(
        scan_ok(R"({"stream_options":{"x":{"include_usage":true}}})").include_usage.has_value());
    EXPECT_FALSE(
        scan_ok(R"({"stream_options":{"include_usage":"true"}})").include_usage.has_value());
    EXPECT_FALSE(scan_ok(R"({"stream_options":{"include_usage":1}})").include_usage.has_value());
    EXPECT_FALSE(scan_ok(R"({"stream_options":{}})").include_usage.has_value());
    EXPECT_FALSE(scan_ok(R"({"include_usage":true})").include_usage.has_value());
    EXPECT_FALSE(valid(R"({"stream_options":{"include_usage":true,}})"));
    EXPECT_FALSE(valid(R"({"stream_options":{"include_usage"}})"));
}

TEST(JsonScanFields, StreamOptionsSpan) {
    const std::string body = R"({"model":"m","stream_options": { "include_usage" : false } })";
    const auto f = scan_ok(body);
    ASSERT_TRUE(f.stream_options_span);
    EXPECT_EQ(f.stream_options_span->begin, body.find("{ \"include"));
    EXPECT_EQ(f.stream_options_span->end, body.size() - 2);
    // Not an object: no span, still valid.
    const auto g = scan_ok(R"({"stream_options":null})");
    EXPECT_FALSE(g.stream_options_span.has_value());
    EXPECT_FALSE(g.include_usage.has_value());
}

// ---- json_quote ------------------------------------------------------------------------

TEST(JsonQuote, EscapesExactly) {
    EXPECT_EQ(json_quote(""), "\"\"");
    EXPECT_EQ(json_quote("abc"), "\"abc\"");
    EXPECT_EQ(json_quote("a\"b"), R"("a\"b")");
    EXPECT_EQ(json_quote("a\\b"), R"("a\\b")");
    EXPECT_EQ(json_quote("\n\r\t"), R"("\n\r\t")");
    EXPECT_EQ(json_quote("\b\f"), R"("\u0008\u000c")");
    EXPECT_EQ(json_quote(std::string_view("\0\x1f", 2)), R"("\u0000\u001f")");
    EXPECT_EQ(json_quote("/"), "\"/\"");
    EXPECT_EQ(json_quote("\x7f"), "\"\x7f\"");
    EXPECT_EQ(json_quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

// The eight-bytes-at-a-time skip (SWAR) finds a special byte at every offset of a long
// value, and around the high bytes of UTF-8: each result equals a byte-by-byte reference.
TEST(JsonQuote, EverySpecialByteAtEveryOffsetOfALongValue) {
    const auto reference = [](std::string_view v) {
        std::string out = "\"";
        for (const char ch : v) {
            const auto c = static_cast<unsigned char>(ch);
            if (c == '"' || c == '\\') {
                out += '\\';
                out += ch;
            } else if (c == '\n') {
                out += "\\n";
            } else if (c == '\r') {
                out += "\\r";
            } else if (c == '\t') {
                out += "\\t";
            } else if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += ch;
            }
        }
        return out + "\"";
    };
    for (const char special : {'"', '\\', '\n', '\x01', '\x1f', '\x7f', '\xc3', ' '}) {
        for (std::size_t at = 0; at < 24; ++at) {
            std::string v(24, 'a');
            v[at] = special;
            EXPECT_EQ(json_quote(v), reference(v)) << int(special) << " at " << at;
        }
    }
}

TEST(JsonQuote, RoundTripsThroughTheScanner) {
    std::string ascii;  // every ASCII byte, control characters included
    for (int c = 0; c < 128; ++c)
        ascii += static_cast<char>(c);
    for (const std::string& s : {std::string(), std::string("gpt-4o"), std::string("a\"b\\c/d"),
                                 std::string("line\nnext\r\ttab\b\f"), std::string("\0mid\0", 5),
                                 std::string("\xf0\x9f\x98\x80 emoji"), ascii}) {
        const std::string body = "{\"model\":" + json_quote(s) + "}";
        request_fields f;
        ASSERT_TRUE(scan_request_json(body, f)) << body;
        EXPECT_EQ(f.model, s);
        EXPECT_EQ(f.model_span.begin, 9u);
        EXPECT_EQ(f.model_span.end, body.size() - 1);
    }
}

}  // namespace
}  // namespace ditto::core

namespace ditto::core {
namespace {

TEST(JsonScanUtf8, InvalidUtf8IsInvalidJson) {
    request_fields f;
    EXPECT_TRUE(scan_request_json("{\"model\":\"caf\xc3\xa9\"}", f));
    EXPECT_EQ(*f.model, "caf\xc3\xa9");
    EXPECT_TRUE(scan_request_json("[\"\xf0\x9f\x98\x80\"]", f));   // U+1F600
    EXPECT_FALSE(scan_request_json("[\"\xc3\"]", f));              // truncated
    EXPECT_FALSE(scan_request_json("[\"\xc0\xaf\"]", f));          // overlong '/'
    EXPECT_FALSE(scan_request_json("[\"\xed\xa0\x80\"]", f));      // UTF-16 surrogate
    EXPECT_FALSE(scan_request_json("[\"\xf4\x90\x80\x80\"]", f));  // past U+10FFFF
    EXPECT_FALSE(scan_request_json("[\"\xff\"]", f));
}

}  // namespace
}  // namespace ditto::core

namespace ditto::core {
namespace {

TEST(ScanUsage, ChatCompletionsUsage) {
    usage_fields u;
    ASSERT_TRUE(scan_usage_json(
        R"({"id":"x","usage":{"prompt_tokens":19,"completion_tokens":9,"total_tokens":28,)"
        R"("prompt_tokens_details":{"cached_tokens":4},)"
        R"("completion_tokens_details":{"reasoning_tokens":2}},"choices":[]})",
        u));
    EXPECT_TRUE(u.present);
    EXPECT_EQ(u.input, 19u);
    EXPECT_EQ(u.output, 9u);
    EXPECT_EQ(u.total, 28u);
    EXPECT_EQ(u.cached, 4u);
    EXPECT_EQ(u.reasoning, 2u);
    EXPECT_EQ(u.total_tokens(), 28u);
}

TEST(ScanUsage, ResponsesApiUsageWithoutTotal) {
    usage_fields u;
    ASSERT_TRUE(scan_usage_json(
        R"({"usage":{"input_tokens":7,"output_tokens":5,"input_tokens_details":{"cached_tokens":2}}})",
        u));
    EXPECT_FALSE(u.total);
    EXPECT_EQ(u.input, 7u);  // Responses' input_tokens include the cached ones, as OpenAI's
    EXPECT_EQ(u.cached, 2u);
    EXPECT_EQ(u.total_tokens(), 12u);  // input + output
}

// Anthropic counts cache reads and writes beside input_tokens; the gateway's input is the
// whole prompt, as OpenAI's prompt_tokens (docs/dialects.md): 7 + 4 + 3.
TEST(ScanUsage, AnthropicCacheCountsAreAddedToTheInput) {
    usage_fields u;
    ASSERT_TRUE(scan_usage_json(R"({"type":"message","usage":{"input_tokens":7,"output_tokens":5,)"
                                R"("cache_read_input_tokens":4,"cache_creation_input_tokens":3}})",
                                u));
    EXPECT_EQ(u.input, 14u);
    EXPECT_EQ(u.cached, 4u);
    EXPECT_EQ(u.creation, 3u);
    EXPECT_EQ(u.output, 5u);
    EXPECT_EQ(u.total_tokens(), 19u);
}

// A LiteLLM-style OpenAI usage names creation beside prompt_tokens, which already include it.
TEST(ScanUsage, PromptTokensKeepCacheCreationInside) {
    usage_fields u;
    ASSERT_TRUE(scan_usage_json(
        R"({"usage":{"prompt_tokens":10,"completion_tokens":1,"cache_creation_input_tokens":3}})",
        u));
    EXPECT_EQ(u.input, 10u);
    EXPECT_EQ(u.creation, 3u);
}

// Gemini's candidates count leaves the thinking tokens out; OpenAI's output has them.
TEST(ScanUsage, GeminiUsageMetadata) {
    usage_fields u;
    ASSERT_TRUE(scan_usage_json(
        R"({"candidates":[],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":5,)"
        R"("thoughtsTokenCount":3,"cachedContentTokenCount":4,"totalTokenCount":20}})",
        u));
    EXPECT_TRUE(u.present);
    EXPECT_EQ(u.input, 12u);
    EXPECT_EQ(u.output, 8u);
    EXPECT_EQ(u.reasoning, 3u);
    EXPECT_EQ(u.cached, 4u);
    EXPECT_EQ(u.total_tokens(), 20u);
}

TEST(ScanUsage, InputPlusOutputSaturatesInsteadOfWrapping) {
    usage_fields u;
    ASSERT_TRUE(
        scan_usage_json(R"({"usage":{"input_tokens":18446744073709551615,"output_tokens":2}})", u));
    EXPECT_EQ(u.total_tokens(), 18446744073709551615u);
}

TEST(ScanUsage, OnlyTopLevelUsageCounts) {
    usage_fields u;
    ASSERT_TRUE(scan_usage_json(R"({"data":{"usage":{"total_tokens":99}}})", u));
    EXPECT_FALSE(u.present);
    EXPECT_FALSE(u.total_tokens());
    ASSERT_TRUE(scan_usage_json(R"({"usage":null})", u));
    EXPECT_FALSE(u.present);
    EXPECT_FALSE(scan_usage_json(R"({"usage":{"total_tokens":1})", u));  // truncated
    EXPECT_FALSE(u.present);
}

TEST(ScanUsage, LongAndEscapedKeys) {
    usage_fields u;
    // Escaped member names are decoded before they are compared.
    ASSERT_TRUE(scan_usage_json(R"({"us\u0061ge":{"total_\u0074okens":4}})", u));
    EXPECT_EQ(u.total, 4u);
    // Names longer than any known key are validated and never match.
    const std::string long_key(100, 'k');
    ASSERT_TRUE(scan_usage_json(R"({")" + long_key + R"(_usage":{"total_tokens":1},)" +
                                    R"("usage":{")" + long_key +
                                    R"(_details":{"cached_tokens":1},)" + R"("total_tokens":2}})",
                                u));
    EXPECT_EQ(u.total, 2u);
    EXPECT_FALSE(u.cached);
    EXPECT_FALSE(scan_usage_json(R"({")" + long_key + R"(\x":1})", u));  // bad escape
}

stream_event_fields scan_event_ok(std::string_view text) {
    stream_event_fields f;
    EXPECT_TRUE(scan_stream_event_json(text, f)) << text;
    return f;
}

TEST(ScanStreamEvent, ChatUsageChunk) {
    const auto f = scan_event_ok(
        R"({"id":"c","object":"chat.completion.chunk","system_fingerprint":"fp","choices":[],)"
        R"("usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14,)"
        R"("completion_tokens_details":{"reasoning_tokens":2}}})");
    EXPECT_TRUE(f.usage.present);
    EXPECT_FALSE(f.usage_from_response);
    EXPECT_TRUE(f.choices_empty);
    EXPECT_EQ(f.usage.input, 5u);
    EXPECT_EQ(f.usage.output, 9u);
    EXPECT_EQ(f.usage.total, 14u);
    EXPECT_EQ(f.usage.reasoning, 2u);
}

TEST(ScanStreamEvent, ContentChunk) {
    const auto f = scan_event_ok(
        R"({"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null})");
    EXPECT_FALSE(f.usage.present);
    EXPECT_FALSE(f.choices_empty);
}

TEST(ScanStreamEvent, ChoicesEmptyOnlyForATopLevelEmptyArray) {
    EXPECT_TRUE(scan_event_ok(R"({"choices":[]})").choices_empty);
    EXPECT_TRUE(scan_event_ok("{\"choices\" : [ \t\r\n ] }").choices_empty);
    EXPECT_FALSE(scan_event_ok(R"({"choices":[{}]})").choices_empty);
    EXPECT_FALSE(scan_event_ok(R"({"choices":[[]]})").choices_empty);
    EXPECT_FALSE(scan_event_ok(R"({"choices":{}})").choices_empty);
    EXPECT_FALSE(scan_event_ok(R"({"choices":null})").choices_empty);
    EXPECT_FALSE(scan_event_ok(R"({"choices":""})").choices_empty);
    EXPECT_FALSE(scan_event_ok(R"({"x":{"choices":[]}})").choices_empty);
    EXPECT_FALSE(scan_event_ok(R"({})").choices_empty);
    EXPECT_FALSE(scan_event_ok(R"([])").choices_empty);
    EXPECT_FALSE(scan_event_ok(R"({"choices":[],"choices":[1]})").choices_empty);  // last wins
}

TEST(ScanStreamEvent, ResponsesApiNestedUsage) {
    const auto f = scan_event_ok(
        R"({"type":"response.completed","response":{"id":"r","output":[{"usage":{"total_tokens":1}}],)"
        R"("usage":{"input_tokens":7,"output_tokens":3,"total_tokens":10,)"
        R"("input_tokens_details":{"cached_tokens":2},)"
        R"("output_tokens_details":{"reasoning_tokens":1}}}})");
    EXPECT_TRUE(f.usage.present);
    EXPECT_TRUE(f.usage_from_response);
    EXPECT_FALSE(f.choices_empty);
    EXPECT_EQ(f.usage.input, 7u);
    EXPECT_EQ(f.usage.output, 3u);
    EXPECT_EQ(f.usage.total, 10u);
    EXPECT_EQ(f.usage.cached, 2u);
    EXPECT_EQ(f.usage.reasoning, 1u);
}

TEST(ScanStreamEvent, TopLevelUsageWinsOverResponseUsage) {
    for (
        std::string_view t :
        {R"({"usage":{"total_tokens":1},"response":{"usage":{"total_tokens":2,"input_tokens":3}}})",
         R"({"response":{"usage":{"total_tokens":2,"input_tokens":3}},"usage":{"total_tokens":1}})"}) {
        const auto f = scan_event_ok(t);
        EXPECT_TRUE(f.usage.present) << t;
        EXPECT_FALSE(f.usage_from_response) << t;
        EXPECT_EQ(f.usage.total, 1u) << t;
        EXPECT_FALSE(f.usage.input) << t;  // nothing of the nested one leaks in
    }
    // A null top-level usage does not hide the nested one.
    const auto f = scan_event_ok(R"({"usage":null,"response":{"usage":{"total_tokens":2}}})");
    EXPECT_TRUE(f.usage_from_response);
    EXPECT_EQ(f.usage.total, 2u);
}

TEST(ScanStreamEvent, AbsentUsage) {
    for (std::string_view t :
         {R"({"type":"response.created","response":{"id":"r","usage":null}})",
          R"({"response":{"x":{"usage":{"total_tokens":1}}}})",
          R"({"data":{"usage":{"total_tokens":1}}})", R"({"response":null,"usage":1})",
          R"({"response":[{"usage":{"total_tokens":1}}]})", R"("usage")", R"(null)"}) {
        const auto f = scan_event_ok(t);
        EXPECT_FALSE(f.usage.present) << t;
        EXPECT_FALSE(f.usage_from_response) << t;
    }
}

TEST(ScanStreamEvent, InvalidJsonResetsFields) {
    stream_event_fields f;
    f.choices_empty = true;
    f.usage.present = true;
    for (std::string_view t :
         {R"({"choices":[],"usage":{"total_tokens":1})", R"({"choices":[,],"usage":{}})",
          R"({"response":{"usage":{"total_tokens":1}})", "{\"usage\":{}}x", "",
          "{\"usage\":{},\"x\":\"\xff\"}"}) {
        EXPECT_FALSE(scan_stream_event_json(t, f)) << t;
        EXPECT_FALSE(f.usage.present) << t;
        EXPECT_FALSE(f.choices_empty) << t;
        EXPECT_FALSE(f.usage_from_response) << t;
    }
}

}  // namespace
}  // namespace ditto::core
