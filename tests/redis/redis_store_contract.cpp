// The store contract (tests/contract) against a real redis-server: one server for the whole
// binary, a fresh key prefix per test.
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <cstdlib>
#include <thread>

#include "contract/governor_contract.hpp"
#include "ditto/cache/response_cache.hpp"
#include "ditto/store/redis/redis_connection.hpp"
#include "ditto/store/redis/redis_store.hpp"
#include "support/redis_server.hpp"

namespace ditto::store::contract {
namespace {

// Started on first use and kept for the binary's lifetime; the background loop runs the
// stores' change feeds.
struct shared_redis {
    test::redis_server server;
    boost::asio::io_context background;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{
        background.get_executor()};
    std::thread thread{[this] { background.run(); }};
    std::atomic<int> next_prefix{0};

    ~shared_redis() {
        guard.reset();
        background.stop();
        thread.join();
    }
};

shared_redis& redis() {
    static shared_redis r;
    return r;
}

store_set make_layout(int layout) {
    auto& r = redis();
    std::string error;
    redis::redis_store_options o;
    o.url = *redis::parse_redis_url(r.server.url(), error);
    o.prefix = "contract" + std::to_string(r.next_prefix++);
    o.control_poll = std::chrono::milliseconds(20);
    o.layout = layout;
    return redis::make_redis_store(o, r.background.get_executor());
}

store_set make() {
    return make_layout(1);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(redis, StoreContract, ::testing::Values(factory{"redis", make}),
                         [](const auto& p) { return p.param.name; });
INSTANTIATE_TEST_SUITE_P(redis, GovernorContract,
                         ::testing::Values(factory{"redis", make},
                                           factory{"redis_v2", [] { return make_layout(2); }}),
                         [](const auto& p) { return p.param.name; });

// The proxy cache's shared tier (docs/caching.md; the purge of docs/admin-api.md) with the memory
// tier in front: the operations the Admin API's purge endpoint calls.
class RedisCache : public StoreContract {
  protected:
    std::shared_ptr<cache::entry> entry_for(const std::string& scope, const std::string& path,
                                            const std::string& model) {
        auto e = std::make_shared<cache::entry>();
        e->backend = "primary";
        e->headers = {{"content-type", "application/json"}};
        e->body = R"({"answer":")" + model + "\"}";
        e->meta = {scope, "POST", path, model, "rp"};
        return e;
    }
};

TEST_P(RedisCache, AnEntryStoredByOneProcessIsFoundByAnother) {
    auto a = std::make_unique<cache::response_cache>(cache::cache_options{}, store_.cache);
    auto b = std::make_unique<cache::response_cache>(cache::cache_options{}, store_.cache);
    run(a->store("k1", entry_for("vk:a", "/v1/chat/completions", "m1")));
    auto found = run(b->lookup("k1"));
    ASSERT_TRUE(found.hit);
    EXPECT_EQ(found.source, cache::hit_source::redis);
    EXPECT_EQ(found.hit->body, R"({"answer":"m1"})");
    EXPECT_EQ(found.hit->meta.model, std::optional<std::string>("m1"));
    EXPECT_EQ(run(b->lookup("k1")).source, cache::hit_source::memory);
    EXPECT_FALSE(run(b->lookup("k2")).hit);
}

TEST_P(RedisCache, PurgeBySelectorKeyAndAllAcrossBothTiers) {
    auto c = std::make_unique<cache::response_cache>(cache::cache_options{}, store_.cache);
    run(c->store("chat-m1", entry_for("vk:a", "/v1/chat/completions", "m1")));
    run(c->store("chat-m2", entry_for("vk:a", "/v1/chat/completions", "m2")));
    run(c->store("emb-m1", entry_for("vk:b", "/v1/embeddings", "m1")));

    // C7: {path, model} removes only that model's entry, in memory and in Redis.
    cache::purge_selector by_model;
    by_model.path = "/v1/chat/completions";
    by_model.model = "m1";
    auto r = run(c->purge(by_model));
    EXPECT_FALSE(r.cleared_memory);
    EXPECT_EQ(r.deleted_memory, 1u);
    EXPECT_EQ(r.deleted_redis, std::optional<std::uint64_t>(1));
    EXPECT_FALSE(r.redis_error);
    auto fresh = std::make_unique<cache::response_cache>(cache::cache_options{}, store_.cache);
    EXPECT_FALSE(run(fresh->lookup("chat-m1")).hit);
    EXPECT_TRUE(run(fresh->lookup("chat-m2")).hit);

    // C4: a cache key.
    cache::purge_selector by_key;
    by_key.cache_key = "emb-m1";
    r = run(c->purge(by_key));
    EXPECT_EQ(r.deleted_memory, 1u);
    EXPECT_EQ(r.deleted_redis, std::optional<std::uint64_t>(1));
    EXPECT_FALSE(run(c->lookup("emb-m1")).hit);

    // A key with a field that does not match it deletes nothing.
    cache::purge_selector mismatched;
    mismatched.cache_key = "chat-m2";
    mismatched.scope = "vk:other";
    r = run(c->purge(mismatched));
    EXPECT_EQ(r.deleted_memory, 0u);
    EXPECT_EQ(r.deleted_redis, std::optional<std::uint64_t>(0));
    EXPECT_TRUE(run(c->lookup("chat-m2")).hit);

    // all: more entries than one SCAN batch.
    for (int i = 0; i < 600; ++i)
        run(store_.cache->set("bulk-" + std::to_string(i), "x", 60));
    cache::purge_selector all;
    all.all = true;
    r = run(c->purge(all));
    EXPECT_TRUE(r.cleared_memory);
    EXPECT_EQ(r.deleted_memory, 1u);  // chat-m2 (fresh's copies are its own)
    EXPECT_EQ(r.deleted_redis, std::optional<std::uint64_t>(601));
    EXPECT_FALSE(run(fresh->lookup("bulk-7")).hit);
}

TEST_P(RedisCache, RedisErrorsAreMissesAndPurgeReportsThem) {
    auto c = std::make_unique<cache::response_cache>(cache::cache_options{}, store_.cache);
    run(c->store("k", entry_for("vk:a", "/v1/chat/completions", "m1")));
    redis().server.pause();
    cache::purge_selector all;
    all.all = true;
    auto fresh = std::make_unique<cache::response_cache>(cache::cache_options{}, store_.cache);
    EXPECT_FALSE(run(fresh->lookup("k")).hit);  // times out: a miss, not an exception
    auto r = run(c->purge(all));
    redis().server.resume();
    EXPECT_TRUE(r.cleared_memory);
    EXPECT_EQ(r.deleted_memory, 1u);
    EXPECT_TRUE(r.redis_error);
}

INSTANTIATE_TEST_SUITE_P(redis, RedisCache, ::testing::Values(factory{"redis", make}),
                         [](const auto& p) { return p.param.name; });

// Redis restarted, or its script cache was flushed: EVALSHA answers NOSCRIPT, and the store
// sends the script itself (EVAL), which caches it again. Each call is the store's first try.
class RedisScripts : public StoreContract {
  protected:
    static void flush_scripts() {
        const std::string cmd =
            "redis-cli -p " + std::to_string(redis().server.port()) + " SCRIPT FLUSH >/dev/null";
        ASSERT_EQ(std::system(cmd.c_str()), 0);
    }
};

TEST_P(RedisScripts, AFlushedScriptCacheIsRefilledByTheNextCall) {
    std::vector<rate_scope> scopes{{"key-1", 100, std::nullopt}};
    ASSERT_TRUE(run(store_.limits->admit(scopes, 10)).admitted);
    flush_scripts();
    const auto d = run(store_.limits->admit(scopes, 10));
    EXPECT_FALSE(d.error) << d.error.message();
    EXPECT_TRUE(d.admitted);

    flush_scripts();
    const auto payload = std::string(R"({"note":")") + std::string(600, 'x') + "\"}";
    EXPECT_FALSE(run(store_.audit->append("test.noscript", payload)));
    audit_query q;
    q.limit = 10;
    const auto records = run(store_.audit->list(q));
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].kind, "test.noscript");
    EXPECT_EQ(records[0].payload_json, payload);  // the arguments survived the retry
}

INSTANTIATE_TEST_SUITE_P(redis, RedisScripts, ::testing::Values(factory{"redis", make}),
                         [](const auto& p) { return p.param.name; });

// Group commit (docs/redis.md, "Layout v2"): the settlements queued on one thread in one
// event-loop turn reach Redis as one script call, and each counts as it would alone.
class RedisGovernorV2 : public GovernorContract {};

TEST_P(RedisGovernorV2, SettlementsOfOneTurnGoToRedisAsOneCall) {
    constexpr int n = 32;
    std::vector<admission_ticket> tickets;
    for (int i = 0; i < n; ++i) {
        auto a = admit(request(10, 1000));
        ASSERT_TRUE(a.admitted) << i;
        tickets.push_back(a.ticket);
    }
    std::string error;
    auto stats = redis::redis_connection::create(
        ioc_.get_executor(), *redis::parse_redis_url(redis().server.url(), error));
    auto evalsha_calls = [&] {
        auto r = run(stats->exec({"INFO", "commandstats"}));
        const auto text = std::string(r.reply.as_string().value_or(""));
        const auto at = text.find("cmdstat_evalsha:calls=");
        return at == std::string::npos ? 0L : std::stol(text.substr(at + 22));
    };
    const auto before = evalsha_calls();
    int done = 0;
    for (int i = 0; i < n; ++i) {
        settle_request r;
        r.ticket = tickets[static_cast<std::size_t>(i)];
        r.commit = true;
        r.actual.tokens = 5;
        r.tokens = 5;
        boost::asio::co_spawn(ioc_, store_.governance->settle(std::move(r)),
                              [&done](std::exception_ptr, boost::system::error_code ec) {
                                  EXPECT_FALSE(ec) << ec.message();
                                  ++done;
                              });
    }
    bool all = false;
    while (!all && ioc_.run_one() > 0)
        all = done == n;
    ASSERT_EQ(done, n);
    EXPECT_EQ(evalsha_calls() - before, 1) << "the 32 settlements in one call";
    // 32 × 5 spent: 1000 − 160 = 840 left, and nothing still reserved.
    EXPECT_TRUE(admit(request(840, 1000)).admitted);
    EXPECT_FALSE(admit(request(1, 1000)).admitted);
    stats->close();
}

INSTANTIATE_TEST_SUITE_P(redis, RedisGovernorV2,
                         ::testing::Values(factory{"redis_v2", [] { return make_layout(2); }}),
                         [](const auto& p) { return p.param.name; });

}  // namespace ditto::store::contract
