#include "ditto/cache/cache_key.hpp"
#include "ditto/cache/recording.hpp"
#include "ditto/cache/response_cache.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/middleware/builtin.hpp"

namespace ditto::middleware {
namespace {

using cache::response_cache;
using cache::single_flight;

// Bypass (docs/caching.md): either bypass header, or Cache-Control no-store / no-cache.
bool bypassed(const http::request& req) {
    if (req.find("x-ditto-cache-bypass") != req.end() ||
        req.find("x-ditto-bypass-cache") != req.end()) {
        return true;
    }
    for (auto it = req.find(http::field::cache_control); it != req.end();) {
        const auto v = core::to_lower(std::string_view(it->value().data(), it->value().size()));
        if (v.find("no-store") != std::string::npos || v.find("no-cache") != std::string::npos)
            return true;
        ++it;
        if (it == req.end() || it->name() != http::field::cache_control)
            break;
    }
    return false;
}

bool eligible(const proxy_context& ctx, const cache::cache_options& o) {
    using http::bhttp::verb;
    const auto m = ctx.req.method();
    if (m != verb::get && m != verb::post)
        return false;
    // A body streamed to the upstream as it arrives (large uploads) was never seen whole.
    if (!ctx.body_read)
        return false;
    if (m == verb::post && !ctx.body_is_json)
        return false;
    if (ctx.fields.stream == true && !o.streaming)
        return false;
    return !bypassed(ctx.req);
}

// The most a body may be to be stored: SSE only with streaming caching on.
std::optional<std::uint64_t> storable_limit(const http::response& res,
                                            const cache::cache_options& o) {
    if (res.msg.result_int() / 100 != 2)
        return std::nullopt;
    if (http::is_event_stream(res)) {
        if (!o.streaming)
            return std::nullopt;
        return o.max_stream_body_bytes;
    }
    return o.max_body_bytes;
}

// The entry for `res`, without its body (filled by the caller, which may still be reading it).
cache::entry entry_head(const proxy_context& ctx, const http::response& res) {
    auto e = cache::answer_head(res);
    e.meta.scope = "vk:" + ctx.key->id;
    e.meta.method = std::string(ctx.req.method_string());
    e.meta.path = ctx.path;
    e.meta.model = ctx.fields.model;
    return e;
}

// A streamed 2xx answer is stored when its body ends normally and fits, and handed to the
// identical requests waiting on it. A failed, cut or oversized stream is never stored
// (docs/caching.md).
class cache_sink final : public cache::recording_sink {
  public:
    cache_sink(std::shared_ptr<response_cache> c, std::string key, single_flight::lead lead)
        : cache_(std::move(c)), key_(std::move(key)), lead_(std::move(lead)) {}

    boost::asio::awaitable<void> complete(cache::entry e) override {
        auto stored = std::make_shared<const cache::entry>(std::move(e));
        co_await cache_->store(key_, stored);
        lead_.finish(std::move(stored));
    }

    boost::asio::awaitable<void> abandon(bool overflow) override {
        lead_.finish(nullptr);
        if (overflow)
            co_await cache_->forget(key_);
    }

  private:
    std::shared_ptr<response_cache> cache_;
    std::string key_;
    single_flight::lead lead_;  // finished with nothing if the client goes away first
};

class cache_step final : public middleware {
  public:
    cache_step(std::shared_ptr<response_cache> c, std::shared_ptr<metrics::counters> counters)
        : cache_(std::move(c)), counters_(std::move(counters)) {}

    // A request the cache does not serve (the key's cache off, a method or path it skips)
    // passes without a coroutine frame (docs/architecture.md).
    // A request already answered by a replay (dedup_step.cpp) is passed on to its admission.
    step_result enter(proxy_context& ctx, std::optional<http::response>& /*out*/) override {
        return eligible(ctx, cache_->options()) && !ctx.cached_answer ? step_result::wait
                                                                      : step_result::next;
    }

    boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn next) override {
        const auto& o = cache_->options();
        if (!eligible(ctx, o) || ctx.cached_answer)
            co_return co_await next(ctx);
        auto partition = cache::route_partition(ctx.candidates);
        auto key = key_of(ctx, partition);

        // The memory tier first without a coroutine frame of its own: this is the hit path.
        auto hit = cache_->memory().get(key, cache::memory_cache::clock::now());
        auto source = cache::hit_source::memory;
        if (hit) {
            cache_->stats().lookups.fetch_add(1, std::memory_order_relaxed);
            cache_->stats().hits_memory.fetch_add(1, std::memory_order_relaxed);
        } else {
            auto found = co_await cache_->lookup(key);
            hit = std::move(found.hit);
            source = found.source;
        }
        if (hit) {
            ctx.cache = source == cache::hit_source::memory ? metrics::cache_outcome::hit_memory
                                                            : metrics::cache_outcome::hit_redis;
            co_return co_await serve_after_admission(ctx, next, std::move(hit), std::move(key),
                                                     source);
        }
        ctx.cache = metrics::cache_outcome::miss;

        auto ticket = cache_->flights().join(key);
        if (ticket.follow) {
            auto shared = co_await ticket.follow->wait(std::chrono::milliseconds(o.wait_ms));
            if (shared) {
                cache_->stats().coalesced.fetch_add(1, std::memory_order_relaxed);
                ctx.cache = metrics::cache_outcome::hit_memory;
                co_return co_await serve_after_admission(ctx, next, std::move(shared),
                                                         std::move(key), cache::hit_source::memory);
            }
            // The leader's answer was not stored: go upstream alone (and store if we can).
        }
        co_return co_await miss(ctx, next, std::move(key), std::move(partition),
                                std::move(ticket.leader));
    }

  private:
    std::string key_of(const proxy_context& ctx, const std::string& partition) const {
        const std::string scope = "vk:" + ctx.key->id;
        const std::string target = ctx.query.empty() ? ctx.path : ctx.path + "?" + ctx.query;
        return cache::cache_key(ctx.req, target, scope, partition, ctx.raw_body,
                                cache_->options().key_headers);
    }

    // A hit is served by the admission step (admit_step.cpp) once its rate limits admit it: a
    // hit reserves no budget, so the one admission decides what it charges.
    boost::asio::awaitable<http::response> serve_after_admission(
        proxy_context& ctx, next_fn next, std::shared_ptr<const cache::entry> hit, std::string key,
        cache::hit_source source) {
        ctx.cached_answer = [this, hit = std::move(hit), key = std::move(key),
                             source](proxy_context& c) { return answer_hit(c, hit, key, source); };
        co_return co_await next(ctx);
    }

    // The stored head and body go out as stored bytes, not copied into a message: the
    // server writes [status line][stored fields][these per-request fields][body]
    // (docs/caching.md).
    http::response answer_hit(proxy_context& ctx, const std::shared_ptr<const cache::entry>& hit,
                              const std::string& key, cache::hit_source source) {
        const auto& e = *hit;
        counters_->requests.add();
        counters_->cache_hits.add();
        auto& result = ctx.settle.result();
        result.cache_hit = true;
        result.backend = e.backend;
        auto res = cache::stored_answer(hit, ctx.req, std::move(ctx.holds));
        // Stored headers never include these (replayable()): insert, no lookup needed.
        res.msg.insert("x-ditto-backend", e.backend);
        res.msg.insert("x-ditto-cache", "hit");
        res.msg.insert("x-ditto-cache-key", key);
        res.msg.insert("x-ditto-cache-source",
                       source == cache::hit_source::memory ? "memory" : "redis");
        res.msg.insert("x-ditto-request-id", ctx.request_id);
        res.msg.insert("x-request-id", ctx.request_id);
        return res;
    }

    boost::asio::awaitable<http::response> miss(proxy_context& ctx, next_fn next, std::string key,
                                                std::string partition, single_flight::lead lead) {
        auto res = co_await next(ctx);
        res.msg.erase("x-ditto-cache");
        res.msg.set("x-ditto-cache-key", key);
        const auto limit = storable_limit(res, cache_->options());
        if (!limit)
            co_return res;
        auto head = entry_head(ctx, res);
        head.meta.route_partition = std::move(partition);
        if (res.stream) {
            res.stream = cache::record(
                std::move(res.stream), std::move(head), *limit,
                ctx.settle.result().usage_event_added,
                std::make_unique<cache_sink>(cache_, std::move(key), std::move(lead)));
            co_return res;
        }
        if (res.msg.body().size() > *limit) {
            co_await cache_->forget(std::move(key));
            co_return res;
        }
        head.body = res.msg.body();
        auto e = std::make_shared<const cache::entry>(std::move(head));
        co_await cache_->store(key, e);
        lead.finish(std::move(e));
        co_return res;
    }

    std::shared_ptr<response_cache> cache_;
    std::shared_ptr<metrics::counters> counters_;
};

}  // namespace

std::shared_ptr<middleware> make_cache(std::shared_ptr<cache::response_cache> c,
                                       std::shared_ptr<metrics::counters> counters) {
    return std::make_shared<cache_step>(std::move(c), std::move(counters));
}

}  // namespace ditto::middleware
