#include "ditto/cache/response_cache.hpp"

#include "ditto/log/log.hpp"
#include "ditto/store/cache_store.hpp"

namespace ditto::cache {

namespace net = boost::asio;
using clock = memory_cache::clock;

bool purge_selector::matches(const entry_metadata& m) const {
    return (!scope || m.scope == *scope) && (!method || m.method == *method) &&
           (!path || m.path == *path) && (!model || m.model == *model);
}

response_cache::response_cache(cache_options options, std::shared_ptr<store::cache_store> shared)
    : options_(std::move(options)),
      shared_(std::move(shared)),
      memory_(memory_limits{options_.max_entries, options_.max_total_body_bytes}) {}

response_cache::~response_cache() = default;

net::awaitable<lookup_result> response_cache::lookup(std::string key) {
    stats_.lookups.fetch_add(1, std::memory_order_relaxed);
    lookup_result r;
    const auto now = clock::now();
    r.hit = memory_.get(key, now);
    if (r.hit) {
        stats_.hits_memory.fetch_add(1, std::memory_order_relaxed);
        co_return r;
    }
    if (shared_) {
        auto got = co_await shared_->get(key);
        if (got.value) {
            if (auto decoded = decode(*got.value)) {
                r.hit = std::make_shared<const entry>(std::move(*decoded));
                r.source = hit_source::redis;
                memory_.put(key, r.hit, now + std::chrono::seconds(options_.ttl_seconds), now);
                stats_.hits_redis.fetch_add(1, std::memory_order_relaxed);
                co_return r;
            }
        }
    }
    stats_.misses.fetch_add(1, std::memory_order_relaxed);
    co_return r;
}

net::awaitable<void> response_cache::store(std::string key, std::shared_ptr<const entry> e) {
    if (shared_) {
        const auto ec = co_await shared_->set(key, encode(*e), options_.ttl_seconds);
        if (ec) {
            stats_.store_errors_redis.fetch_add(1, std::memory_order_relaxed);
            log::warn("cache.store_error", "storing a cache entry in Redis failed",
                      {{"error", ec.message()}});
        } else {
            stats_.stores_redis.fetch_add(1, std::memory_order_relaxed);
        }
    }
    const auto now = clock::now();
    memory_.put(key, std::move(e), now + std::chrono::seconds(options_.ttl_seconds), now);
    stats_.stores_memory.fetch_add(1, std::memory_order_relaxed);
}

net::awaitable<void> response_cache::forget(std::string key) {
    memory_.erase(key);
    if (shared_)
        co_await shared_->erase(std::move(key));
}

net::awaitable<purge_result> response_cache::purge(purge_selector selector) {
    purge_result r;
    store::cache_purge_result shared;
    (selector.all         ? stats_.purges_all
     : selector.cache_key ? stats_.purges_key
                          : stats_.purges_selector)
        .fetch_add(1, std::memory_order_relaxed);
    if (selector.all) {
        r.cleared_memory = true;
        r.deleted_memory = memory_.clear();
        if (shared_) {
            // Named, not a temporary: GCC 12 destroys temporaries in a co_await'ed call twice.
            std::function<bool(std::string_view)> every;
            shared = co_await shared_->purge(std::move(every));
        }
    } else if (selector.cache_key) {
        // A key and other fields: the key's entry, if it also matches them.
        const auto hit = memory_.get(*selector.cache_key, clock::now());
        if (hit && selector.matches(hit->meta) && memory_.erase(*selector.cache_key))
            r.deleted_memory = 1;
        if (shared_) {
            const bool plain =
                !selector.scope && !selector.method && !selector.path && !selector.model;
            if (plain) {
                shared = co_await shared_->erase(*selector.cache_key);
            } else {
                auto got = co_await shared_->get(*selector.cache_key);
                shared.error = got.error;
                auto meta = got.value ? decode_metadata(*got.value) : std::nullopt;
                if (meta && selector.matches(*meta))
                    shared = co_await shared_->erase(*selector.cache_key);
            }
        }
    } else {
        r.deleted_memory =
            memory_.erase_if([&selector](const entry_metadata& m) { return selector.matches(m); });
        if (shared_) {
            std::function<bool(std::string_view)> match = [selector](std::string_view value) {
                auto meta = decode_metadata(value);
                return meta && selector.matches(*meta);
            };
            shared = co_await shared_->purge(std::move(match));
        }
    }
    if (shared_) {
        r.deleted_redis = shared.deleted;
        if (shared.error)
            r.redis_error = shared.error.message();
    }
    co_return r;
}

}  // namespace ditto::cache
