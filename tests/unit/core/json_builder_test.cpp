#include "ditto/core/json_builder.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ditto/core/json_dom.hpp"

namespace {

using ditto::core::json_builder;

TEST(JsonBuilder, NestsWithCommasInTheRightPlaces) {
    json_builder b;
    b.begin_object()
        .member("a", std::uint64_t{1})
        .key("list")
        .begin_array()
        .string("x")
        .begin_object()
        .end_object()
        .number(std::int64_t{-2})
        .end_array()
        .key("o")
        .begin_object()
        .member("t", true)
        .key("n")
        .null()
        .end_object()
        .end_object();
    EXPECT_EQ(b.str(), R"({"a":1,"list":["x",{},-2],"o":{"t":true,"n":null}})");
}

TEST(JsonBuilder, EscapesKeysAndStrings) {
    json_builder b;
    b.begin_object().member("k\"\n", "v\\\x01").end_object();
    EXPECT_EQ(nlohmann::json::parse(b.str()), (nlohmann::json{{"k\"\n", "v\\\x01"}}));
}

TEST(JsonBuilder, WritesAParsedNodeBackAsTheSameValue) {
    const std::string text =
        R"({"s":"a\u00e9\"","n":[1,-3,2.5,1e300,true,false,null],"o":{"x":{"y":[]}}})";
    ditto::core::json_dom dom;
    ASSERT_TRUE(dom.parse(text));
    json_builder b;
    b.node(dom.root());
    EXPECT_EQ(nlohmann::json::parse(b.str()), nlohmann::json::parse(text));
}

TEST(JsonBuilder, NonFiniteNumbersBecomeNull) {
    json_builder b;
    b.begin_array().number(1.0 / 0.0).number(0.5).end_array();
    EXPECT_EQ(b.str(), "[null,0.5]");
}

}  // namespace
