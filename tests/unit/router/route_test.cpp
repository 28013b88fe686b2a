#include "ditto/router/route.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ditto/core/hash.hpp"

namespace ditto::router {
namespace {

using config::route_rule;
using config::router_config;
using config::weighted_backend;
using names = std::vector<std::string>;

// Seeds with a known unit = (seed >> 11) / 2^53.
constexpr std::uint64_t unit_0 = 0;                        // 0
constexpr std::uint64_t unit_eighth = 1ULL << 61;          // 0.125
constexpr std::uint64_t unit_quarter = 1ULL << 62;         // 0.25
constexpr std::uint64_t unit_half = 1ULL << 63;            // 0.5
constexpr std::uint64_t unit_max = ~0ULL;                  // 1 - 2^-53
constexpr std::uint64_t low_bits_only = (1ULL << 11) - 1;  // shifted out: unit 0
constexpr std::uint64_t unit_three_quarters = 3ULL << 62;  // 0.75

std::vector<weighted_backend> w(std::initializer_list<std::pair<const char*, double>> list) {
    std::vector<weighted_backend> out;
    for (const auto& [name, weight] : list)
        out.push_back(weighted_backend{name, weight});
    return out;
}

route_rule prefix_rule(std::string prefix, std::string backend,
                       std::vector<weighted_backend> backends = {}) {
    route_rule r;
    r.model_prefix = std::move(prefix);
    r.exact = false;
    r.backend = std::move(backend);
    r.backends = std::move(backends);
    return r;
}

route_rule exact_rule(std::string model, std::string backend,
                      std::vector<weighted_backend> backends = {}) {
    route_rule r = prefix_rule(std::move(model), std::move(backend), std::move(backends));
    r.exact = true;
    return r;
}

// ---- weighted --------------------------------------------------------------------------

TEST(Weighted, EmptyInputGivesEmpty) {
    EXPECT_EQ(weighted({}, unit_half), names{});
}

TEST(Weighted, SingleEntry) {
    EXPECT_EQ(weighted(w({{"only", 5}}), unit_0), names{"only"});
    EXPECT_EQ(weighted(w({{"only", 0.001}}), unit_max), names{"only"});
}

TEST(Weighted, SeedZeroPicksFirst) {
    EXPECT_EQ(weighted(w({{"a", 1}, {"b", 1}, {"c", 1}}), unit_0), (names{"a", "b", "c"}));
    // Even when the first weight is tiny.
    EXPECT_EQ(weighted(w({{"a", 1e-9}, {"b", 1000}}), unit_0), (names{"a", "b"}));
    // The low 11 bits are shifted out.
    EXPECT_EQ(weighted(w({{"a", 1}, {"b", 1}}), low_bits_only), (names{"a", "b"}));
}

TEST(Weighted, TopBitsPickLaterEntries) {
    const auto three = w({{"a", 1}, {"b", 1}, {"c", 1}});
    // unit 0.5: pick 1.5 -> 1.5 >= 1, 0.5 < 1 -> b.
    EXPECT_EQ(weighted(three, unit_half), (names{"b", "a", "c"}));
    // unit 0.75: pick 2.25 -> c.
    EXPECT_EQ(weighted(three, unit_three_quarters), (names{"c", "a", "b"}));
    // unit just below 1: the last entry.
    EXPECT_EQ(weighted(three, unit_max), (names{"c", "a", "b"}));
    // unit 0.25: pick 0.75 < 1 -> a.
    EXPECT_EQ(weighted(three, unit_quarter), (names{"a", "b", "c"}));
}

TEST(Weighted, WeightsShiftTheBoundaries) {
    // unit 0.5 over [9, 1]: pick 5 < 9 -> a.
    EXPECT_EQ(weighted(w({{"a", 9}, {"b", 1}}), unit_half), (names{"a", "b"}));
    // unit 0.5 over [1, 9]: pick 5 -> 4 < 9 -> b.
    EXPECT_EQ(weighted(w({{"a", 1}, {"b", 9}}), unit_half), (names{"b", "a"}));
    // unit 0.125 over [0.25, 0.75]: pick 0.125 < 0.25 -> a; unit 0.5: pick 0.5 -> b.
    EXPECT_EQ(weighted(w({{"a", 0.25}, {"b", 0.75}}), unit_eighth), (names{"a", "b"}));
    EXPECT_EQ(weighted(w({{"a", 0.25}, {"b", 0.75}}), unit_half), (names{"b", "a"}));
    // unit 0.75 over [1, 2, 1]: pick 3 -> 2 -> 0 < 1 -> c.
    EXPECT_EQ(weighted(w({{"a", 1}, {"b", 2}, {"c", 1}}), unit_three_quarters),
              (names{"c", "a", "b"}));
}

TEST(Weighted, ComparisonIsStrict) {
    // unit 0.5 over [1, 1]: pick exactly 1.0 is not < 1, so b.
    EXPECT_EQ(weighted(w({{"a", 1}, {"b", 1}}), unit_half), (names{"b", "a"}));
    // unit 0.25 over [1, 3]: pick exactly 1.0 -> b.
    EXPECT_EQ(weighted(w({{"a", 1}, {"b", 3}}), unit_quarter), (names{"b", "a"}));
}

TEST(Weighted, Fnv1a64Seeds) {
    const auto three = w({{"a", 1}, {"b", 1}, {"c", 1}});
    // fnv1a64("foobar") = 0x85944171f73967e8: unit ~0.5218, pick ~1.565 -> b.
    EXPECT_EQ(weighted(three, core::fnv1a64("foobar")), (names{"b", "a", "c"}));
    // fnv1a64("a") = 0xaf63dc4c8601ec8c: unit ~0.6851, pick ~2.055 -> c.
    EXPECT_EQ(weighted(three, core::fnv1a64("a")), (names{"c", "a", "b"}));
    // Over [9, 1] both stay on a (pick < 9); over [1, 9] both move to b.
    EXPECT_EQ(weighted(w({{"a", 9}, {"b", 1}}), core::fnv1a64("a")), (names{"a", "b"}));
    EXPECT_EQ(weighted(w({{"a", 1}, {"b", 9}}), core::fnv1a64("foobar")), (names{"b", "a"}));
    // fnv1a64("req-1") = 0xfddbeef2b6ce4891: unit ~0.9916, pick ~9.916 over [9, 1] -> b.
    EXPECT_EQ(weighted(w({{"a", 9}, {"b", 1}}), core::fnv1a64("req-1")), (names{"b", "a"}));
}

TEST(Weighted, DuplicatesRemoved) {
    const auto dup = w({{"a", 1}, {"b", 1}, {"a", 1}});
    EXPECT_EQ(weighted(dup, unit_0), (names{"a", "b"}));
    EXPECT_EQ(weighted(dup, unit_half), (names{"b", "a"}));  // pick 1.5 -> b
    EXPECT_EQ(weighted(dup, unit_max), (names{"a", "b"}));   // the second a
    // Duplicates still count their weight: [a:1, a:1, b:2] at unit 0.5 -> pick 2 -> b.
    EXPECT_EQ(weighted(w({{"a", 1}, {"a", 1}, {"b", 2}}), unit_half), (names{"b", "a"}));
    // ... and at unit 0.25 -> pick 1 -> the second a.
    EXPECT_EQ(weighted(w({{"a", 1}, {"a", 1}, {"b", 2}}), unit_quarter), (names{"a", "b"}));
    EXPECT_EQ(weighted(w({{"x", 1}, {"x", 2}}), unit_max), names{"x"});
}

TEST(Weighted, InvalidEntriesDropped) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    const auto entries = w({{"", 5},
                            {"a", 1},
                            {"  ", 5},
                            {"nan", nan},
                            {"zero", 0},
                            {"c", 1},
                            {"inf", inf},
                            {"neg", -1},
                            {"ninf", -inf},
                            {"\t", 1}});
    // Only a and c count: total 2. unit 0.5 -> pick 1.0 -> c.
    EXPECT_EQ(weighted(entries, unit_half), (names{"c", "a"}));
    // unit 0.25 -> pick 0.5 -> a.
    EXPECT_EQ(weighted(entries, unit_quarter), (names{"a", "c"}));
    EXPECT_EQ(weighted(entries, unit_max), (names{"c", "a"}));
}

TEST(Weighted, AllInvalidGivesEmptyAndOneValidIsIt) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    EXPECT_EQ(weighted(w({{"", 1}, {"a", 0}, {"b", -2}, {"c", nan}}), unit_half), names{});
    EXPECT_EQ(weighted(w({{"", 1}, {"a", 0}, {"ok", 0.5}, {"b", -2}}), unit_max), names{"ok"});
}

// ---- match_rule ------------------------------------------------------------------------

TEST(MatchRule, ExactBeatsAnEarlierPrefixRule) {
    router_config r;
    r.rules = {prefix_rule("gpt-4*", "prefix"), exact_rule("gpt-4o", "exact")};
    EXPECT_EQ(match_rule(r, "gpt-4o"), &r.rules[1]);
    EXPECT_EQ(match_rule(r, "gpt-4o-mini"), &r.rules[0]);
    EXPECT_EQ(match_rule(r, "gpt-4"), &r.rules[0]);
    EXPECT_EQ(match_rule(r, "gpt-3.5"), nullptr);
}

TEST(MatchRule, FirstMatchingRuleOfEachKindInOrder) {
    router_config r;
    r.rules = {prefix_rule("gpt", "p1"), prefix_rule("gpt-4", "p2"), exact_rule("m", "e1"),
               exact_rule("m", "e2")};
    EXPECT_EQ(match_rule(r, "gpt-4o"), &r.rules[0]);
    EXPECT_EQ(match_rule(r, "m"), &r.rules[2]);
}

TEST(MatchRule, TrailingStarStripped) {
    router_config r;
    r.rules = {prefix_rule("claude-*", "c")};
    EXPECT_EQ(match_rule(r, "claude-3"), &r.rules[0]);
    EXPECT_EQ(match_rule(r, "claude-"), &r.rules[0]);
    EXPECT_EQ(match_rule(r, "claude"), nullptr);
    EXPECT_EQ(match_rule(r, "Claude-3"), nullptr);  // case-sensitive

    // Only one trailing '*' is stripped; a '*' elsewhere is literal.
    router_config s;
    s.rules = {prefix_rule("a**", "x"), prefix_rule("b*c", "y")};
    EXPECT_EQ(match_rule(s, "a*1"), &s.rules[0]);
    EXPECT_EQ(match_rule(s, "a1"), nullptr);
    EXPECT_EQ(match_rule(s, "b*cd"), &s.rules[1]);
    EXPECT_EQ(match_rule(s, "bxc"), nullptr);
}

TEST(MatchRule, PrefixWithoutStar) {
    router_config r;
    r.rules = {prefix_rule("llama", "l")};
    EXPECT_EQ(match_rule(r, "llama-3-70b"), &r.rules[0]);
    EXPECT_EQ(match_rule(r, "llama"), &r.rules[0]);
    EXPECT_EQ(match_rule(r, "llam"), nullptr);
    EXPECT_EQ(match_rule(r, "xllama"), nullptr);
}

TEST(MatchRule, ExactIsLiteral) {
    router_config r;
    r.rules = {exact_rule("gpt-4o", "e"), exact_rule("o1*", "star")};
    EXPECT_EQ(match_rule(r, "gpt-4o"), &r.rules[0]);
    EXPECT_EQ(match_rule(r, "gpt-4o-mini"), nullptr);
    EXPECT_EQ(match_rule(r, "gpt-4"), nullptr);
    EXPECT_EQ(match_rule(r, "o1-mini"), nullptr);  // no '*' stripping for exact rules
    EXPECT_EQ(match_rule(r, "o1*"), &r.rules[1]);
}

TEST(MatchRule, NoRules) {
    router_config r;
    EXPECT_EQ(match_rule(r, "anything"), nullptr);
    EXPECT_EQ(match_rule(r, ""), nullptr);
}

// ---- candidates ------------------------------------------------------------------------

TEST(Candidates, KeyRouteWins) {
    router_config r;
    r.default_backends = w({{"d1", 1}, {"d2", 1}});
    r.rules = {exact_rule("gpt-4o", "exact"), prefix_rule("gpt", "prefix")};
    EXPECT_EQ(candidates(r, std::string("pinned"), "gpt-4o", unit_0), names{"pinned"});
    EXPECT_EQ(candidates(r, std::string("pinned"), "", unit_max), names{"pinned"});
    EXPECT_EQ(candidates(router_config{}, std::string("pinned"), "x", unit_0), names{"pinned"});
}

TEST(Candidates, ExactRuleBeforeEarlierPrefixRule) {
    router_config r;
    r.default_backends = w({{"d", 1}});
    r.rules = {prefix_rule("gpt", "prefix"), exact_rule("gpt-4o", "exact")};
    EXPECT_EQ(candidates(r, std::nullopt, "gpt-4o", unit_0), names{"exact"});
    EXPECT_EQ(candidates(r, std::nullopt, "gpt-4o-mini", unit_0), names{"prefix"});
}

TEST(Candidates, RuleBackendsAreWeighted) {
    router_config r;
    r.default_backends = w({{"d", 1}});
    r.rules = {prefix_rule("gpt", "legacy", w({{"p", 1}, {"q", 1}, {"s", 1}}))};
    EXPECT_EQ(candidates(r, std::nullopt, "gpt-4o", unit_0), (names{"p", "q", "s"}));
    EXPECT_EQ(candidates(r, std::nullopt, "gpt-4o", unit_half), (names{"q", "p", "s"}));
    EXPECT_EQ(candidates(r, std::nullopt, "gpt-4o", core::fnv1a64("a")), (names{"s", "p", "q"}));
}

TEST(Candidates, RuleWithOnlyInvalidBackendsUsesItsBackend) {
    router_config r;
    r.default_backends = w({{"d", 1}});
    r.rules = {prefix_rule("gpt", "legacy", w({{"p", 0}, {"", 1}}))};
    EXPECT_EQ(candidates(r, std::nullopt, "gpt-4o", unit_0), names{"legacy"});
}

TEST(Candidates, RuleYieldingNothingFallsThroughToTheNextMatchingRule) {
    router_config r;
    r.default_backends = w({{"d", 1}});
    r.rules = {exact_rule("gpt-4o", ""),                    // neither backend nor backends
               prefix_rule("gpt-4", " ", w({{"bad", 0}})),  // blank backend, invalid list
               prefix_rule("claude", "c"),                  // does not match
               prefix_rule("gpt", "second")};
    EXPECT_EQ(candidates(r, std::nullopt, "gpt-4o", unit_0), names{"second"});

    // The exact rule falls through to a prefix rule, not to the defaults.
    router_config s;
    s.default_backends = w({{"d", 1}});
    s.rules = {exact_rule("m", ""), prefix_rule("m", "", w({{"p", 1}, {"q", 1}}))};
    EXPECT_EQ(candidates(s, std::nullopt, "m", unit_max), (names{"q", "p"}));
}

TEST(Candidates, DefaultsWhenNoRuleYields) {
    router_config r;
    r.default_backends = w({{"d1", 1}, {"d2", 3}});
    r.rules = {prefix_rule("gpt", ""), exact_rule("claude", "c")};
    // No rule matches.
    EXPECT_EQ(candidates(r, std::nullopt, "llama", unit_0), (names{"d1", "d2"}));
    EXPECT_EQ(candidates(r, std::nullopt, "claude-3", unit_half), (names{"d2", "d1"}));
    EXPECT_EQ(candidates(r, std::nullopt, "", unit_0), (names{"d1", "d2"}));
    // A rule matches but yields nothing.
    EXPECT_EQ(candidates(r, std::nullopt, "gpt-4o", unit_half), (names{"d2", "d1"}));
    // No rules at all.
    router_config d;
    d.default_backends = w({{"only", 1}});
    EXPECT_EQ(candidates(d, std::nullopt, "gpt-4o", unit_max), names{"only"});
}

TEST(Candidates, EmptyWhenNothingApplies) {
    EXPECT_EQ(candidates(router_config{}, std::nullopt, "gpt-4o", unit_0), names{});

    router_config r;
    r.rules = {prefix_rule("gpt", ""), prefix_rule("claude", "c")};
    EXPECT_EQ(candidates(r, std::nullopt, "gpt-4o", unit_0), names{});
    EXPECT_EQ(candidates(r, std::nullopt, "llama", unit_0), names{});

    router_config invalid_defaults;
    invalid_defaults.default_backends = w({{"", 1}, {"x", 0}});
    EXPECT_EQ(candidates(invalid_defaults, std::nullopt, "gpt", unit_0), names{});
}

}  // namespace
}  // namespace ditto::router
