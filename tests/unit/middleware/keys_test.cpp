// key_snapshot: lookup by token digest (plain and `sha256:` stored tokens), per-key scopes by
// position, and the key list shared with its config version rather than copied.

#include "ditto/middleware/keys.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "ditto/core/hash.hpp"

namespace ditto::middleware {
namespace {

config::virtual_key_config key(std::string id, std::string token) {
    config::virtual_key_config k;
    k.id = std::move(id);
    k.token = std::move(token);
    return k;
}

TEST(KeySnapshot, FindsPlainAndHashedTokensByDigest) {
    auto hashed = key("b", "sha256:" + core::sha256_hex("vk-b"));
    hashed.token[10] = static_cast<char>(std::toupper(hashed.token[10]));  // either hex case
    const key_snapshot snap(key_list{key("a", " vk-a "), hashed}, {});
    ASSERT_EQ(snap.size(), 2u);
    const auto* a = snap.find(core::sha256("vk-a"));  // stored tokens are trimmed
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->id, "a");
    const auto* b = snap.find(core::sha256("vk-b"));
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->id, "b");
    // A stored hash is never itself a credential.
    EXPECT_EQ(snap.find(core::sha256(hashed.token)), nullptr);
    EXPECT_EQ(snap.find(core::sha256("vk-c")), nullptr);
}

TEST(KeySnapshot, ScopesArePerKey) {
    auto limited = key("lim", "t1");
    limited.limits.rpm = 5;
    limited.tenant_id = "acme";
    limited.tenant_budget = config::budget_config{std::nullopt, 1000};
    const key_snapshot snap(key_list{key("plain", "t0"), limited}, {});
    const auto& plain = snap.scopes(*snap.find(core::sha256("t0")));
    ASSERT_EQ(plain.all.size(), 1u);
    EXPECT_EQ(plain.all[0].id, "plain");
    EXPECT_TRUE(plain.rate.empty());
    EXPECT_FALSE(plain.cost_budget);
    const auto& lim = snap.scopes(*snap.find(core::sha256("t1")));
    ASSERT_EQ(lim.all.size(), 2u);
    EXPECT_EQ(lim.all[1].id, "tenant:acme");
    ASSERT_EQ(lim.rate.size(), 1u);
    EXPECT_EQ(lim.rate[0].rpm, 5u);
    EXPECT_TRUE(lim.cost_budget);
}

TEST(KeySnapshot, SharesTheKeyList) {
    auto list = std::make_shared<const key_list>(key_list{key("a", "ta"), key("b", "tb")});
    const key_snapshot snap(list, {});
    EXPECT_EQ(&snap.keys(), list.get());
    EXPECT_EQ(snap.find(core::sha256("tb")), &(*list)[1]);
}

TEST(KeySnapshot, GuardrailsAreTheRulesOrTheKeysOwn) {
    auto strict = key("strict", "ts");
    strict.guardrails.banned_phrases = {"forbidden"};
    config::router_config router;
    config::route_rule gpt;
    gpt.model_prefix = "gpt-";
    gpt.backend = "a";
    gpt.guardrails = config::guardrails_config{};  // the rule's (empty) set replaces the key's
    router.rules.push_back(gpt);
    const key_snapshot snap(key_list{strict, key("plain", "tp")}, router);
    guardrail_input in;
    in.method = "POST";
    in.path = "/v1/chat/completions";
    in.raw_body = "say forbidden";
    const auto& k = *snap.find(core::sha256("ts"));
    EXPECT_EQ(snap.guardrails_for(k, "o1").check(in).message, "banned_phrase:forbidden");
    EXPECT_EQ(snap.guardrails_for(k, "").check(in).message, "banned_phrase:forbidden");
    EXPECT_TRUE(snap.guardrails_for(k, "gpt-4o").check(in).ok());
    EXPECT_TRUE(snap.guardrails_for(*snap.find(core::sha256("tp")), "o1").check(in).ok());
}

}  // namespace
}  // namespace ditto::middleware
