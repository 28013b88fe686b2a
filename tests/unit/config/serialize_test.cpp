// key_to_json / router_to_json and their readers: canonical shape (docs/configuration.md,
// "Canonical JSON"), round trips through the gateway.json parser, token forms, error paths and
// string escaping.

#include "ditto/config/serialize.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ditto/config/load.hpp"

namespace ditto::config {
namespace {

using strings = std::vector<std::string>;

// sha256("vk-1"), computed independently with sha256sum.
constexpr const char* k_vk1_hex =
    "f0bb42a431987037ac46c715ce3389d2d9b438501024ad89c5fae8d5e2396f6a";

virtual_key_config minimal_key() {
    virtual_key_config k;
    k.id = "k";
    k.token = "vk-1";
    return k;
}

virtual_key_config full_key() {
    virtual_key_config k;
    k.id = "key-1";
    k.token = "vk-secret-1";
    k.enabled = false;
    k.tenant_id = "tenant-a";
    k.project_id = "proj-b";
    k.user_id = "user-c";
    k.tenant_budget = budget_config{1000, 2000};
    k.project_budget = budget_config{3000, std::nullopt};
    k.user_budget = budget_config{std::nullopt, 0};
    k.tenant_limits = limits_config{10, 20};
    k.project_limits = limits_config{0, std::nullopt};
    k.user_limits = limits_config{std::nullopt, 0};
    k.limits = limits_config{0, std::numeric_limits<std::uint32_t>::max()};
    k.budget = budget_config{std::numeric_limits<std::uint64_t>::max(), 5000000};
    k.cache = cache_config{true, 0, 10, 2048, 4096};
    k.guardrails.banned_phrases = {"forbidden", "secret plan"};
    k.guardrails.banned_regexes = {R"(\d{16})"};
    k.guardrails.block_pii = true;
    k.guardrails.validate_schema = true;
    k.guardrails.max_input_tokens = 8000;
    k.guardrails.allow_models = {"gpt-4o*"};
    k.guardrails.deny_models = {"gpt-3.5*"};
    k.passthrough = passthrough_config{true, true};
    k.route = "secondary";
    return k;
}

std::optional<virtual_key_config> reparse(const std::string& text, diagnostics& diag) {
    return parse_virtual_key_json(text, diag);
}

TEST(ConfigSerialize, MinimalKeyIsCanonicalAndRoundTrips) {
    const virtual_key_config k = minimal_key();
    const std::string text = key_to_json(k, token_form::raw);
    // The canonical JSON: declaration order, unset scope fields omitted, nulls inside
    // limits/budget/cache, `route` always written.
    EXPECT_EQ(text, R"({"id":"k","token":"vk-1","enabled":true,)"
                    R"("limits":{"rpm":null,"tpm":null},)"
                    R"("budget":{"total_tokens":null,"total_usd_micros":null},)"
                    R"("cache":{"enabled":false,"ttl_seconds":null,"max_entries":1024,)"
                    R"("max_body_bytes":1048576,"max_total_body_bytes":67108864},)"
                    R"("guardrails":{"banned_phrases":[],"banned_regexes":[],"block_pii":false,)"
                    R"("validate_schema":false,"allow_models":[],"deny_models":[]},)"
                    R"("passthrough":{"allow":false,"bypass_cache":false},"route":null})");

    diagnostics diag;
    const auto back = reparse(text, diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(diag.warnings, strings{});
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, k);

    // A key given by id and token alone (Admin API or gateway.json) is written out the same.
    diagnostics bare_diag;
    const auto bare = reparse(R"({"id":"k","token":"vk-1"})", bare_diag);
    EXPECT_EQ(bare_diag.errors, strings{});
    ASSERT_TRUE(bare.has_value());
    EXPECT_EQ(key_to_json(*bare, token_form::raw), text);
}

TEST(ConfigSerialize, FullKeyRoundTripsEveryField) {
    const virtual_key_config k = full_key();
    const std::string text = key_to_json(k, token_form::raw);

    diagnostics diag;
    const auto back = reparse(text, diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(diag.warnings, strings{});
    ASSERT_TRUE(back.has_value());
    // Field by field first, so that a failure names the field that was lost.
    EXPECT_EQ(back->id, k.id);
    EXPECT_EQ(back->token, k.token);
    EXPECT_EQ(back->enabled, k.enabled);
    EXPECT_EQ(back->tenant_id, k.tenant_id);
    EXPECT_EQ(back->project_id, k.project_id);
    EXPECT_EQ(back->user_id, k.user_id);
    EXPECT_EQ(back->tenant_budget, k.tenant_budget);
    EXPECT_EQ(back->project_budget, k.project_budget);
    EXPECT_EQ(back->user_budget, k.user_budget);
    EXPECT_EQ(back->tenant_limits, k.tenant_limits);
    EXPECT_EQ(back->project_limits, k.project_limits);
    EXPECT_EQ(back->user_limits, k.user_limits);
    EXPECT_EQ(back->limits, k.limits);
    EXPECT_EQ(back->budget, k.budget);
    EXPECT_EQ(back->cache, k.cache);
    EXPECT_EQ(back->guardrails, k.guardrails);
    EXPECT_EQ(back->passthrough, k.passthrough);
    EXPECT_EQ(back->route, k.route);
    EXPECT_EQ(*back, k);
    // Serialising the parsed key again gives the same bytes.
    EXPECT_EQ(key_to_json(*back, token_form::raw), text);
}

TEST(ConfigSerialize, FullKeyMemberOrderFollowsTheStruct) {
    const std::string text = key_to_json(full_key(), token_form::raw);
    EXPECT_EQ(text,
              R"({"id":"key-1","token":"vk-secret-1","enabled":false,)"
              R"("tenant_id":"tenant-a","project_id":"proj-b","user_id":"user-c",)"
              R"("tenant_budget":{"total_tokens":1000,"total_usd_micros":2000},)"
              R"("project_budget":{"total_tokens":3000,"total_usd_micros":null},)"
              R"("user_budget":{"total_tokens":null,"total_usd_micros":0},)"
              R"("tenant_limits":{"rpm":10,"tpm":20},)"
              R"("project_limits":{"rpm":0,"tpm":null},)"
              R"("user_limits":{"rpm":null,"tpm":0},)"
              R"("limits":{"rpm":0,"tpm":4294967295},)"
              R"("budget":{"total_tokens":18446744073709551615,"total_usd_micros":5000000},)"
              R"("cache":{"enabled":true,"ttl_seconds":0,"max_entries":10,)"
              R"("max_body_bytes":2048,"max_total_body_bytes":4096},)"
              R"("guardrails":{"banned_phrases":["forbidden","secret plan"],)"
              R"("banned_regexes":["\\d{16}"],"block_pii":true,"validate_schema":true,)"
              R"("max_input_tokens":8000,"allow_models":["gpt-4o*"],"deny_models":["gpt-3.5*"]},)"
              R"("passthrough":{"allow":true,"bypass_cache":true},"route":"secondary"})");
}

TEST(ConfigSerialize, ZeroLimitsSurviveAsZeroNotAbsent) {
    // 0 means "always block" (docs/configuration.md); losing it would silently lift the limit.
    virtual_key_config k = minimal_key();
    k.limits = limits_config{0, 0};
    k.tenant_limits = limits_config{0, 0};
    diagnostics diag;
    const auto back = reparse(key_to_json(k, token_form::raw), diag);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->limits.rpm, std::optional<std::uint32_t>(0));
    EXPECT_EQ(back->limits.tpm, std::optional<std::uint32_t>(0));
    EXPECT_EQ(back->tenant_limits, (limits_config{0, 0}));
}

TEST(ConfigSerialize, TokenForms) {
    const virtual_key_config k = minimal_key();  // token "vk-1"
    const std::string hashed = std::string("sha256:") + k_vk1_hex;
    ASSERT_EQ(token_lookup_key("vk-1"), k_vk1_hex);

    diagnostics diag;
    const auto raw = reparse(key_to_json(k, token_form::raw), diag);
    ASSERT_TRUE(raw.has_value());
    EXPECT_EQ(raw->token, "vk-1");

    const std::string sha_text = key_to_json(k, token_form::sha256);
    EXPECT_NE(sha_text.find(R"("token":")" + hashed + '"'), std::string::npos) << sha_text;
    EXPECT_EQ(sha_text.find("vk-1"), std::string::npos) << "raw token leaked: " << sha_text;
    const auto sha = reparse(sha_text, diag);
    ASSERT_TRUE(sha.has_value());
    EXPECT_EQ(sha->token, hashed);
    // The stored hash still finds the key that the raw token found.
    EXPECT_EQ(token_lookup_key(sha->token), token_lookup_key(k.token));

    const std::string red_text = key_to_json(k, token_form::redacted);
    EXPECT_EQ(red_text.find("vk-1"), std::string::npos) << red_text;
    const auto red = reparse(red_text, diag);
    ASSERT_TRUE(red.has_value());
    EXPECT_EQ(red->token, "redacted");
    EXPECT_EQ(diag.errors, strings{});

    // Everything but the token is the same in all three forms.
    virtual_key_config sha_rest = *sha;
    virtual_key_config red_rest = *red;
    sha_rest.token = red_rest.token = k.token;
    EXPECT_EQ(sha_rest, k);
    EXPECT_EQ(red_rest, k);
}

TEST(ConfigSerialize, Sha256FormKeepsAnAlreadyHashedToken) {
    virtual_key_config k = minimal_key();
    // Upper-case hex is a valid stored hash; hashing it again would lock the key out, and
    // lower-casing it is not asked for.
    k.token = "sha256:F0BB42A431987037AC46C715CE3389D2D9B438501024AD89C5FAE8D5E2396F6A";
    diagnostics diag;
    auto back = reparse(key_to_json(k, token_form::sha256), diag);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->token, k.token);
    EXPECT_EQ(token_lookup_key(back->token), k_vk1_hex);

    // Not 64 hex characters: token_lookup_key hashes it literally, and so does the writer.
    k.token = "sha256:abc";
    back = reparse(key_to_json(k, token_form::sha256), diag);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->token, "sha256:" + token_lookup_key("sha256:abc"));
    EXPECT_NE(back->token, k.token);
}

TEST(ConfigSerialize, Sha256FormHashesTheTrimmedToken) {
    // token_lookup_key trims (docs/configuration.md), so surrounding blanks must not change the
    // stored hash.
    virtual_key_config k = minimal_key();
    k.token = "  vk-1\t";
    diagnostics diag;
    const auto back = reparse(key_to_json(k, token_form::sha256), diag);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->token, std::string("sha256:") + k_vk1_hex);
}

router_config sample_router() {
    router_config r;
    r.default_backends = {{"primary", 3.5}, {"secondary", 1.0}, {"tiny", 0.1}};

    route_rule exact;
    exact.model_prefix = "gpt-4o";
    exact.exact = true;
    exact.backend = "primary";
    exact.backends = {{"secondary", 0.25}, {"primary", 2.0}};
    guardrails_config g;
    g.banned_phrases = {"x"};
    g.block_pii = true;
    g.max_input_tokens = 0;
    g.deny_models = {"gpt-3.5*"};
    exact.guardrails = g;

    route_rule prefix;
    prefix.model_prefix = "claude";
    prefix.backend = "secondary";

    route_rule empty_override;  // `guardrails: {}` must stay distinct from no override
    empty_override.model_prefix = "local/";
    empty_override.backends = {{"tiny", 1e-3}};
    empty_override.guardrails = guardrails_config{};

    r.rules = {exact, prefix, empty_override};
    return r;
}

TEST(ConfigSerialize, RouterRoundTripsWeightsAndRules) {
    const router_config r = sample_router();
    const std::string text = router_to_json(r);
    diagnostics diag;
    const auto back = parse_router_json(text, diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(diag.warnings, strings{});
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->default_backends, r.default_backends);
    ASSERT_EQ(back->rules.size(), 3u);
    EXPECT_EQ(back->rules[0], r.rules[0]);
    EXPECT_EQ(back->rules[1], r.rules[1]);
    EXPECT_EQ(back->rules[2], r.rules[2]);
    ASSERT_TRUE(back->rules[2].guardrails.has_value());
    EXPECT_EQ(*back, r);
    EXPECT_EQ(router_to_json(*back), text);
}

TEST(ConfigSerialize, RouterShapeFollowsSpec) {
    // The canonical router: exact only when true, guardrails only when set, backend always.
    EXPECT_EQ(
        router_to_json(sample_router()),
        R"({"default_backends":[{"backend":"primary","weight":3.5},)"
        R"({"backend":"secondary","weight":1.0},{"backend":"tiny","weight":0.1}],)"
        R"("rules":[{"model_prefix":"gpt-4o","exact":true,"backend":"primary",)"
        R"("backends":[{"backend":"secondary","weight":0.25},)"
        R"({"backend":"primary","weight":2.0}],)"
        R"("guardrails":{"banned_phrases":["x"],"banned_regexes":[],"block_pii":true,)"
        R"("validate_schema":false,"max_input_tokens":0,"allow_models":[],)"
        R"("deny_models":["gpt-3.5*"]}},)"
        R"({"model_prefix":"claude","backend":"secondary","backends":[]},)"
        R"({"model_prefix":"local/","backend":"","backends":[{"backend":"tiny",)"
        R"("weight":0.001}],"guardrails":{"banned_phrases":[],"banned_regexes":[],)"
        R"("block_pii":false,"validate_schema":false,"allow_models":[],"deny_models":[]}}]})");
    EXPECT_EQ(router_to_json(router_config{}), R"({"default_backends":[],"rules":[]})");
}

TEST(ConfigSerialize, EmptyRouterRoundTrips) {
    diagnostics diag;
    const auto back = parse_router_json(router_to_json(router_config{}), diag);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, router_config{});
}

TEST(ConfigSerialize, LegacyDefaultBackendIsFoldedAndWrittenAsList) {
    diagnostics diag;
    const auto r = parse_router_json(R"({"default_backend":"primary","rules":[]})", diag);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->default_backends, (std::vector<weighted_backend>{{"primary", 1.0}}));
    EXPECT_EQ(diag.warnings,
              strings{"router.default_backend is deprecated; use router.default_backends"});
    const std::string text = router_to_json(*r);
    EXPECT_EQ(text.find("\"default_backend\""), std::string::npos) << text;
    EXPECT_EQ(text, R"({"default_backends":[{"backend":"primary","weight":1.0}],"rules":[]})");

    diagnostics both;
    EXPECT_FALSE(
        parse_router_json(R"({"default_backend":"a","default_backends":[{"backend":"b"}]})", both));
    EXPECT_EQ(both.errors,
              strings{"router.default_backend is deprecated; use router.default_backends only"});
}

TEST(ConfigSerialize, KeyErrorsNameTheirPath) {
    diagnostics diag;
    EXPECT_FALSE(reparse(
        R"({"id":"k","enabled":true,"limits":{"rpm":-1},"budget":{},"cache":{"enabled":false},)"
        R"("guardrails":{"banned_phrases":[1]},"passthrough":{"allow":false,"bypass_cache":false}})",
        diag));
    EXPECT_EQ(diag.errors, (strings{
                               "virtual_key.token: missing required field",
                               "virtual_key.limits.rpm: expected an integer between 0 and "
                               "4294967295",
                               "virtual_key.guardrails.banned_phrases[0]: expected a string",
                           }));
}

TEST(ConfigSerialize, RouterErrorsNameTheirPath) {
    diagnostics diag;
    EXPECT_FALSE(
        parse_router_json(R"({"default_backends":[{"weight":1}],"rules":[{"model_prefix":"a"},)"
                          R"({"model_prefix":"b","backends":[{"backend":"x","weight":"heavy"}]}]})",
                          diag));
    EXPECT_EQ(diag.errors, (strings{
                               "router.default_backends[0].backend: missing required field",
                               "router.rules[1].backends[0].weight: expected a number",
                           }));
}

TEST(ConfigSerialize, InvalidJsonIsAnErrorNamingTheDocument) {
    diagnostics diag;
    EXPECT_FALSE(reparse(R"({"id":)", diag));
    ASSERT_EQ(diag.errors.size(), 1u);
    EXPECT_EQ(diag.errors[0].rfind("virtual_key: invalid JSON at line 1", 0), 0u) << diag.errors[0];

    diagnostics rdiag;
    EXPECT_FALSE(parse_router_json("", rdiag));
    ASSERT_EQ(rdiag.errors.size(), 1u);
    EXPECT_EQ(rdiag.errors[0].rfind("router: invalid JSON", 0), 0u) << rdiag.errors[0];

    diagnostics arr;
    EXPECT_FALSE(parse_router_json("[]", arr));
    EXPECT_EQ(arr.errors, strings{"router: expected an object"});
    diagnostics str;
    EXPECT_FALSE(reparse(R"("key")", str));
    EXPECT_EQ(str.errors, strings{"virtual_key: expected an object"});
}

TEST(ConfigSerialize, UnknownFieldsWarnButParse) {
    diagnostics diag;
    std::string text = key_to_json(minimal_key(), token_form::raw);
    text.insert(1, R"("colour":"blue",)");
    const auto back = reparse(text, diag);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, minimal_key());
    EXPECT_EQ(diag.warnings, strings{"unknown field ignored: virtual_key.colour"});
}

TEST(ConfigSerialize, EarlierErrorsInDiagnosticsDoNotFailAGoodDocument) {
    diagnostics diag;
    diag.errors.push_back("from an earlier document");
    const auto key = reparse(key_to_json(minimal_key(), token_form::raw), diag);
    ASSERT_TRUE(key.has_value());
    const auto router = parse_router_json(router_to_json(sample_router()), diag);
    ASSERT_TRUE(router.has_value());
    EXPECT_EQ(diag.errors, strings{"from an earlier document"});
}

TEST(ConfigSerialize, OddCharactersAreEscapedAndRoundTrip) {
    virtual_key_config k = minimal_key();
    k.id = "a\"b\\c/d\ne\tf\x01g";
    k.token = "tok\"\\\x1f";
    k.tenant_id = "t\u00fcnant-\u20ac-\U0001F600";
    k.route = "r\"oute";
    k.guardrails.banned_phrases = {"say \"hi\"", "back\\slash", "\u00e9t\u00e9 \U0001F600",
                                   std::string("nul\0byte", 8)};
    k.guardrails.banned_regexes = {R"(\bfoo\s+"bar"\b)"};
    const std::string text = key_to_json(k, token_form::raw);

    // Quotes, backslashes and control characters are escaped; UTF-8 is written as is.
    EXPECT_NE(text.find(R"("id":"a\"b\\c/d\ne\tf\u0001g")"), std::string::npos) << text;
    EXPECT_NE(text.find(R"("token":"tok\"\\\u001f")"), std::string::npos) << text;
    EXPECT_NE(text.find("\"tenant_id\":\"t\u00fcnant-\u20ac-\U0001F600\""), std::string::npos)
        << text;
    EXPECT_NE(text.find(R"("nul\u0000byte")"), std::string::npos) << text;
    EXPECT_NE(text.find(R"("\\bfoo\\s+\"bar\"\\b")"), std::string::npos) << text;

    diagnostics diag;
    const auto back = reparse(text, diag);
    EXPECT_EQ(diag.errors, strings{});
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, k);

    route_rule rule;
    rule.model_prefix = "m\"odel\\\u00e9";
    rule.backend = "b\nx";
    router_config r;
    r.default_backends = {{"\U0001F600", 1.0}};
    r.rules = {rule};
    const auto rback = parse_router_json(router_to_json(r), diag);
    ASSERT_TRUE(rback.has_value());
    EXPECT_EQ(*rback, r);
}

TEST(ConfigSerialize, InvalidUtf8IsReplacedNotThrown) {
    // A struct built in code may hold bytes the parser would never produce.
    virtual_key_config k = minimal_key();
    k.id = "bad\xff";
    std::string text;
    ASSERT_NO_THROW(text = key_to_json(k, token_form::raw));
    diagnostics diag;
    const auto back = reparse(text, diag);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->id, "bad\xef\xbf\xbd");  // U+FFFD
}

TEST(ConfigSerialize, KeyTextIsWhatNlohmannWrites) {
    // key_to_json appends text instead of building a DOM; config hashes (docs/admin-api.md) depend
    // on its bytes, so they must be exactly nlohmann's dump() of the same members. Re-dumping
    // the parsed text with an order-keeping DOM gives that dump: any difference in escaping,
    // numbers or member order shows here.
    std::vector<virtual_key_config> keys = {minimal_key(), full_key()};
    auto odd = full_key();
    odd.id = std::string("ctl\b\f\x7f\x1f\0end", 11);
    odd.tenant_id = "\u00e9\U0001F600 \"q\" back\\slash";
    odd.guardrails.banned_phrases = {"", "tab\there", "bad\xc3(utf8"};
    odd.guardrails.max_input_tokens.reset();
    odd.cache.ttl_seconds.reset();
    odd.route.reset();
    keys.push_back(odd);
    for (const auto& k : keys) {
        for (const auto form : {token_form::raw, token_form::sha256, token_form::redacted}) {
            const std::string text = key_to_json(k, form);
            const auto dom = nlohmann::ordered_json::parse(text);
            EXPECT_EQ(text, dom.dump()) << k.id;
        }
    }
}

}  // namespace
}  // namespace ditto::config
