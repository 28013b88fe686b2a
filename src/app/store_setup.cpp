#include "store_setup.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <utility>

#include "ditto/admin/control_plane.hpp"
#include "ditto/config/load.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/log/log.hpp"
#include "ditto/store/memory/memory_control_store.hpp"
#include "ditto/store/memory/memory_rate_limiter.hpp"
#include "ditto/store/redis/redis_store.hpp"
#include "ditto/store/redis/redis_tls.hpp"
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

// docs/admin-api.md, "--state PATH": the --state file, if it exists, replaces the config's keys and
// router (after validation, like Redis' bootstrap); otherwise it is created from them.
bool open_state_file(const std::string& path, config::gateway_config& cfg) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (std::filesystem::exists(path)) {
            log::error("state.error", "cannot read the state file", {{"path", path}});
            return false;
        }
        log::info("state.created", "state file will be created on start", {{"path", path}});
        return true;
    }
    std::ostringstream text;
    text << in.rdbuf();
    auto doc = nlohmann::json::parse(text.str(), nullptr, false);
    if (!doc.is_object() || !doc.contains("virtual_keys") || !doc["virtual_keys"].is_array()) {
        log::error("state.invalid", "the state file is not {\"virtual_keys\":[…],\"router\":{…}}",
                   {{"path", path}});
        return false;
    }
    store::control_state st;
    for (const auto& k : doc["virtual_keys"]) {
        const auto id = k.is_object() && k.contains("id") && k["id"].is_string()
                            ? k["id"].get<std::string>()
                            : std::string();
        st.keys.emplace_back(id, k.dump());
    }
    if (doc.contains("router") && !doc["router"].is_null())
        st.router_json = doc["router"].dump();
    config::diagnostics diag;
    if (!admin::apply_stored_state(st, cfg, diag)) {
        for (const auto& e : diag.errors)
            log::error("state.invalid", e, {{"path", path}});
        return false;
    }
    log::info("state.loaded", "keys and router loaded from the state file",
              {{"path", path}, {"keys", std::to_string(cfg.virtual_keys.size())}});
    return true;
}

/// The URL from --redis or the variable --redis-env names, through the same `${ENV}` and
/// `secret://` resolution as the config's secrets (docs/redis.md, "Secrets"). No message
/// quotes the value: it holds the password.
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
    const char* const flag = o.redis_url ? "--redis" : "--redis-env";
    std::string error;
    auto expanded = config::expand_value(text, env, flag, error);
    if (!expanded) {
        // A secret:// reference is a name or a path; anything else is a URL that may hold a
        // raw password, whose "${…}" the message would quote.
        if (!core::trim(text).starts_with("secret://"))
            error =
                "a ${…} placeholder in the URL does not resolve (names withheld: the URL may hold "
                "a password; write a literal $ in a password as %24)";
        log::error("config.error", std::string(flag) + ": " + error);
        return std::nullopt;
    }
    auto url = store::redis::parse_redis_url(core::trim(*expanded), error);
    if (!url) {
        log::error("config.error", std::string(flag) + ": " + error);
        return std::nullopt;
    }
    const bool tls_flags = o.redis_tls_ca || o.redis_tls_cert || o.redis_tls_insecure_skip_verify;
    if (tls_flags && !url->tls) {
        log::error("config.error", "--redis-tls-* need a rediss:// URL",
                   {{"redis", url->redacted()}});
        return std::nullopt;
    }
    return url;
}

/// The TLS context of a rediss:// URL, made once (a bad file stops the start here).
bool set_redis_tls(const config::cli_options& o, store::redis::redis_options& conn) {
    store::redis::redis_tls_options tls;
    tls.ca_file = o.redis_tls_ca.value_or("");
    tls.cert_file = o.redis_tls_cert.value_or("");
    tls.key_file = o.redis_tls_key.value_or("");
    tls.insecure_skip_verify = o.redis_tls_insecure_skip_verify;
    if (tls.insecure_skip_verify)
        log::warn("store.redis_tls_insecure",
                  "certificate verification of Redis is OFF (--redis-tls-insecure-skip-verify)");
    std::string error;
    conn.tls = store::redis::make_redis_tls_context(tls, error);
    if (!conn.tls)
        log::error("config.error", "Redis TLS: " + error);
    return conn.tls != nullptr;
}

/// Reads the keys and router, the first thing asked of Redis. The connection is still being
/// made (behind Sentinel perhaps past a Sentinel that hangs, or with Sentinels that boot with
/// the gateway, docs/redis.md), or Redis is still loading: an outage is retried within
/// `window`; anything else (a refused password, a refusal) is final at once.
template <class Set>
auto first_contact(Set& set, background& bg, std::chrono::milliseconds window)
    -> decltype(run_now(bg, set.control->load(), window)) {
    namespace redis = store::redis;
    using clock = std::chrono::steady_clock;
    const auto end = clock::now() + window;
    boost::system::error_code reason;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - clock::now());
        auto loaded =
            run_now(bg, set.control->load(), std::max(left, std::chrono::milliseconds(1)));
        if (!loaded || !loaded->error)
            return loaded;
        const auto e = loaded->error;
        const bool outage = e == boost::asio::error::timed_out ||
                            e == boost::asio::error::not_connected ||
                            e == boost::asio::error::connection_refused ||
                            e == boost::asio::error::connection_reset ||
                            e == make_error_code(redis::redis_errc::connection_lost) ||
                            e == make_error_code(redis::redis_errc::not_ready) ||
                            e == make_error_code(redis::redis_errc::no_primary);
        // Between attempts the connection answers "not connected" at once: the reason worth
        // reporting is the last one an attempt gave (a Sentinel that knows no such master).
        if (e != boost::asio::error::not_connected && e != boost::asio::error::timed_out)
            reason = e;
        if (!outage || clock::now() + std::chrono::milliseconds(100) >= end) {
            if (reason &&
                (e == boost::asio::error::not_connected || e == boost::asio::error::timed_out))
                loaded->error = reason;
            return loaded;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace

store_runtime::store_runtime(store_runtime&& other) noexcept
    : set(std::move(other.set)), keys(std::move(other.keys)), shared_version(other.shared_version) {
    other.set.close = nullptr;
    other.set.seal = nullptr;
}

void store_runtime::close() {
    if (auto c = std::exchange(set.close, nullptr))
        c();
}

void store_runtime::seal() {
    close();
    if (auto s = std::exchange(set.seal, nullptr))
        s();
}

std::optional<store_runtime> open_store(const config::cli_options& o, config::gateway_config& cfg,
                                        const config::env_lookup& env, background& bg) {
    store_runtime rt;
    if (!o.redis_url && !o.redis_env) {
        if (o.state_path && !open_state_file(*o.state_path, cfg))
            return std::nullopt;
        rt.set = store::make_memory_store(
            10'000, std::chrono::hours(24 * static_cast<std::int64_t>(o.spend_retention_days)));
        rt.keys = std::make_shared<middleware::live_keys>(nullptr);
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
    if (url->tls && !set_redis_tls(o, ro.connection))
        return std::nullopt;
    ro.audit_retention = std::chrono::seconds(o.audit_retention_secs);
    ro.spend_retention = std::chrono::hours(24 * static_cast<std::int64_t>(o.spend_retention_days));
    ro.layout = static_cast<int>(o.redis_layout);
    ro.migrate = o.redis_migrate;
    rt.set = store::redis::make_redis_store(ro, bg.executor());
    // A fatal error below returns nullopt, and `rt` closes the store's connections as it
    // goes: the background loop has nothing left that keeps it (and the exit) waiting.

    // After validation (docs/configuration.md): Redis is reached or start-up fails
    // (docs/redis.md).
    const auto limit = std::chrono::milliseconds(o.redis_timeout_ms) * 4 + std::chrono::seconds(2);
    // Replicas starting together race to write the file's keys: the write is a
    // compare-and-set, and the loser reads (and adopts) what the winner wrote.
    for (int attempt = 0;; ++attempt) {
        auto loaded = first_contact(rt.set, bg, limit);
        if (!loaded || loaded->error) {
            log::error("store.unavailable", "cannot reach Redis at start-up",
                       {{"redis", url->redacted()},
                        {"error", loaded ? loaded->error.message() : "timed out"}});
            return std::nullopt;
        }
        if (loaded->state && (!loaded->state->keys.empty() || loaded->state->router_json)) {
            config::diagnostics diag;
            if (!admin::apply_stored_state(*loaded->state, cfg, diag)) {
                for (const auto& e : diag.errors)
                    log::error("store.invalid", "keys or router in Redis: " + e);
                return std::nullopt;
            }
            rt.shared_version = loaded->state->version;
            log::info("store.bootstrap",
                      "keys and router loaded from Redis (they win over the file)",
                      {{"keys", std::to_string(cfg.virtual_keys.size())},
                       {"version", std::to_string(loaded->state->version)}});
            break;
        }
        const std::uint64_t expected = loaded->state ? loaded->state->version : 0;
        auto saved = run_now(
            bg, rt.set.control->save(admin::stored_state(cfg.virtual_keys, cfg.router), expected),
            limit);
        if (saved && saved->error == store::control_conflict() && attempt < 3)
            continue;
        if (!saved || saved->error) {
            log::error("store.unavailable", "cannot write keys and router to Redis",
                       {{"error", saved ? saved->error.message() : "timed out"}});
            return std::nullopt;
        }
        rt.shared_version = saved->version;
        log::info("store.bootstrap", "keys and router written to Redis",
                  {{"keys", std::to_string(cfg.virtual_keys.size())}});
        break;
    }
    // Redis answers: the key layout it holds must be this replica's (docs/redis.md).
    if (rt.set.claim) {
        auto problem = run_now(bg, rt.set.claim(), limit);
        if (!problem || *problem) {
            log::error("store.layout",
                       problem ? **problem : "cannot read the key layout: timed out",
                       {{"redis", url->redacted()}});
            return std::nullopt;
        }
    }
    rt.keys = std::make_shared<middleware::live_keys>(nullptr);

    // docs/redis.md, "Failure modes": limits degrade to per replica, settlements wait for Redis to
    // come back.
    rt.set.limits =
        with_local_fallback(rt.set.limits, std::make_shared<store::memory_rate_limiter>());
    with_write_retry(rt.set, bg.executor());
    bg.start_reaper(rt.set.budgets, std::chrono::seconds(o.reservation_lease_secs));
    log::info("store.redis", "using Redis",
              {{"redis", url->redacted()}, {"prefix", o.redis_prefix}});
    return rt;
}

}  // namespace ditto::app
