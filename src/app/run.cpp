#include "ditto/app/run.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app_handler.hpp"
#include "audit_filter.hpp"
#include "background.hpp"
#include "ditto/admin/admin_api.hpp"
#include "ditto/cache/response_cache.hpp"
#include "ditto/config/load.hpp"
#include "ditto/cost/pricing.hpp"
#include "ditto/http/server.hpp"
#include "ditto/log/log.hpp"
#include "ditto/middleware/builtin.hpp"
#include "ditto/observe/redactor.hpp"
#include "ditto/proxy/health_checker.hpp"
#include "ditto/proxy/proxy.hpp"
#include "reload.hpp"
#include "store_setup.hpp"

namespace ditto::app {
namespace {

namespace net = boost::asio;

// Reads the --dotenv file; its existence was checked by the CLI, but it may be unreadable.
bool read_dotenv(const std::string& path, std::map<std::string, std::string>& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    out = config::parse_dotenv(ss.str());
    return true;
}

std::string summary(const config::gateway_config& cfg) {
    return std::to_string(cfg.backends.size()) + " backends, " +
           std::to_string(cfg.virtual_keys.size()) + " virtual keys, " +
           std::to_string(cfg.router.rules.size()) + " router rules";
}

// Drives a graceful shutdown: the first signal starts the drain, which ends when every
// connection has closed or the drain timeout passes; a second signal ends it at once.
class shutdown_control {
  public:
    shutdown_control(net::io_context& ioc, http::server& srv, std::chrono::seconds drain)
        : signals_(ioc, SIGINT, SIGTERM), timer_(ioc), server_(srv), drain_(drain) {}

    void arm() {
        signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
            if (ec)
                return;
            on_signal(sig);
        });
    }

    /// Runs once the server stops (cancels the other signal handlers, so the control loop
    /// can end).
    void on_finish(std::function<void()> f) { on_finish_ = std::move(f); }

  private:
    void on_signal(int sig) {
        if (draining_) {
            log::warn("server.shutdown", "second signal: stopping now",
                      {{"signal", std::to_string(sig)}});
            finish();
            return;
        }
        draining_ = true;
        deadline_ = std::chrono::steady_clock::now() + drain_;
        // Draining first, then the event: whoever reads `server.drain` (an operator, a test)
        // may rely on new requests being answered as draining already.
        const auto in_flight = server_.in_flight();
        server_.begin_drain();
        log::info("server.drain", "draining",
                  {{"signal", std::to_string(sig)},
                   {"in_flight", std::to_string(in_flight)},
                   {"drain_timeout_secs", std::to_string(drain_.count())}});
        arm();
        poll();
    }

    void poll() {
        if (server_.connections() == 0) {
            finish();
            return;
        }
        if (std::chrono::steady_clock::now() >= deadline_) {
            log::warn("server.drain", "drain timeout: closing remaining connections",
                      {{"connections", std::to_string(server_.connections())}});
            finish();
            return;
        }
        timer_.expires_after(std::chrono::milliseconds(10));
        timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec)
                poll();
        });
    }

    void finish() {
        boost::system::error_code ignored;
        signals_.cancel(ignored);
        timer_.cancel();
        server_.stop();
        if (on_finish_)
            on_finish_();
    }

    std::function<void()> on_finish_;
    net::signal_set signals_;
    net::steady_timer timer_;
    http::server& server_;
    std::chrono::seconds drain_;
    bool draining_ = false;
    std::chrono::steady_clock::time_point deadline_{};
};

}  // namespace

int run(const config::cli_options& options) {
    log::level lvl = log::level::info;
    log::parse_level(options.log_level, lvl);
    log::init(lvl, options.json_logs);
    struct log_guard {
        ~log_guard() { log::shutdown(); }
    } flush_logs_at_exit;

    std::map<std::string, std::string> dotenv;
    if (options.dotenv && !read_dotenv(*options.dotenv, dotenv)) {
        log::error("config.error", "cannot read --dotenv file", {{"path", *options.dotenv}});
        return 1;
    }
    config::env_lookup env(std::move(dotenv));
    config::diagnostics diag;
    auto cfg = config::load_gateway_file(options.config_path, env, diag);

    if (options.check_config) {
        // Plain lines on stdout/stderr, not log events: this output is for a person or CI.
        for (const auto& w : diag.warnings)
            std::cerr << "warning: " << w << "\n";
        for (const auto& e : diag.errors)
            std::cerr << "error: " << e << "\n";
        if (!diag.ok()) {
            std::cerr << options.config_path << ": " << diag.errors.size()
                      << " error(s); config is invalid\n";
            return 1;
        }
        std::cout << options.config_path << ": OK (" << summary(cfg) << ")\n";
        return 0;
    }
    for (const auto& w : diag.warnings)
        log::warn("config.warning", w);
    if (!diag.ok()) {
        for (const auto& e : diag.errors)
            log::error("config.error", e);
        log::error("config.invalid", "refusing to start",
                   {{"path", options.config_path}, {"errors", std::to_string(diag.errors.size())}});
        return 1;
    }

    auto hp = config::parse_host_port(options.listen);
    http::server_options so;
    so.host = hp->host;
    so.port = hp->port;
    so.workers = options.workers;
    so.max_header_bytes = options.max_header_bytes;
    so.header_timeout = std::chrono::milliseconds(options.header_timeout_ms);
    so.idle_timeout = std::chrono::milliseconds(options.idle_timeout_ms);
    so.client_timeout = std::chrono::milliseconds(options.client_timeout_ms);

    std::shared_ptr<const cost::pricing_table> pricing;
    if (options.pricing_litellm) {
        std::string error;
        auto table = cost::pricing_table::load_file(*options.pricing_litellm, error);
        if (!table) {
            log::error("config.error", error, {{"path", *options.pricing_litellm}});
            return 1;
        }
        log::info("pricing.loaded", "pricing table loaded",
                  {{"path", *options.pricing_litellm},
                   {"models", std::to_string(table->size())},
                   {"skipped_unpriced", std::to_string(table->skipped().size())}});
        pricing = std::make_shared<const cost::pricing_table>(std::move(*table));
    }

    // Every log field, audit payload and metric label goes through the redactor
    // (docs/observability.md).
    auto redact = std::make_shared<const observe::redactor>(cfg.observability.redaction);
    log::filters lf;
    lf.redact = [redact](std::string_view name, std::string_view value) {
        return redact->redact_field(name, value);
    };
    lf.secret_name = [redact](std::string_view name) { return redact->secret_name(name); };
    lf.may_match = [redact](std::string_view joined) { return redact->may_match(joined); };
    lf.json_rate = cfg.observability.sampling.json_logs_rate;
    log::set_filters(std::move(lf));

    // Settlements of torn-down requests, the lease reaper and the store's change feed run
    // here, off the workers; it outlives the server so that shutdown settles what the
    // workers leave open.
    background bg;
    auto opened = open_store(options, cfg, env, bg);
    if (!opened)
        return 1;
    auto& store = opened->set;
    auto keys = opened->keys;
    store.audit = with_redaction(store.audit, redact, cfg.observability.sampling.audit_rate);

    std::string token_error;
    auto admin_tokens = admin::resolve_admin_tokens(options, env, token_error);
    if (!admin_tokens) {
        log::error("config.error", token_error);
        if (store.close)
            store.close();
        return 1;
    }
    // Admin changes and other replicas' changes go through the control plane, one at a time
    // on the background thread (docs/admin-api.md).
    admin::control_plane::options cpo;
    const auto config_summary = summary(cfg);  // before the keys move out of cfg
    // The keys move to the control plane (no copy of a million keys); the rest stays here.
    auto file_keys = std::move(cfg.virtual_keys);
    cpo.base = cfg;
    cpo.base.virtual_keys = std::move(file_keys);
    cpo.live = keys;
    if (store.name == "redis")
        cpo.shared = store.control;
    cpo.shared_version = opened->shared_version;
    if (options.state_path)
        cpo.state_file = *options.state_path;
    cpo.audit = store.audit;
    cpo.writer = bg.executor();
    auto control_plane = std::make_shared<admin::control_plane>(std::move(cpo));
    control_plane->start();

    auto counters = std::make_shared<metrics::counters>();
    std::shared_ptr<proxy::upstreams> ups;
    try {
        ups = std::make_shared<proxy::upstreams>(cfg.backends, so.workers);
    } catch (const std::exception& e) {
        log::error("config.error", e.what());
        return 1;
    }
    middleware::budget_options bo;
    bo.pricing = pricing;
    bo.fail_open = options.redis_failure_mode == "open";
    for (const auto& b : cfg.backends) {
        if (!b.model_map.empty())
            bo.model_maps[b.name] = b.model_map;
    }
    auto in_flight = std::make_shared<std::atomic<std::uint64_t>>(0);
    proxy::proxy_options po;
    // Small known-length answers are read whole and sent in one write; at least 64 KiB
    // even when usage parsing is off (--proxy-usage-max-body-bytes 0).
    po.buffer_limit = std::max<std::uint64_t>(options.proxy_usage_max_body_bytes, 64 * 1024);
    po.usage_max_body_bytes = options.proxy_usage_max_body_bytes;
    po.redactor = redact;  // the one store.audit applies (with_redaction above)

    std::shared_ptr<cache::response_cache> cache;
    if (options.proxy_cache.enabled) {
        cache = std::make_shared<cache::response_cache>(options.proxy_cache, store.cache);
        // Answers that may be stored are read whole when their length is known (docs/proxy.md,
        // "What comes back").
        po.buffer_limit = std::max(po.buffer_limit, options.proxy_cache.max_body_bytes);
    }

    std::shared_ptr<metrics::prometheus> prom;
    if (options.prometheus) {
        metrics::series_caps caps;
        caps.key = options.prometheus_max_key_series;
        caps.model = options.prometheus_max_model_series;
        caps.backend = options.prometheus_max_backend_series;
        caps.path = options.prometheus_max_path_series;
        prom = std::make_shared<metrics::prometheus>(
            caps, [redact](std::string_view v) { return redact->redact_text(v); }, so.workers + 1);
        po.prometheus = prom;
    }

    app_handler::parts parts;
    parts.counters = counters;
    parts.upstreams = ups;
    parts.store_health = store.health;
    // Per-backend health (docs/routing.md) shared by the workers; the checks run in the background.
    std::vector<std::string> backend_names;
    for (const auto& b : cfg.backends)
        backend_names.push_back(b.name);
    auto health = std::make_shared<proxy::backend_health>(backend_names, options.routing);
    std::shared_ptr<proxy::health_checker> checker;
    if (options.routing.health.enabled) {
        checker = std::make_shared<proxy::health_checker>(ups, health, bg.executor());
        checker->start();
    }
    middleware::candidate_filter filter;
    if (health->filtering())
        filter = [health](std::vector<std::string> c) { return health->filter(std::move(c)); };
    parts.backend_health = health;

    // Hot reload (SIGHUP, POST /admin/config/reload): the file owns keys and router only
    // when nothing else persists them.
    auto reload = std::make_shared<reloader>(options, cfg.backends, control_plane,
                                             !options.state_path && store.name != "redis");

    admin::parts ap;
    ap.reload = [reload] { return reload_json(reload, "admin"); };
    if (options.routing.configured) {
        ap.backends = [health] {
            std::string out = "[";
            for (const auto& v : health->snapshot())
                out += (out.size() > 1 ? "," : "") + v.to_json();
            return out + "]";
        };
        ap.reset_backend = [health](const std::string& name) {
            return health->reset(name).to_json();
        };
    }
    ap.tokens = std::move(*admin_tokens);
    ap.control = control_plane;
    ap.cache = cache;
    ap.store = store;
    parts.admin = std::make_shared<admin::admin_api>(std::move(ap));
    if (prom) {
        parts.prometheus_text = [prom, ups, cache] {
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
            return prom->render(src);
        };
    }
    // Two chains of the same step objects: the dialect front doors' (docs/dialects.md) has
    // three steps more, which a chat request would only pass through (a coroutine frame each).
    const auto request_id = middleware::make_request_id();
    const auto observe = middleware::make_observe(prom);
    const auto read_body =
        middleware::make_read_body({options.proxy_max_body_bytes, options.proxy_max_in_flight,
                                    options.default_max_output_tokens},
                                   in_flight);
    const auto settle = middleware::make_settle(bg.executor(), options.proxy_usage_max_body_bytes);
    const auto auth = middleware::make_auth(keys);
    const auto cost_policy = middleware::make_cost_policy();
    const auto guardrails = middleware::make_guardrails(counters);
    const auto route = middleware::make_route(filter);
    const auto rate_limit = middleware::make_rate_limit(store.limits, counters);
    const auto cache_step = cache ? middleware::make_cache(cache, counters) : nullptr;
    const auto budget =
        middleware::make_budget(std::move(bo), store.budgets, store.audit, counters);
    const auto proxy_step = proxy::make_proxy(ups, health, store.audit, counters, po);
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
        c->add(rate_limit);
        if (cache_step)
            c->add(cache_step);
        c->add(budget).add(proxy_step);
        return c;
    };
    parts.proxy_chain = build_chain(false);
    parts.dialect_chain = build_chain(true);
    parts.models_chain = std::make_shared<middleware::chain>();
    parts.models_chain->add(middleware::make_request_id())
        .add(middleware::make_auth(keys))
        .add(proxy::make_models(ups));
    auto handler = std::make_shared<app_handler>(std::move(parts));
    auto server_ptr = std::make_unique<http::server>(so, handler);
    http::server& server = *server_ptr;

    // The signal handlers are installed before the workers start, so a signal that arrives
    // during start-up is handled as a shutdown request rather than killing the process.
    net::io_context control;
    shutdown_control shutdown(control, server, std::chrono::seconds(options.drain_timeout_secs));
    shutdown.arm();
    net::signal_set hangup(control, SIGHUP);
    std::function<void()> arm_hangup = [&] {
        hangup.async_wait([&, reload](const boost::system::error_code& ec, int) {
            if (ec)
                return;
            log::info("config.reload", "SIGHUP: re-reading the config file",
                      {{"path", options.config_path}});
            net::co_spawn(bg.executor(), reload_json(reload, "SIGHUP"), net::detached);
            arm_hangup();
        });
    };
    arm_hangup();
    shutdown.on_finish([&hangup] {
        boost::system::error_code ignored;
        hangup.cancel(ignored);
    });
    try {
        server.start();
    } catch (const std::exception& e) {
        log::error("server.error",
                   std::string("cannot listen on ") + options.listen + ": " + e.what());
        return 1;
    }
    log::info("server.listening",
              "listening on http://" +
                  (so.host.find(':') != std::string::npos ? "[" + so.host + "]" : so.host) + ":" +
                  std::to_string(server.port()),
              {{"workers", std::to_string(so.workers)}, {"config", config_summary}});
    bg.start_memory_trim(
        [&server] { return std::pair(server.connections(), server.take_peak_connections()); },
        [&server] { server.on_each_worker(release_free_memory); });
    control.run();
    // The workers are stopped but their event loops still exist: close the store's
    // connections on them now (a connection must go before its event loop).
    if (checker)
        checker->stop();
    if (store.close)
        store.close();
    // Destroying the server destroys what its workers left unfinished; their settlements
    // move to the background executor (which opens its own connection if it needs one)
    // and are finished before the process exits.
    bg.stop_memory_trim();
    // An admin change still running on the background thread holds its caller's coroutine
    // and event loop until it posts the answer there; the loops go with the server, so it
    // waits for that first (a change is bounded by the store's deadlines).
    if (!control_plane->wait_idle(std::chrono::seconds(30)))
        log::warn("admin.change_abandoned", "an admin change was still running at exit");
    server_ptr.reset();
    bg.stop();
    log::info("server.stopped", "stopped");
    return 0;
}

}  // namespace ditto::app
