#include "ditto/cost/pricing.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <utility>

namespace ditto::cost {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

pricing_table must_parse(std::string_view json) {
    std::string error;
    auto table = pricing_table::parse(json, error);
    EXPECT_TRUE(table.has_value()) << error;
    return table ? std::move(*table) : pricing_table{};
}

// Returns the parse error, or "" when parsing unexpectedly succeeded.
std::string parse_error(std::string_view json) {
    std::string error;
    auto table = pricing_table::parse(json, error);
    EXPECT_FALSE(table.has_value()) << json;
    return table ? std::string{} : error;
}

std::optional<std::uint64_t> cost(const pricing_table& t, std::string_view model, token_counts c,
                                  std::string_view tier = {}) {
    return t.estimate_usd_micros(model, c, tier);
}

TEST(Pricing, PerTokenAndPer1kFields) {
    const auto t = must_parse(R"({
        "per-token": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
        "per-1k": {"input_cost_per_1k_tokens": 0.002, "output_cost_per_1k_tokens": 0.004},
        "both": {"input_cost_per_token": 1e-6, "input_cost_per_1k_tokens": 0.5}
    })");
    EXPECT_EQ(t.size(), 3u);
    EXPECT_EQ(cost(t, "per-token", {.input = 1000, .output = 500}), 2000u);
    EXPECT_EQ(cost(t, "per-1k", {.input = 1000, .output = 1000}), 6000u);
    // The per-token spelling wins over per-1k.
    EXPECT_EQ(cost(t, "both", {.input = 1000}), 1000u);
    EXPECT_EQ(cost(t, "per-token", {}), 0u);
}

TEST(Pricing, SubMicroRatesAreRoundedOnceHalfUp) {
    const auto t =
        must_parse(R"({"m": {"input_cost_per_token": 1.5e-7, "output_cost_per_token": 1.5e-7}})");
    EXPECT_EQ(cost(t, "m", {.input = 3}), 0u);   // 0.45
    EXPECT_EQ(cost(t, "m", {.input = 10}), 2u);  // 1.5, half up
    EXPECT_EQ(cost(t, "m", {.input = 9}), 1u);   // 1.35
    EXPECT_EQ(cost(t, "m", {.input = 1'000'000}), 150000u);
    // 0.45 + 0.45: rounding each part would give 0.
    EXPECT_EQ(cost(t, "m", {.input = 3, .output = 3}), 1u);
}

TEST(Pricing, OneDollarPerToken) {
    const auto t = must_parse(R"({"m": {"input_cost_per_token": 1, "output_cost_per_token": 1}})");
    EXPECT_EQ(cost(t, "m", {.input = 1}), 1'000'000u);
    EXPECT_EQ(cost(t, "m", {.output = 2}), 2'000'000u);
}

TEST(Pricing, CachedTokensUseCacheReadRate) {
    const auto t = must_parse(R"({
        "m": {"input_cost_per_token": 3e-6, "cache_read_input_token_cost": 3e-7,
              "output_cost_per_token": 1.5e-5}
    })");
    // 600 * 3 + 400 * 0.3 + 10 * 15
    EXPECT_EQ(cost(t, "m", {.input = 1000, .cached = 400, .output = 10}), 2070u);
    // Cached tokens beyond the input count are clamped.
    EXPECT_EQ(cost(t, "m", {.input = 1000, .cached = 5000}), 300u);
}

TEST(Pricing, CacheReadDefaultsToInputRate) {
    const auto t =
        must_parse(R"({"m": {"input_cost_per_token": 3e-6, "output_cost_per_token": 0}})");
    EXPECT_EQ(cost(t, "m", {.input = 1000, .cached = 400}), 3000u);
}

TEST(Pricing, CreationAddedOnlyWhenModelHasRate) {
    const auto t = must_parse(R"({
        "with": {"input_cost_per_token": 3e-6, "output_cost_per_token": 0,
                 "cache_creation_input_token_cost": 3.75e-6},
        "without": {"input_cost_per_token": 3e-6, "output_cost_per_token": 0}
    })");
    EXPECT_TRUE(t.has_creation_rate("with"));
    EXPECT_FALSE(t.has_creation_rate("without"));
    EXPECT_FALSE(t.has_creation_rate("unknown"));
    // 800 * 3 + 200 * 3.75: creation tokens pay their own rate instead of the input rate.
    EXPECT_EQ(cost(t, "with", {.input = 1000, .creation = 200}), 3150u);
    // No creation rate: they are plain input tokens.
    EXPECT_EQ(cost(t, "without", {.input = 1000, .creation = 200}), 3000u);
    // Clamped to the input count: 100 * 3.75.
    EXPECT_EQ(cost(t, "with", {.input = 100, .creation = 1000}), 375u);
}

TEST(Pricing, EachInputTokenIsChargedOnceAtItsOwnRate) {
    // Issue 20: the original (LiteLLM #9812) charged creation tokens the input rate and the
    // creation rate. 10,000 input tokens, of which 2,000 cached and 3,000 written to the cache,
    // and 500 output, at 3 µ$ input, 0.3 µ$ cache read, 3.75 µ$ creation, 15 µ$ output:
    //   plain     (10,000 − 2,000 − 3,000) · 3    = 15,000
    //   cached                    2,000 · 0.3     =    600
    //   creation                  3,000 · 3.75    = 11,250
    //   output                      500 · 15      =  7,500
    //                                               34,350 µ$
    // (the double charge made it 43,350: 3,000 · 3 more).
    const auto t = must_parse(R"({
        "m": {"input_cost_per_token": 3e-6, "cache_read_input_token_cost": 3e-7,
              "cache_creation_input_token_cost": 3.75e-6, "output_cost_per_token": 1.5e-5}
    })");
    EXPECT_EQ(cost(t, "m", {.input = 10'000, .cached = 2'000, .creation = 3'000, .output = 500}),
              34'350u);
    // Cached and creation beyond the input count: cached first (2,000 · 0.3), then the
    // remaining 1,000 as creation (· 3.75), no plain input left.
    EXPECT_EQ(cost(t, "m", {.input = 3'000, .cached = 2'000, .creation = 3'000}), 4'350u);
}

TEST(Pricing, PriorityAndFlexVariants) {
    const auto t = must_parse(R"({
        "m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
              "cache_read_input_token_cost": 1e-7,
              "input_cost_per_token_priority": 2e-6, "output_cost_per_token_priority": 4e-6,
              "cache_read_input_token_cost_priority": 2e-7,
              "input_cost_per_token_flex": 5e-7}
    })");
    const token_counts c{.input = 1000, .cached = 500, .output = 100};
    EXPECT_EQ(cost(t, "m", c), 750u);  // 500 + 50 + 200
    EXPECT_EQ(cost(t, "m", c, "priority"), 1500u);
    EXPECT_EQ(cost(t, "m", c, "Priority"), 1500u);
    // Flex has only an input rate: cache read and output fall back to standard.
    EXPECT_EQ(cost(t, "m", c, "FLEX"), 500u);  // 250 + 50 + 200
    for (std::string_view other : {"", "default", "auto", "scale", "priority ", "prio"}) {
        EXPECT_EQ(cost(t, "m", c, other), 750u) << other;
    }
}

TEST(Pricing, CacheReadDefaultFollowsSelectedInputRate) {
    const auto t = must_parse(R"({
        "m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 0,
              "input_cost_per_token_priority": 2e-6}
    })");
    EXPECT_EQ(cost(t, "m", {.input = 1000, .cached = 500}, "priority"), 2000u);
}

TEST(Pricing, ContextTiersLargestExceededWins) {
    // Key order puts 128k before 200000, so an unsorted scan would stop at the smaller tier.
    const auto t = must_parse(R"({
        "m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6,
              "input_cost_per_token_above_128k_tokens": 2e-6,
              "input_cost_per_token_above_200000_tokens": 3e-6,
              "output_cost_per_token_above_128k_tokens": 1.5e-6}
    })");
    EXPECT_EQ(cost(t, "m", {.input = 128000, .output = 1000}), 129000u);  // not > 128k
    EXPECT_EQ(cost(t, "m", {.input = 128001, .output = 1000}), 257502u);
    EXPECT_EQ(cost(t, "m", {.input = 200000, .output = 1000}), 401500u);
    EXPECT_EQ(cost(t, "m", {.input = 200001, .output = 1000}), 601503u);
}

TEST(Pricing, ContextTiersAreIndependentPerKind) {
    const auto t = must_parse(R"({
        "m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6,
              "cache_read_input_token_cost": 1e-7,
              "cache_creation_input_token_cost": 2e-6,
              "cache_read_input_token_cost_above_200k_tokens": 3e-7,
              "cache_creation_input_token_cost_above_200k_tokens": 4e-6}
    })");
    // Input has no tier: stays at 1e-6 while cache read and creation switch.
    // 99,000 · 1 + 100,000 · 0.1 + 1,000 · 2, then 99,001 · 1 + 100,000 · 0.3 + 1,000 · 4.
    EXPECT_EQ(cost(t, "m", {.input = 200000, .cached = 100000, .creation = 1000}), 111000u);
    EXPECT_EQ(cost(t, "m", {.input = 200001, .cached = 100000, .creation = 1000}), 133001u);
}

TEST(Pricing, CreationTierWithoutStandardRate) {
    const auto t = must_parse(R"({
        "m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 0,
              "cache_creation_input_token_cost_above_1k_tokens": 1e-5}
    })");
    EXPECT_TRUE(t.has_creation_rate("m"));
    // Below the tier creation tokens are plain input; above it 901 · 1 + 100 · 10.
    EXPECT_EQ(cost(t, "m", {.input = 1000, .creation = 100}), 1000u);
    EXPECT_EQ(cost(t, "m", {.input = 1001, .creation = 100}), 1901u);
}

TEST(Pricing, VariantRateBeatsContextTier) {
    const auto t = must_parse(R"({
        "m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6,
              "input_cost_per_token_above_200k_tokens": 2e-6,
              "output_cost_per_token_above_200k_tokens": 3e-6,
              "input_cost_per_token_priority": 5e-6}
    })");
    // Input uses the priority rate; output has no priority rate, so its context tier applies.
    EXPECT_EQ(cost(t, "m", {.input = 200001, .output = 1000}, "priority"), 1003005u);
    EXPECT_EQ(cost(t, "m", {.input = 200001, .output = 1000}), 403002u);
}

TEST(Pricing, UnrelatedFieldsAreIgnored) {
    const auto t = must_parse(R"({
        "sample_spec": {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0,
                        "litellm_provider": "one of ...", "max_tokens": "LEGACY parameter",
                        "supported_regions": ["global"], "supports_vision": true,
                        "search_context_cost_per_query": {"search_context_size_low": 0.0}},
        "m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6,
              "mode": "chat", "input_cost_per_token_batches": "x",
              "cache_creation_input_token_cost_above_1hr": "x",
              "cache_creation_input_token_cost_above_1hr_above_200k_tokens": "x",
              "input_cost_per_token_above_272k_tokens_priority": "x",
              "input_cost_per_token_above_tokens": "x",
              "input_cost_per_token_above_12m_tokens": "x",
              "computer_use_input_cost_per_1k_tokens": "x"}
    })");
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(cost(t, "sample_spec", {.input = 10, .output = 10}), 0u);
    EXPECT_EQ(cost(t, "m", {.input = 300000}), 300000u);
}

TEST(Pricing, NonObjectRootIsAnError) {
    for (std::string_view json : {"[]", "1", R"("x")", "null"}) {
        EXPECT_NE(parse_error(json).find("root is not a JSON object"), std::string::npos) << json;
    }
    EXPECT_NE(parse_error("{").find("invalid JSON"), std::string::npos);
}

TEST(Pricing, NonObjectEntryIsAnError) {
    const auto err = parse_error(R"({"ok": {"input_cost_per_token": 1}, "gpt-4o": [1]})");
    EXPECT_EQ(err, R"(pricing: entry "gpt-4o" is not an object)");
}

TEST(Pricing, BadFieldValuesAreErrors) {
    struct bad_case {
        std::string_view field;
        std::string_view value;
        std::string_view reason;
    };
    for (const auto& c : {
             bad_case{"input_cost_per_token", "-1e-6", "negative"},
             bad_case{"output_cost_per_token", R"("0.000002")", "not a number"},
             bad_case{"cache_read_input_token_cost", "null", "not a number"},
             bad_case{"cache_creation_input_token_cost", "true", "not a number"},
             bad_case{"input_cost_per_token_flex", "{}", "not a number"},
             bad_case{"output_cost_per_1k_tokens", "-0.5", "negative"},
             bad_case{"input_cost_per_token", "1e300", "too large"},
             bad_case{"output_cost_per_token_priority", "18446744073709551615", "too large"},
             // Just above UINT64_MAX pico-dollars once scaled.
             bad_case{"input_cost_per_token", "18446745", "too large"},
             bad_case{"input_cost_per_token_above_128k_tokens", R"("x")", "not a number"},
             bad_case{"cache_read_input_token_cost_above_200000_tokens", "-1", "negative"},
         }) {
        const std::string json = R"({"gpt-4o": {"input_cost_per_token": 1e-6, ")" +
                                 std::string(c.field) + R"(": )" + std::string(c.value) + "}}";
        const std::string err = parse_error(json);
        const std::string expected = R"(pricing: entry "gpt-4o" field ")" + std::string(c.field) +
                                     R"(" is )" + std::string(c.reason);
        EXPECT_EQ(err, expected) << json;
    }
}

TEST(Pricing, LargestRepresentableRateIsAccepted) {
    // 18446744 USD/token is 1.8446744e19 p$, just under UINT64_MAX.
    const auto t = must_parse(R"({"m": {"input_cost_per_token": 18446744}})");
    EXPECT_EQ(cost(t, "m", {.input = 1}), 18'446'744'000'000u);
}

TEST(Pricing, NumberBeyondDoubleIsAnError) {
    const auto err = parse_error(R"({"m": {"input_cost_per_token": 1e400}})");
    EXPECT_NE(err.find("invalid JSON"), std::string::npos) << err;
}

TEST(Pricing, TierThresholdErrors) {
    EXPECT_EQ(parse_error(R"({"m": {"input_cost_per_token": 1e-6,
                                    "input_cost_per_token_above_128k_tokens": 2e-6,
                                    "input_cost_per_token_above_128000_tokens": 3e-6}})"),
              R"(pricing: entry "m" field "input_cost_per_token_above_128k_tokens")"
              R"( repeats a context threshold)");
    EXPECT_EQ(
        parse_error(R"({"m": {"input_cost_per_token": 1e-6,
                                    "input_cost_per_token_above_99999999999999999999k_tokens": 1}})"),
        R"(pricing: entry "m" field "input_cost_per_token_above_99999999999999999999k_tokens")"
        R"( has a threshold that is too large)");
}

TEST(Pricing, EntriesWithoutTokenPriceAreSkipped) {
    const auto t = must_parse(R"({
        "dall-e": {"input_cost_per_pixel": 1.9e-8, "output_cost_per_pixel": 0.0,
                   "mode": "image_generation"},
        "cache-only": {"cache_read_input_token_cost": 1e-7},
        "output-only": {"output_cost_per_token": 1e-6},
        "input-only": {"input_cost_per_1k_tokens": 0.001}
    })");
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(t.skipped(), (std::vector<std::string>{"cache-only", "dall-e"}));
    EXPECT_FALSE(t.has_model("dall-e"));
    EXPECT_EQ(cost(t, "dall-e", {.input = 1}), std::nullopt);
    // A missing input or output rate counts as zero.
    EXPECT_EQ(cost(t, "output-only", {.input = 1000, .output = 1000}), 1000u);
    EXPECT_EQ(cost(t, "input-only", {.input = 1000, .output = 1000}), 1000u);
}

TEST(Pricing, SkippedEntryFieldsAreStillValidated) {
    const auto err = parse_error(R"({"tts": {"input_cost_per_character": 1e-5,
                                             "cache_read_input_token_cost": "x"}})");
    EXPECT_NE(err.find(R"(entry "tts")"), std::string::npos) << err;
}

TEST(Pricing, UnknownModelIsNullopt) {
    const auto t = must_parse(R"({"gpt-4o": {"input_cost_per_token": 1e-6}})");
    EXPECT_TRUE(t.has_model("gpt-4o"));
    EXPECT_EQ(cost(t, "gpt-4o-mini", {.input = 1}), std::nullopt);
    EXPECT_EQ(cost(t, "GPT-4o", {.input = 1}), std::nullopt);
    EXPECT_EQ(cost(t, "gpt-4", {.input = 1}), std::nullopt);
    EXPECT_EQ(cost(t, "*", {.input = 1}), std::nullopt);
    EXPECT_EQ(cost(pricing_table{}, "gpt-4o", {.input = 1}), std::nullopt);
}

TEST(Pricing, SaturatesAtUint64Max) {
    const auto t = must_parse(R"({
        "dollar": {"input_cost_per_token": 1, "output_cost_per_token": 1},
        "huge": {"input_cost_per_token": 1e7, "output_cost_per_token": 1e7,
                 "cache_creation_input_token_cost": 1e7}
    })");
    EXPECT_EQ(cost(t, "dollar", {.input = kMax}), kMax);
    EXPECT_EQ(cost(t, "dollar", {.input = kMax, .output = kMax}), kMax);
    // (input + output) * 1e19 p$ exceeds 2^128 by only ~6.6e18: a wrapping sum would come out
    // as a few million dollars instead of saturating.
    EXPECT_EQ(cost(t, "huge", {.input = kMax, .output = 15581492618384294732u}), kMax);
    EXPECT_EQ(cost(t, "huge", {.input = kMax, .cached = kMax, .creation = kMax, .output = kMax}),
              kMax);
    // Just below saturation the result is exact: (2^64 - 1) * 1e12 p$ = (2^64 - 1) * 1e6 µ$.
    EXPECT_EQ(cost(t, "dollar", {.input = kMax / 1'000'000}), (kMax / 1'000'000) * 1'000'000);
}

class PricingFile : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ditto-pricing-XXXXXX";
        const int fd = ::mkstemp(tmpl);
        ASSERT_GE(fd, 0);
        ::close(fd);
        path_ = tmpl;
    }
    void TearDown() override { std::remove(path_.c_str()); }
    void write(std::string_view text) {
        std::ofstream out(path_, std::ios::binary | std::ios::trunc);
        out << text;
    }
    std::string path_;
};

TEST_F(PricingFile, LoadsFile) {
    write(R"({"m": {"input_cost_per_token": 2e-6, "output_cost_per_token": 8e-6}})");
    std::string error;
    const auto t = pricing_table::load_file(path_, error);
    ASSERT_TRUE(t.has_value()) << error;
    EXPECT_EQ(t->estimate_usd_micros("m", {.input = 1000, .output = 100}), 2800u);
}

TEST_F(PricingFile, ErrorsNameThePath) {
    write(R"({"gpt-4o": 3})");
    std::string error;
    EXPECT_FALSE(pricing_table::load_file(path_, error).has_value());
    EXPECT_EQ(error, "pricing: \"" + path_ + R"(": entry "gpt-4o" is not an object)");

    const std::string missing = path_ + "-missing";
    EXPECT_FALSE(pricing_table::load_file(missing, error).has_value());
    EXPECT_EQ(error, "pricing: cannot open \"" + missing + "\": No such file or directory");

    EXPECT_FALSE(pricing_table::load_file("/tmp", error).has_value());
    EXPECT_NE(error.find("\"/tmp\""), std::string::npos) << error;
}

}  // namespace
}  // namespace ditto::cost
