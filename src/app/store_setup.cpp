#include "store_setup.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_future.hpp>

#include "ditto/config/serialize.hpp"
#include "ditto/log/log.hpp"
#include "ditto/store/memory/memory_control_store.hpp"
#include "ditto/store/memory/memory_rate_limiter.hpp"
#include "ditto/store/redis/redis_store.hpp"
#include "store_policy.hpp"

namespace ditto::app {
namespace {

namespace net = boost::asio;

// Runs a store call to completion from the main thread, before the server starts.
template <class T>
std::optional<T> run_now(background& bg, net::awaitable<T> a, std::chrono::milliseconds limit) {
    auto fut = net::co_spawn(bg.executor(), std::move(a), net::use_future);
    if (fut.wait_for(limit) != std::future_status::ready)
        return std::nullopt;
    try {
        return fut.get();
    } catch (const std::exception& e) {
        log::error("store.error", e.what());
        return std::nullopt;
    }
}

// Keys and router as the store keeps them: JSON, tokens hashed (never a raw token in Redis).
store::control_state state_of(const config::gateway_config& cfg) {
    store::control_state s;
    for (const auto& k : cfg.virtual_keys)
        s.keys.emplace_back(k.id, config::key_to_json(k, config::token_form::sha256));
    std::sort(s.keys.begin(), s.keys.end());
    s.router_json = config::router_to_json(cfg.router);
    return s;
}

// Parses a stored state into `cfg` (keys, router) and validates it against the backends.
bool apply_state(const store::control_state& s, config::gateway_config& cfg,
                 config::diagnostics& diag) {
    std::vector<config::virtual_key_config> keys;
    for (const auto& [id, json] : s.keys) {
        auto k = config::parse_virtual_key_json(json, diag);
        if (k)
            keys.push_back(std::move(*k));
    }
    std::optional<config::router_config> router;
    if (s.router_json)
        router = config::parse_router_json(*s.router_json, diag);
    if (!diag.ok())
        return false;
    config::gateway_config next = cfg;
    next.virtual_keys = std::move(keys);
    if (router)
        next.router = std::move(*router);
    config::validate(next, diag);
    if (!diag.ok())
        return false;
    cfg = std::move(next);
    return true;
}

struct reloader {
    std::shared_ptr<store::control_store> control;
    std::shared_ptr<middleware::live_keys> keys;
    config::gateway_config base;  ///< backends, for validating what other replicas wrote
};

// A change from any replica: re-read keys and router, swap the snapshot if they are valid.
net::awaitable<void> reload(std::shared_ptr<reloader> r, std::uint64_t version) {
    const auto started = std::chrono::steady_clock::now();
    auto loaded = co_await r->control->load();
    if (loaded.error || !loaded.state) {
        log::warn("store.reload_error", "cannot re-read keys and router",
                  {{"version", std::to_string(version)},
                   {"error", loaded.error ? loaded.error.message() : "no state"}});
        co_return;
    }
    config::gateway_config cfg = r->base;
    config::diagnostics diag;
    if (!apply_state(*loaded.state, cfg, diag)) {
        log::error("store.reload_invalid",
                   "keys or router in the store are invalid; keeping "
                   "the running ones",
                   {{"version", std::to_string(version)}, {"error", diag.errors.front()}});
        co_return;
    }
    r->keys->store(std::make_shared<const middleware::key_snapshot>(cfg.virtual_keys, cfg.router));
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    log::info("store.reloaded", "keys and router reloaded",
              {{"version", std::to_string(loaded.state->version)},
               {"keys", std::to_string(cfg.virtual_keys.size())},
               {"reload_us", std::to_string(us)}});
}

std::optional<store::redis::redis_url> redis_url_of(const config::cli_options& o,
                                                    const config::env_lookup& env) {
    std::string text;
    if (o.redis_url) {
        text = *o.redis_url;
    } else {
        auto v = env.get(*o.redis_env);
        if (!v) {
            log::error("config.error", "--redis-env: missing env var: " + *o.redis_env);
            return std::nullopt;
        }
        text = *v;
    }
    std::string error;
    auto url = store::redis::parse_redis_url(text, error);
    if (!url)
        log::error("config.error", "--redis: " + error);
    return url;
}

}  // namespace

std::optional<store_runtime> open_store(const config::cli_options& o, config::gateway_config& cfg,
                                        const config::env_lookup& env, background& bg) {
    store_runtime rt;
    if (!o.redis_url && !o.redis_env) {
        rt.set = store::make_memory_store();
        rt.keys = std::make_shared<middleware::live_keys>(
            std::make_shared<const middleware::key_snapshot>(cfg.virtual_keys, cfg.router));
        bg.start_reaper(rt.set.budgets, std::chrono::seconds(o.reservation_lease_secs));
        return rt;
    }
    auto url = redis_url_of(o, env);
    if (!url)
        return std::nullopt;
    store::redis::redis_store_options ro;
    ro.url = *url;
    ro.prefix = o.redis_prefix;
    ro.connection.command_timeout = std::chrono::milliseconds(o.redis_timeout_ms);
    ro.audit_retention = std::chrono::seconds(o.audit_retention_secs);
    rt.set = store::redis::make_redis_store(ro, bg.executor());

    // SPEC §2.3 step 5, after validation (§0.7): Redis is reached or start-up fails.
    const auto limit = std::chrono::milliseconds(o.redis_timeout_ms) * 4 + std::chrono::seconds(2);
    auto loaded = run_now(bg, rt.set.control->load(), limit);
    // On a fatal error the store's connections are closed first, so that the background
    // loop has nothing left that keeps it (and the exit) waiting.
    auto fail = [&rt] {
        rt.set.close();
        return std::nullopt;
    };
    if (!loaded || loaded->error) {
        log::error("store.unavailable", "cannot reach Redis at start-up",
                   {{"redis", url->redacted()},
                    {"error", loaded ? loaded->error.message() : "timed out"}});
        return fail();
    }
    if (loaded->state && (!loaded->state->keys.empty() || loaded->state->router_json)) {
        config::diagnostics diag;
        if (!apply_state(*loaded->state, cfg, diag)) {
            for (const auto& e : diag.errors)
                log::error("store.invalid", "keys or router in Redis: " + e);
            return fail();
        }
        log::info("store.bootstrap", "keys and router loaded from Redis (they win over the file)",
                  {{"keys", std::to_string(cfg.virtual_keys.size())},
                   {"version", std::to_string(loaded->state->version)}});
    } else {
        auto saved = run_now(bg, rt.set.control->save(state_of(cfg)), limit);
        if (!saved || *saved) {
            log::error("store.unavailable", "cannot write keys and router to Redis",
                       {{"error", saved ? saved->message() : "timed out"}});
            return fail();
        }
        log::info("store.bootstrap", "keys and router written to Redis",
                  {{"keys", std::to_string(cfg.virtual_keys.size())}});
    }
    rt.keys = std::make_shared<middleware::live_keys>(
        std::make_shared<const middleware::key_snapshot>(cfg.virtual_keys, cfg.router));

    auto r = std::make_shared<reloader>();
    r->control = rt.set.control;
    r->keys = rt.keys;
    r->base = cfg;
    auto ex = bg.executor();
    // A weak reference: the store owns its watchers, and the reloader holds the store.
    std::weak_ptr<reloader> weak = r;
    rt.set.control->watch([weak, ex](std::uint64_t version) {
        if (auto live = weak.lock())
            net::co_spawn(ex, reload(std::move(live), version), net::detached);
    });
    rt.reloader = r;

    // SPEC §0.8: limits degrade to per replica, settlements wait for Redis to come back.
    rt.set.limits =
        with_local_fallback(rt.set.limits, std::make_shared<store::memory_rate_limiter>());
    with_write_retry(rt.set, bg.executor());
    bg.start_reaper(rt.set.budgets, std::chrono::seconds(o.reservation_lease_secs));
    log::info("store.redis", "using Redis",
              {{"redis", url->redacted()}, {"prefix", o.redis_prefix}});
    return rt;
}

}  // namespace ditto::app
