// json_dom, the config's JSON reader: navigation, number types, escapes, and agreement with
// nlohmann (the parser it replaced) on valid and invalid documents alike.

#include "ditto/core/json_dom.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shared/json_dom_oracle.hpp"

namespace ditto::core {
namespace {

TEST(JsonDom, NavigatesObjectsAndArrays) {
    json_dom dom;
    const std::string text = R"( {"a":[1,{"b":"x"},[]],"c":{"d":null},"a2":true} )";
    ASSERT_TRUE(dom.parse(text)) << dom.error();
    const auto& root = dom.root();
    ASSERT_TRUE(root.is_object());
    EXPECT_EQ(root.size(), 3u);
    const auto* a = root.find("a");
    ASSERT_NE(a, nullptr);
    ASSERT_TRUE(a->is_array());
    std::vector<json_node::kind> kinds;
    for (const auto& e : *a)
        kinds.push_back(e.type());
    EXPECT_EQ(kinds, (std::vector{json_node::kind::unsigned_int, json_node::kind::object,
                                  json_node::kind::array}));
    EXPECT_EQ(root.find("c")->find("d")->type(), json_node::kind::null);
    EXPECT_TRUE(root.find("a2")->boolean());
    EXPECT_EQ(root.find("zz"), nullptr);
    EXPECT_EQ(a->find("b"), nullptr);  // not an object
}

TEST(JsonDom, LastRepeatedNameWins) {
    json_dom dom;
    ASSERT_TRUE(dom.parse(R"({"k":1,"k":2})"));
    EXPECT_EQ(dom.root().find("k")->u64(), 2u);
    EXPECT_EQ(dom.root().size(), 2u);  // both members are there to iterate
}

TEST(JsonDom, NumbersAreTypedAsNlohmannTypesThem) {
    json_dom dom;
    ASSERT_TRUE(
        dom.parse("[0,18446744073709551615,18446744073709551616,-1,-9223372036854775808,"
                  "-9223372036854775809,1.5,1e3,-0]"));
    std::vector<const json_node*> v;
    for (const auto& e : dom.root())
        v.push_back(&e);
    ASSERT_EQ(v.size(), 9u);
    EXPECT_TRUE(v[1]->is_number_unsigned());
    EXPECT_EQ(v[1]->u64(), 18446744073709551615u);
    EXPECT_EQ(v[2]->type(), json_node::kind::real);  // past 64 bits
    EXPECT_EQ(v[3]->i64(), -1);
    EXPECT_EQ(v[4]->i64(), INT64_MIN);
    EXPECT_EQ(v[5]->type(), json_node::kind::real);
    EXPECT_DOUBLE_EQ(v[6]->f64(), 1.5);
    EXPECT_EQ(v[7]->type(), json_node::kind::real);
    EXPECT_TRUE(v[8]->is_number_integer());
    EXPECT_FALSE(v[8]->is_number_unsigned());
}

TEST(JsonDom, DecodesEscapes) {
    json_dom dom;
    ASSERT_TRUE(dom.parse(R"(["a\"b\\c\/d\b\f\n\r\t","\u00e9\u20ac\ud83d\ude00","\u0000x"])"));
    std::vector<std::string_view> s;
    for (const auto& e : dom.root())
        s.push_back(e.str());
    EXPECT_EQ(s[0], "a\"b\\c/d\b\f\n\r\t");
    EXPECT_EQ(s[1], "\u00e9\u20ac\U0001F600");
    EXPECT_EQ(s[2], std::string_view("\0x", 2));
}

TEST(JsonDom, ReportsWhereItStopped) {
    json_dom dom;
    EXPECT_FALSE(dom.parse("{\"a\":\n [1,]}"));
    EXPECT_EQ(dom.error_offset(), 10u);
    EXPECT_TRUE(dom.root().is_null());  // still safe to look at
}

TEST(JsonDom, AgreesWithNlohmann) {
    const std::vector<std::string> cases = {"",
                                            " ",
                                            "{}",
                                            "[]",
                                            "null",
                                            "true",
                                            "false",
                                            "0",
                                            "-0",
                                            "01",
                                            "1.",
                                            ".5",
                                            "1e",
                                            "1e+",
                                            "1E-2",
                                            "-",
                                            "--1",
                                            "+1",
                                            "1.5e308",
                                            "1e400",
                                            "-1e400",
                                            "4.9e-325",
                                            "\"\"",
                                            "\"abc",
                                            "\"a\\x\"",
                                            "\"\\u12\"",
                                            "\"\\uD800\"",
                                            "\"\\uDC00\"",
                                            "\"\\uD800\\u0041\"",
                                            "\"\\uD83D\\uDE00\"",
                                            "\"tab\there\"",
                                            "\"\xc3\xa9\"",
                                            "\"\xc3\"",
                                            "\"\xed\xa0\x80\"",
                                            "\"\xf4\x90\x80\x80\"",
                                            "\"\xc0\xaf\"",
                                            "[1,2",
                                            "[1,,2]",
                                            "[1 2]",
                                            "{\"a\"}",
                                            "{\"a\":}",
                                            "{\"a\":1,}",
                                            "{a:1}",
                                            "{\"a\":1}x",
                                            "nul",
                                            "truex",
                                            "[true,false,null]",
                                            " \t\r\n{\"k\" : [ 1 , \"v\" ] } \n",
                                            "{\"a\":{\"a\":{\"a\":[[[]]]}}}",
                                            "{\"dup\":1,\"dup\":\"two\"}",
                                            std::string("\"a\0b\"", 5),
                                            std::string("[1]\0", 4),
                                            "18446744073709551615",
                                            "18446744073709551616",
                                            "-9223372036854775809",
                                            std::string(600, '[') + std::string(600, ']'),
                                            "\xEF\xBB\xBF{}",
                                            "\xEF\xBB\xBF",
                                            "\xEF\xBB{}",
                                            " \xEF\xBB\xBF{}",
                                            "\xEF\xBB\xBF\xEF\xBB\xBF{}"};
    for (const auto& text : cases) {
        const auto diff = test::json_dom_disagreement(text);
        EXPECT_FALSE(diff.has_value()) << "input: " << text << "\n" << diff.value_or("");
    }
}

}  // namespace
}  // namespace ditto::core
