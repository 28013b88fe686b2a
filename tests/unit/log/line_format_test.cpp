// How a log event becomes a line: escaping that keeps a client from forging lines, caps, UTF-8.
#include "ditto/log/line_format.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ditto::log {
namespace {

std::string plain(std::string_view v) {
    std::string out;
    append_plain_value(out, v);
    return out;
}

std::string json(std::string_view v) {
    std::string out;
    append_json_value(out, v);
    return out;
}

TEST(LogLineFormat, PlainValuesAreBareUnlessTheyCouldSplitAFieldOrALine) {
    EXPECT_EQ(plain("gpt-4o-mini"), "gpt-4o-mini");
    EXPECT_EQ(plain("/v1/chat/completions"), "/v1/chat/completions");
    EXPECT_EQ(plain(""), "");
    EXPECT_EQ(plain("modèle"), "modèle");  // UTF-8 text stays as it is
    EXPECT_EQ(plain("a b"), R"("a b")");
    EXPECT_EQ(plain("k=v"), R"("k=v")");
    EXPECT_EQ(plain(R"(say "hi")"), R"("say \"hi\"")");
    EXPECT_EQ(plain(R"(a\b)"), R"("a\\b")");
    EXPECT_EQ(plain("m\r\n2026-12-06T00:00:00.000Z info admin.key.upsert: key_id=k1"),
              R"("m\r\n2026-12-06T00:00:00.000Z info admin.key.upsert: key_id=k1")");
    EXPECT_EQ(plain(std::string("a\0b\x1b[31m\x7f", 9)), R"("a\x00b\x1b[31m\x7f")");
}

TEST(LogLineFormat, FreeTextKeepsSpacesButNoControlBytes) {
    std::string out;
    append_plain_text(out, "upstream said: no\nforged line");
    EXPECT_EQ(out, R"(upstream said: no\nforged line)");
}

TEST(LogLineFormat, LongValuesAreCutAtACharacterBoundary) {
    const std::string v(max_value_bytes - 1, 'x');
    const std::string long_value = v + "é" + std::string(1000, 'y');  // é straddles the cap
    const std::string out = plain(long_value);
    EXPECT_EQ(out, "\"" + v + "...(+" + std::to_string(long_value.size() - v.size()) + " bytes)\"");
    const auto parsed = nlohmann::json::parse(json(long_value));
    EXPECT_EQ(parsed.get<std::string>(),
              v + "...(+" + std::to_string(long_value.size() - v.size()) + " bytes)");
    EXPECT_EQ(plain(std::string(max_value_bytes, 'z')), std::string(max_value_bytes, 'z'));
}

TEST(LogLineFormat, JsonValuesAreAlwaysValidJson) {
    EXPECT_EQ(json("plain"), R"("plain")");
    EXPECT_EQ(json("a\"b\\c\nd"), R"("a\"b\\c\nd")");
    // Invalid UTF-8 (a lone continuation byte, a truncated sequence, an overlong) becomes
    // U+FFFD, so a strict reader never rejects the line.
    const std::string bad = std::string("ok\x80") + "\xE2\x82" + "!\xC0\xAF";
    const std::string out = json(bad);
    const auto parsed = nlohmann::json::parse(out);  // throws on invalid UTF-8
    EXPECT_EQ(parsed.get<std::string>(),
              "ok\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD!\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(LogLineFormat, UtcTimestampWithMilliseconds) {
    std::string out;
    append_utc_timestamp(out, 1796541026123);  // 2026-12-06T07:10:26.123Z
    EXPECT_EQ(out, "2026-12-06T07:10:26.123Z");
    out.clear();
    append_utc_timestamp(out, 1796541027005);  // the next second: the cached date moves on
    EXPECT_EQ(out, "2026-12-06T07:10:27.005Z");
    out.clear();
    append_utc_timestamp(out, 0);
    EXPECT_EQ(out, "1970-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace ditto::log
