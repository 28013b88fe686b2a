#include "ditto/core/strings.hpp"

#include <gtest/gtest.h>

namespace ditto::core {
namespace {

TEST(Strings, TrimRemovesAsciiWhitespaceOnly) {
    EXPECT_EQ(trim("  a b \t\r\n"), "a b");
    EXPECT_EQ(trim(""), "");
    EXPECT_EQ(trim(" \t "), "");
    EXPECT_EQ(trim("\xc2\xa0x"), "\xc2\xa0x");  // non-ASCII space is content
}

TEST(Strings, CaseInsensitiveHelpers) {
    EXPECT_EQ(to_lower("Content-TYPE"), "content-type");
    EXPECT_TRUE(iequals("Bearer", "bEARER"));
    EXPECT_FALSE(iequals("Bearer", "Bearer "));
    EXPECT_TRUE(iequals_prefix("Application/JSON; charset=utf-8", "application/json"));
    EXPECT_FALSE(iequals_prefix("app", "application"));
}

TEST(Strings, IsHex) {
    EXPECT_TRUE(is_hex("0123456789abcdefABCDEF"));
    EXPECT_FALSE(is_hex("0x12"));
    EXPECT_TRUE(is_hex(""));
}

}  // namespace
}  // namespace ditto::core
