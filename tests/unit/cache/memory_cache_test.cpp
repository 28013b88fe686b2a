#include "ditto/cache/memory_cache.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "ditto/core/hash.hpp"

namespace ditto::cache {
namespace {

using namespace std::chrono_literals;
using clock = memory_cache::clock;

std::shared_ptr<const entry> make(std::size_t body_bytes, std::string model = "m",
                                  std::string scope = "vk:a") {
    auto e = std::make_shared<entry>();
    e->body.assign(body_bytes, 'x');
    e->meta.scope = std::move(scope);
    e->meta.method = "POST";
    e->meta.path = "/v1/chat/completions";
    e->meta.model = std::move(model);
    return e;
}

TEST(MemoryCache, GetReturnsWhatWasPutUntilItExpires) {
    memory_cache c({10, 1 << 20});
    const auto t0 = clock::now();
    c.put("k", make(10), t0 + 60s, t0);
    ASSERT_TRUE(c.get("k", t0 + 59s));
    EXPECT_FALSE(c.get("k", t0 + 60s));
    EXPECT_EQ(c.entries(), 0u);  // the expired entry was removed on lookup
    EXPECT_EQ(c.bytes(), 0u);
}

TEST(MemoryCache, EntryBoundEvictsTheLeastRecentlyUsed) {
    memory_cache c({3, 1 << 20});
    const auto t0 = clock::now();
    // One shard's worth of recency is exact; across shards eviction is round robin, so use
    // enough keys to observe the global bound and that the newest entry always survives.
    for (int i = 0; i < 50; ++i) {
        c.put("k" + std::to_string(i), make(10), t0 + 60s, t0);
        EXPECT_LE(c.entries(), 3u);
        EXPECT_TRUE(c.get("k" + std::to_string(i), t0));
    }
    EXPECT_EQ(c.entries(), 3u);
    EXPECT_EQ(c.evictions(), 47u);
}

// Keys that land in the same shard (16 shards by FNV-1a), so recency there is exact.
std::vector<std::string> same_shard_keys(std::size_t n) {
    std::vector<std::string> keys;
    const auto shard = core::fnv1a64("k0") % 16;
    for (int i = 0; keys.size() < n; ++i) {
        auto k = "k" + std::to_string(i);
        if (core::fnv1a64(k) % 16 == shard)
            keys.push_back(k);
    }
    return keys;
}

TEST(MemoryCache, TheEntryReadLastSurvivesEviction) {
    memory_cache c({2, 1 << 20});
    const auto t0 = clock::now();
    const auto k = same_shard_keys(3);
    c.put(k[0], make(1), t0 + 60s, t0);
    c.put(k[1], make(1), t0 + 60s, t0);
    ASSERT_TRUE(c.get(k[0], t0));  // k[1] is now the least recently used
    c.put(k[2], make(1), t0 + 60s, t0);
    EXPECT_EQ(c.entries(), 2u);
    EXPECT_TRUE(c.get(k[0], t0));
    EXPECT_FALSE(c.get(k[1], t0));
    EXPECT_TRUE(c.get(k[2], t0));
}

TEST(MemoryCache, ByteBoundHoldsAndOversizeIsRefused) {
    memory_cache c({1000, 10'000});
    const auto t0 = clock::now();
    for (int i = 0; i < 100; ++i) {
        c.put("key" + std::to_string(i), make(3000), t0 + 60s, t0);
        EXPECT_LE(c.bytes(), 10'000u);
    }
    EXPECT_EQ(c.entries(), 3u);
    c.put("huge", make(20'000), t0 + 60s, t0);
    EXPECT_FALSE(c.get("huge", t0));
    EXPECT_LE(c.bytes(), 10'000u);
}

TEST(MemoryCache, ReplacingAKeyKeepsTheCountsRight) {
    memory_cache c({10, 1 << 20});
    const auto t0 = clock::now();
    c.put("k", make(100), t0 + 60s, t0);
    c.put("k", make(50), t0 + 60s, t0);
    EXPECT_EQ(c.entries(), 1u);
    EXPECT_EQ(c.get("k", t0)->body.size(), 50u);
    EXPECT_TRUE(c.erase("k"));
    EXPECT_FALSE(c.erase("k"));
    EXPECT_EQ(c.bytes(), 0u);
}

TEST(MemoryCache, ExpiredEntriesArePrunedOnStore) {
    memory_cache c({100, 1 << 20});
    const auto t0 = clock::now();
    for (int i = 0; i < 10; ++i)
        c.put("old" + std::to_string(i), make(10), t0 + 1s, t0);
    EXPECT_EQ(c.entries(), 10u);
    c.put("new", make(10), t0 + 60s, t0 + 5s);
    EXPECT_EQ(c.entries(), 1u);
}

TEST(MemoryCache, ClearAndEraseIfByMetadata) {
    memory_cache c({100, 1 << 20});
    const auto t0 = clock::now();
    c.put("a", make(1, "m1"), t0 + 60s, t0);
    c.put("b", make(1, "m2"), t0 + 60s, t0);
    c.put("c", make(1, "m1", "vk:b"), t0 + 60s, t0);
    EXPECT_EQ(c.erase_if([](const entry_metadata& m) { return m.model == "m1"; }), 2u);
    EXPECT_TRUE(c.get("b", t0));
    EXPECT_EQ(c.clear(), 1u);
    EXPECT_EQ(c.entries(), 0u);
    EXPECT_EQ(c.bytes(), 0u);
}

TEST(MemoryCache, ConcurrentWorkersKeepTheBounds) {
    memory_cache c({64, 64 * 200});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&c, t] {
            for (int i = 0; i < 5000; ++i) {
                const auto now = clock::now();
                const auto key = "k" + std::to_string((i * 7 + t) % 300);
                if (i % 3 == 0)
                    c.put(key, make(100), now + 60s, now);
                else
                    c.get(key, now);
            }
        });
    }
    for (auto& th : threads)
        th.join();
    EXPECT_LE(c.entries(), 64u);
    EXPECT_LE(c.bytes(), 64u * 200);
    // The totals agree with what the shards hold.
    const auto held = c.entries();
    EXPECT_EQ(c.clear(), held);
    EXPECT_EQ(c.bytes(), 0u);
}

}  // namespace
}  // namespace ditto::cache
