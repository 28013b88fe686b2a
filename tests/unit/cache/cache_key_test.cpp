#include "ditto/cache/cache_key.hpp"

#include <gtest/gtest.h>

#include "ditto/cache/response_cache.hpp"
#include "ditto/core/hash.hpp"

namespace ditto::cache {
namespace {

http::request post(std::vector<std::pair<std::string, std::string>> headers) {
    http::request r{http::bhttp::verb::post, "/v1/chat/completions", 11};
    for (auto& [n, v] : headers)
        r.insert(n, v);
    return r;
}

std::string key(const http::request& r, std::string_view body = "{}",
                const std::vector<std::string>& extra = {}) {
    return cache_key(r, "/v1/chat/completions", "vk:a", route_partition({"primary"}), body, extra);
}

TEST(CacheKey, FollowsTheSpecFormula) {
    const auto r =
        post({{"Content-Type", "application/json"}, {"OpenAI-Beta", "x"}, {"User-Agent", "sdk/1"}});
    const auto partition = core::sha256_hex("ditto-proxy-route-v1|primary\x1f");
    EXPECT_EQ(route_partition({" primary ", ""}), partition);
    const std::string h = "content-type:application/json\x1f\nopenai-beta:x\x1f\n";
    EXPECT_EQ(key(r), "ditto-proxy-cache-v3-" +
                          core::sha256_hex("ditto-proxy-cache-v3|POST|/v1/chat/completions|vk:a|" +
                                           partition + "|" + h + "|{}"));
}

TEST(CacheKey, OnlyAllowListedHeadersVaryIt) {
    const auto base = key(post({{"content-type", "application/json"}}));
    // Identity, tracing, transport and SDK metadata do not split entries (docs/caching.md).
    EXPECT_EQ(base, key(post({{"content-type", "application/json"},
                              {"user-agent", "a"},
                              {"authorization", "Bearer sk-1"},
                              {"x-request-id", "r1"},
                              {"traceparent", "00-1"},
                              {"x-stainless-os", "Linux"}})));
    EXPECT_NE(base, key(post({{"content-type", "application/json"}, {"openai-beta", "v2"}})));
    EXPECT_NE(base, key(post({{"content-type", "application/json"}, {"anthropic-version", "1"}})));
    EXPECT_NE(base, key(post({{"content-type", "application/json"}, {"accept", "text/plain"}})));
    EXPECT_NE(base, key(post({{"content-type", "text/plain"}})));
    // A configured header varies it too.
    const auto tenant = post({{"content-type", "application/json"}, {"x-tenant-region", "eu"}});
    EXPECT_EQ(base, key(tenant));
    EXPECT_NE(key(post({{"content-type", "application/json"}}), "{}", {"x-tenant-region"}),
              key(tenant, "{}", {"x-tenant-region"}));
}

TEST(CacheKey, HeaderOrderAndCaseDoNotMatterButRepeatedValuesDo) {
    EXPECT_EQ(key(post({{"Accept", "a"}, {"OpenAI-Beta", "b"}})),
              key(post({{"openai-beta", "b"}, {"accept", "a"}})));
    EXPECT_NE(key(post({{"openai-beta", "a"}, {"openai-beta", "b"}})),
              key(post({{"openai-beta", "b"}, {"openai-beta", "a"}})));
}

TEST(CacheKey, BodyScopeAndRouteVaryIt) {
    const auto r = post({});
    EXPECT_NE(key(r, "{}"), key(r, "{ }"));
    EXPECT_NE(cache_key(r, "/p", "vk:a", "r", "", {}), cache_key(r, "/p", "vk:b", "r", "", {}));
    EXPECT_NE(cache_key(r, "/p", "vk:a", "r", "", {}), cache_key(r, "/p", "vk:a", "s", "", {}));
    EXPECT_NE(cache_key(r, "/p", "vk:a", "r", "", {}), cache_key(r, "/p?x=1", "vk:a", "r", "", {}));
    EXPECT_NE(route_partition({"a", "b"}), route_partition({"b", "a"}));
}

TEST(PurgeSelector, MatchesEveryGivenField) {
    entry_metadata m{"vk:a", "POST", "/v1/chat/completions", "m1", "r"};
    purge_selector s;
    EXPECT_TRUE(s.empty());
    s.path = "/v1/chat/completions";
    EXPECT_TRUE(s.matches(m));
    s.model = "m2";
    EXPECT_FALSE(s.matches(m));
    s.model = "m1";
    s.scope = "vk:a";
    s.method = "POST";
    EXPECT_TRUE(s.matches(m));
    m.model.reset();
    EXPECT_FALSE(s.matches(m));
}

}  // namespace
}  // namespace ditto::cache
