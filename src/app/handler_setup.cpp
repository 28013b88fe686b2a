#include "handler_setup.hpp"

#include <algorithm>
#include <atomic>

#include "admin_setup.hpp"
#include "ditto/access/identity_provider.hpp"
#include "ditto/config/load.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/log/log.hpp"
#include "ditto/middleware/builtin.hpp"
#include "ditto/middleware/jwt_clients.hpp"
#include "ditto/proxy/proxy.hpp"
#include "ditto/store/memory/memory_dedup_store.hpp"
#include "store_gauges.hpp"

namespace ditto::app {
namespace {

middleware::budget_options budget_options_of(const config::cli_options& options,
                                             const startup_config& sc) {
    middleware::budget_options bo;
    bo.pricing = sc.pricing;
    bo.fail_open = options.redis_failure_mode == "open";
    for (const auto& b : sc.cfg.backends) {
        if (!b.model_map.empty())
            bo.model_maps[b.name] = b.model_map;
    }
    return bo;
}

std::shared_ptr<metrics::prometheus> make_prometheus(
    const config::cli_options& options, const std::shared_ptr<const observe::redactor>& redact,
    unsigned workers) {
    if (!options.prometheus)
        return nullptr;
    metrics::series_caps caps;
    caps.key = options.prometheus_max_key_series;
    caps.model = options.prometheus_max_model_series;
    caps.backend = options.prometheus_max_backend_series;
    caps.path = options.prometheus_max_path_series;
    return std::make_shared<metrics::prometheus>(
        caps, [redact](std::string_view v) { return redact->redact_text(v); }, workers + 1);
}

// `GET /metrics/prometheus`: the series plus the gauges read at scrape time.
std::function<std::string()> prometheus_text(std::shared_ptr<metrics::prometheus> prom,
                                             std::shared_ptr<proxy::upstreams> ups,
                                             std::shared_ptr<cache::response_cache> cache,
                                             std::shared_ptr<trace::otlp_exporter> traces,
                                             std::shared_ptr<proxy::backend_health> health,
                                             std::shared_ptr<store_gauges> gauges,
                                             std::shared_ptr<middleware::live_keys> keys) {
    return [prom, ups, cache, traces, health, gauges, keys] {
        metrics::scrape_sources src;
        for (const auto& b : ups->backends().all()) {
            src.backend_in_flight.emplace_back(b->name(), b->in_flight());
            src.backend_connections_desynced.emplace_back(b->name(), b->desyncs());
        }
        if (cache) {
            const auto& st = cache->stats();
            src.cache_stores_memory = st.stores_memory.load();
            src.cache_stores_redis = st.stores_redis.load();
            src.cache_store_errors_redis = st.store_errors_redis.load();
            src.cache_purges_all = st.purges_all.load();
            src.cache_purges_key = st.purges_key.load();
            src.cache_purges_selector = st.purges_selector.load();
        }
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        for (const auto& v : health->snapshot()) {
            const bool ejected = v.unhealthy_until_ms > now_ms;
            src.backends.push_back(
                {v.backend, !ejected && v.health_check_healthy.value_or(true), ejected});
        }
        gauges->read(src);
        if (const auto snap = keys->load()) {  // docs/routing.md, "Canary"
            const auto& canary = snap->router().canary;
            const double share = canary ? canary->percent : 0.0;
            src.router_versions.emplace_back(snap->router_version(), "stable", 100.0 - share);
            if (canary)
                src.router_versions.emplace_back(snap->canary_version(), "canary", share);
        }
        if (traces) {
            const auto st = traces->stats();
            src.tracing = true;
            src.trace_spans_exported = st.exported;
            src.trace_spans_dropped_full = st.dropped_full;
            src.trace_spans_dropped_failed = st.dropped_failed;
        }
        return prom->render(src);
    };
}

// docs/proxy.md, "Retries with x-request-id": with Redis, every replica's records, and this
// replica's while Redis is down.
std::shared_ptr<middleware::middleware> make_dedup_step(const config::cli_options& options,
                                                        const store::store_set& set,
                                                        std::shared_ptr<proxy::upstreams> ups) {
    if (options.proxy_replay_ttl_secs == 0)
        return nullptr;
    middleware::dedup_options o;
    o.retention = std::chrono::seconds(options.proxy_replay_ttl_secs);
    // A record is kept whole in the store (Redis, or 64 MiB of this replica's memory): at most
    // 8 MiB, so one never evicts the memory store's others wholesale or stalls Redis.
    o.max_record_bytes = std::min<std::uint64_t>(options.proxy_max_body_bytes, 8ULL << 20);
    o.key_headers = options.proxy_cache.key_headers;
    // A retry waits as long as its own request could wait for an answer's head.
    o.wait_bound = [ups](const std::vector<std::string>& candidates) {
        std::chrono::milliseconds bound{0};
        for (const auto& name : candidates) {
            if (const auto* b = ups->find(name))
                bound = std::max({bound, b->timeout(), b->max_response()});
        }
        return bound.count() == 0 ? std::chrono::milliseconds(300'000) : bound;
    };
    const bool shared = set.name == "redis";
    return middleware::make_dedup(
        shared ? set.dedup : nullptr,
        shared ? std::make_shared<store::memory_dedup_store>() : set.dedup, std::move(o));
}

// What the proxy chains' steps are made of.
struct chain_inputs {
    std::shared_ptr<proxy::upstreams> ups;
    std::shared_ptr<proxy::backend_health> health;
    middleware::candidate_filter filter;
    std::shared_ptr<metrics::counters> counters;
    std::shared_ptr<metrics::prometheus> prom;
    std::shared_ptr<cache::response_cache> cache;
    middleware::budget_options budget;
    proxy::proxy_options proxy;
    std::shared_ptr<trace::otlp_exporter> traces;
    double trace_rate = 1.0;
    std::shared_ptr<middleware::jwt_clients> jwt_clients;  ///< access.clients; null without
};

// --otel-endpoint (docs/observability.md, "Tracing"): the exporter, started; null when off.
// A header value may name a secret; an unusable URL or secret stops start-up.
std::optional<std::shared_ptr<trace::otlp_exporter>> make_tracing(
    const config::cli_options& options, const startup_config& sc, background& bg) {
    if (!options.otel_endpoint)
        return std::shared_ptr<trace::otlp_exporter>{};
    trace::exporter_options o;
    o.endpoint = *options.otel_endpoint;
    o.resource.service_name = options.otel_service_name;
    o.resource.service_version = config::gateway_version();
    o.resource.instance_id = trace::hex(trace::random_trace_id());
    for (const auto& h : options.otel_headers) {
        const auto eq = h.find('=');
        std::string error;
        auto value = config::expand_value(h.substr(eq + 1), sc.env, "--otel-header", error);
        if (!value) {
            log::error("config.error", error);
            return std::nullopt;
        }
        if (!core::is_http_token(h.substr(0, eq)) || !core::is_http_field_value(*value)) {
            log::error("config.error",
                       "--otel-header: not a valid header name and value (the "
                       "value is not shown)");
            return std::nullopt;
        }
        o.headers.emplace_back(core::to_lower(h.substr(0, eq)), std::move(*value));
    }
    try {
        auto e = std::make_shared<trace::otlp_exporter>(std::move(o), bg.executor());
        e->start();
        return e;
    } catch (const std::exception& e) {
        log::error("config.error", e.what());
        return std::nullopt;
    }
}

// Two chains of the same step objects: the dialect front doors' (docs/dialects.md) has three
// steps more, which a chat request would only pass through (a coroutine frame each).
void add_chains(const config::cli_options& options, const store_runtime& store, chain_inputs in,
                background& bg, app_handler::parts& parts) {
    const auto& ups = in.ups;
    const auto& counters = in.counters;
    const auto& audit = store.set.audit;
    auto in_flight = std::make_shared<std::atomic<std::uint64_t>>(0);
    const auto request_id = middleware::make_request_id();
    const auto observe = middleware::make_observe(in.prom, in.traces, in.trace_rate);
    const auto read_body =
        middleware::make_read_body({options.proxy_max_body_bytes, options.proxy_max_in_flight,
                                    options.default_max_output_tokens},
                                   in_flight);
    const auto settle = middleware::make_settle(bg.executor(), options.proxy_usage_max_body_bytes);
    const auto auth = middleware::make_auth(store.keys, in.jwt_clients);
    const auto cost_policy = middleware::make_cost_policy();
    const auto guardrails = middleware::make_guardrails(counters);
    const auto route = middleware::make_route(std::move(in.filter));
    const auto dedup = make_dedup_step(options, store.set, ups);
    const auto cache_step = in.cache ? middleware::make_cache(in.cache, counters) : nullptr;
    const auto admit =
        middleware::make_admit(std::move(in.budget), store.set.governance, audit, counters);
    const auto proxy_step = proxy::make_proxy(ups, in.health, audit, counters, in.proxy);
    const auto build_chain = [&](bool dialects) {
        auto c = std::make_shared<middleware::chain>();
        c->add(request_id).add(observe);
        if (dialects)
            c->add(middleware::make_dialect_errors());
        c->add(read_body).add(settle).add(auth);
        if (dialects)
            c->add(middleware::make_gemini_request(options.default_max_output_tokens));
        c->add(cost_policy).add(guardrails).add(route);
        if (dialects)
            c->add(proxy::make_translation_check(ups));
        if (dedup)
            c->add(dedup);
        if (cache_step)
            c->add(cache_step);
        c->add(admit).add(proxy_step);
        return c;
    };
    parts.proxy_chain = build_chain(false);
    parts.dialect_chain = build_chain(true);
    parts.models_chain = std::make_shared<middleware::chain>();
    parts.models_chain->add(middleware::make_request_id())
        .add(middleware::make_auth(store.keys, in.jwt_clients))
        .add(proxy::make_models(ups));
}

}  // namespace

std::optional<request_handling> build_request_handling(
    const config::cli_options& options, const startup_config& sc, const store_runtime& store,
    std::shared_ptr<admin::control_plane> control, admin::admin_tokens tokens, background& bg) {
    const auto workers = sc.server.workers;
    chain_inputs in;
    in.counters = std::make_shared<metrics::counters>();
    try {
        in.ups = std::make_shared<proxy::upstreams>(sc.cfg.backends, workers);
    } catch (const std::exception& e) {
        log::error("config.error", e.what());
        return std::nullopt;
    }
    in.budget = budget_options_of(options, sc);
    // Small known-length answers are read whole and sent in one write; at least 64 KiB
    // even when usage parsing is off (--proxy-usage-max-body-bytes 0).
    in.proxy.buffer_limit = std::max<std::uint64_t>(options.proxy_usage_max_body_bytes, 64 * 1024);
    in.proxy.usage_max_body_bytes = options.proxy_usage_max_body_bytes;
    in.proxy.redactor = sc.redact;  // the one the store's audit log applies
    if (options.proxy_cache.enabled) {
        in.cache = std::make_shared<cache::response_cache>(options.proxy_cache, store.set.cache);
        // Answers that may be stored are read whole when their length is known.
        in.proxy.buffer_limit = std::max(in.proxy.buffer_limit, options.proxy_cache.max_body_bytes);
    }
    in.prom = make_prometheus(options, sc.redact, workers);
    in.proxy.prometheus = in.prom;

    request_handling out;
    auto traces = make_tracing(options, sc, bg);
    if (!traces)
        return std::nullopt;
    out.traces = *traces;
    in.traces = out.traces;
    in.trace_rate = sc.cfg.observability.sampling.traces_rate;
    app_handler::parts parts;
    parts.counters = in.counters;
    parts.upstreams = in.ups;
    parts.store_health = store.set.health;
    // Per-backend health shared by the workers; the checks run in the background.
    std::vector<std::string> backend_names;
    for (const auto& b : sc.cfg.backends)
        backend_names.push_back(b.name);
    in.health = std::make_shared<proxy::backend_health>(backend_names, options.routing);
    if (options.routing.health.enabled) {
        out.checker = std::make_shared<proxy::health_checker>(in.ups, in.health, bg.executor());
        out.checker->start();
    }
    if (in.health->filtering()) {
        in.filter = [health = in.health](std::vector<std::string> c) {
            return health->filter(std::move(c));
        };
    }
    parts.backend_health = in.health;

    // Hot reload (SIGHUP, POST /admin/config/reload): the file owns keys and router only
    // when nothing else persists them.
    out.reload = std::make_shared<reloader>(options, sc.cfg.backends, control,
                                            !options.state_path && store.set.name != "redis");
    if (in.prom) {
        // Read every 5 s on the background thread: a scrape never waits on Redis.
        out.gauges = std::make_shared<store_gauges>(
            store.set, control, options.prometheus_max_key_series, std::chrono::seconds(5));
        out.gauges->start(bg.executor());
    }
    // docs/access.md: operators' and clients' identity providers, fetching their keys now.
    std::shared_ptr<access::identity_provider> operators;
    if (const auto& ops = sc.cfg.access.operators) {
        operators =
            std::make_shared<access::identity_provider>("operators", ops->idp, bg.executor());
        operators->start();
        out.issuers.push_back(operators);
    }
    if (const auto& clients = sc.cfg.access.clients) {
        auto idp =
            std::make_shared<access::identity_provider>("clients", clients->idp, bg.executor());
        idp->start();
        out.issuers.push_back(idp);
        in.jwt_clients = std::make_shared<middleware::jwt_clients>(*clients, std::move(idp));
    }
    parts.admin = make_admin_api(options, store.set,
                                 {std::move(tokens), std::move(control), in.cache, in.health,
                                  out.reload, std::move(operators), sc.cfg.access.operators});
    if (in.prom) {
        parts.prometheus_text = prometheus_text(in.prom, in.ups, in.cache, in.traces, in.health,
                                                out.gauges, store.keys);
    }
    add_chains(options, store, std::move(in), bg, parts);
    out.handler = std::make_shared<app_handler>(std::move(parts));
    return out;
}

}  // namespace ditto::app
