#include "ditto/config/cli.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "ditto/core/strings.hpp"

#ifndef DITTO_VERSION
#define DITTO_VERSION "0.1.0"
#endif

namespace ditto::config {
namespace {

// The original gateway's flags we do not support (docs/cli.md): named so that users get a reason,
// not "unknown flag".
constexpr std::array<std::string_view, 8> unsupported_flags = {
    "--sqlite",    "--pg",      "--postgres", "--mysql",
    "--db-doctor", "--backend", "--upstream", "--devtools"};

cli_result usage_error(const std::string& message) {
    cli_result r;
    r.exit = true;
    r.exit_code = 2;
    r.output = "error: " + message + "\nRun 'ditto-gateway --help' for usage.\n";
    return r;
}

std::string flag_name(std::string_view arg) {
    auto eq = arg.find('=');
    return std::string(eq == std::string_view::npos ? arg : arg.substr(0, eq));
}

// docs/cli.md: entries trimmed, empties skipped, then sorted and deduplicated; an empty list
// or a value that is not a u16 is an error.
std::optional<std::vector<unsigned>> parse_status_codes(const std::string& text) {
    std::vector<unsigned> out;
    std::size_t at = 0;
    while (at <= text.size()) {
        auto comma = text.find(',', at);
        if (comma == std::string::npos)
            comma = text.size();
        const auto item = core::trim(std::string_view(text).substr(at, comma - at));
        at = comma + 1;
        if (item.empty())
            continue;
        unsigned long v = 0;
        for (char c : item) {
            if (c < '0' || c > '9' || v > 65535)
                return std::nullopt;
            v = v * 10 + static_cast<unsigned long>(c - '0');
        }
        if (v > 65535)
            return std::nullopt;
        out.push_back(static_cast<unsigned>(v));
    }
    if (out.empty())
        return std::nullopt;
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace

std::optional<host_port> parse_host_port(const std::string& text) {
    host_port hp;
    std::string port_text;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return std::nullopt;
        }
        hp.host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string::npos)
            return std::nullopt;
        hp.host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (hp.host.find(':') != std::string::npos)
            return std::nullopt;  // v6 needs [ ]
    }
    if (hp.host.empty() || port_text.empty() || port_text.size() > 5)
        return std::nullopt;
    unsigned long port = 0;
    for (char c : port_text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        port = port * 10 + static_cast<unsigned long>(c - '0');
    }
    if (port > 65535)
        return std::nullopt;
    hp.port = static_cast<std::uint16_t>(port);
    return hp;
}

cli_result parse_cli(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string name = flag_name(argv[i]);
        for (auto flag : unsupported_flags) {
            if (name == flag) {
                return usage_error(name + " is not supported by this gateway (docs/cli.md)");
            }
        }
        // The original's --otel* flags; ours (docs/observability.md, "Tracing") are three.
        if (name.rfind("--otel", 0) == 0 && name != "--otel-endpoint" &&
            name != "--otel-service-name" && name != "--otel-header") {
            return usage_error(name + " is not supported by this gateway (docs/cli.md)");
        }
    }

    cli_options o;
    CLI::App app{"ditto-gateway: a self-hosted OpenAI-compatible LLM API gateway", "ditto-gateway"};
    app.get_formatter()->column_width(40);
    bool version = false;
    // CLI11 would wrap "-5" into a huge unsigned value; refuse the sign before converting.
    const CLI::Validator unsigned_only(
        [](std::string& s) {
            return s.starts_with('-') ? std::string("must not be negative") : "";
        },
        "UINT");
    const auto positive =
        unsigned_only & CLI::Range(std::uint64_t{1}, std::numeric_limits<std::uint64_t>::max());
    app.add_option("config", o.config_path, "gateway.json (default: ./gateway.json)");
    app.add_option("--listen,--addr", o.listen, "HOST:PORT to listen on")->default_str(o.listen);
    app.add_option("--dotenv", o.dotenv, "dotenv file read before the process environment")
        ->check(CLI::ExistingFile);
    app.add_option("--workers", o.workers, "worker threads (default: number of cores)")
        ->check(unsigned_only & CLI::Range(1u, 1024u));
    app.add_option("--log-level", o.log_level, "trace|debug|info|warn|error|off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
        ->default_str(o.log_level);
    app.add_flag("--json-logs", o.json_logs, "one JSON object per log line on stderr");
    app.add_flag("--check-config", o.check_config, "validate the config, print the result, exit");
    app.add_flag("--version", version, "print the version and exit");

    app.add_option("--proxy-max-in-flight", o.proxy_max_in_flight, "max concurrent /v1/* requests")
        ->check(positive)
        ->default_str(std::to_string(o.proxy_max_in_flight));
    app.add_option("--proxy-max-body-bytes", o.proxy_max_body_bytes,
                   "max request body; larger -> 413")
        ->check(positive)
        ->default_str(std::to_string(o.proxy_max_body_bytes));
    app.add_option("--proxy-usage-max-body-bytes", o.proxy_usage_max_body_bytes,
                   "max response buffered for usage parsing; 0 disables")
        ->check(unsigned_only)
        ->default_str(std::to_string(o.proxy_usage_max_body_bytes));
    // At most a year: the retention goes to Redis in milliseconds, and to the memory store as a
    // steady_clock deadline; both overflow long before the uint64 a user could type.
    app.add_option("--proxy-replay-ttl", o.proxy_replay_ttl_secs,
                   "seconds an answer to a request with x-request-id is replayed; 0 disables")
        ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{31'536'000}))
        ->default_str(std::to_string(o.proxy_replay_ttl_secs));
    app.add_option("--default-max-output-tokens", o.default_max_output_tokens,
                   "tokens charged for the output of a request that sets no max tokens")
        ->check(unsigned_only)
        ->default_str(std::to_string(o.default_max_output_tokens));
    app.add_flag("--proxy-cache", o.proxy_cache.enabled, "cache /v1/* answers (docs/caching.md)");
    const std::array<std::pair<const char*, std::uint64_t*>, 5> cache_sizes = {{
        {"--proxy-cache-ttl", &o.proxy_cache.ttl_seconds},
        {"--proxy-cache-max-entries", &o.proxy_cache.max_entries},
        {"--proxy-cache-max-body-bytes", &o.proxy_cache.max_body_bytes},
        {"--proxy-cache-max-total-body-bytes", &o.proxy_cache.max_total_body_bytes},
        {"--proxy-cache-max-stream-body-bytes", &o.proxy_cache.max_stream_body_bytes},
    }};
    std::vector<CLI::Option*> cache_flags;
    for (const auto& [name, target] : cache_sizes) {
        cache_flags.push_back(app.add_option(name, *target, "proxy cache (docs/caching.md)")
                                  ->check(unsigned_only)
                                  ->default_str(std::to_string(*target)));
    }
    cache_flags.push_back(app.add_flag("--proxy-cache-streaming", o.proxy_cache.streaming,
                                       "also cache completed SSE streams"));
    cache_flags.push_back(app.add_option("--proxy-cache-wait-ms", o.proxy_cache.wait_ms,
                                         "how long identical misses wait for the first one")
                              ->check(unsigned_only)
                              ->default_str(std::to_string(o.proxy_cache.wait_ms)));
    cache_flags.push_back(app.add_option("--proxy-cache-key-header", o.proxy_cache.key_headers,
                                         "a header that varies the cache key (repeatable)"));
    app.add_option("--admin-token", o.admin_token, "Admin API write token (or secret://…)")
        ->excludes(app.add_option("--admin-token-env", o.admin_token_env,
                                  "variable holding the Admin API write token"));
    app.add_option("--admin-read-token", o.admin_read_token, "Admin API read-only token")
        ->excludes(app.add_option("--admin-read-token-env", o.admin_read_token_env,
                                  "variable holding the Admin API read-only token"));
    const std::array<std::pair<const char*, std::vector<std::string>*>, 4> tenant_flags = {{
        {"--admin-tenant-token", &o.admin_tenant_tokens},
        {"--admin-tenant-token-env", &o.admin_tenant_token_envs},
        {"--admin-tenant-read-token", &o.admin_tenant_read_tokens},
        {"--admin-tenant-read-token-env", &o.admin_tenant_read_token_envs},
    }};
    for (const auto& [name, target] : tenant_flags)
        app.add_option(name, *target, "TENANT=… Admin API token for one tenant (repeatable)");
    auto* state = app.add_option("--state", o.state_path,
                                 "persist keys and router to this JSON file (single instance)");
    app.add_flag("--prometheus-metrics", o.prometheus, "serve GET /metrics/prometheus");
    std::vector<CLI::Option*> series_flags;
    const std::array<std::pair<const char*, std::uint64_t*>, 4> series = {{
        {"--prometheus-max-key-series", &o.prometheus_max_key_series},
        {"--prometheus-max-model-series", &o.prometheus_max_model_series},
        {"--prometheus-max-backend-series", &o.prometheus_max_backend_series},
        {"--prometheus-max-path-series", &o.prometheus_max_path_series},
    }};
    for (const auto& [name, target] : series) {
        series_flags.push_back(app.add_option(name, *target, "label values kept per family")
                                   ->check(positive)
                                   ->default_str(std::to_string(*target)));
    }
    // Routing (docs/cli.md, docs/routing.md): code lists and actions are converted after parsing.
    auto& rt = o.routing;
    std::optional<std::string> retry_codes, fallback_codes, cb_codes;
    std::string network_action = "fallback", timeout_action = "fallback";
    unsigned max_attempts = 0;
    const auto action = CLI::IsMember({"none", "fallback", "retry"});
    std::vector<CLI::Option*> retry_flags{
        app.add_flag("--proxy-retry", rt.retry.enabled, "retry statuses on the next backend"),
        app.add_option("--proxy-retry-status-codes", retry_codes, "C,C,…: statuses retried"),
        app.add_option("--proxy-retry-max-attempts", max_attempts, "attempts per request (0: all)")
            ->check(unsigned_only)};
    std::vector<CLI::Option*> other_routing{
        app.add_option("--proxy-fallback-status-codes", fallback_codes,
                       "C,C,…: statuses that fall back (without enabling retry)"),
        app.add_option("--proxy-network-error-action", network_action, "none|fallback|retry")
            ->check(action),
        app.add_option("--proxy-timeout-error-action", timeout_action, "none|fallback|retry")
            ->check(action)};
    std::vector<CLI::Option*> cb_flags{
        app.add_flag("--proxy-circuit-breaker", rt.breaker.enabled, "eject failing backends"),
        app.add_option("--proxy-cb-failure-threshold", rt.breaker.failure_threshold,
                       "consecutive failures that open the breaker")
            ->check(positive),
        app.add_option("--proxy-cb-cooldown-secs", rt.breaker.cooldown_seconds,
                       "how long an ejected backend is skipped")
            ->check(unsigned_only),
        app.add_option("--proxy-cb-failure-status-codes", cb_codes,
                       "C,C,…: statuses counted as failures"),
        app.add_flag("--proxy-cb-no-network-errors{false}", rt.breaker.count_network_errors,
                     "do not count network errors"),
        app.add_flag("--proxy-cb-no-timeout-errors{false}", rt.breaker.count_timeout_errors,
                     "do not count timeouts"),
        app.add_flag("--proxy-cb-no-server-errors{false}", rt.breaker.count_server_errors,
                     "do not count 5xx answers")};
    std::vector<CLI::Option*> hc_flags{
        app.add_flag("--proxy-health-checks", rt.health.enabled, "probe backends actively"),
        app.add_option("--proxy-health-check-path", rt.health.path, "path probed (GET)"),
        app.add_option("--proxy-health-check-interval-secs", rt.health.interval_seconds,
                       "seconds between rounds")
            ->check(positive),
        app.add_option("--proxy-health-check-timeout-secs", rt.health.timeout_seconds,
                       "deadline of one probe")
            ->check(positive)};
    auto* redis = app.add_option("--redis", o.redis_url,
                                 "redis[s]://[user:pass@]host:port/db, or secret://…");
    auto* redis_env =
        app.add_option("--redis-env", o.redis_env, "environment variable holding the Redis URL");
    redis->excludes(redis_env);
    auto* prefix = app.add_option("--redis-prefix", o.redis_prefix, "key prefix in Redis")
                       ->default_str(o.redis_prefix);
    app.add_option("--redis-timeout-ms", o.redis_timeout_ms, "deadline of each Redis command")
        ->check(positive)
        ->default_str(std::to_string(o.redis_timeout_ms));
    auto* failure = app.add_option("--redis-failure-mode", o.redis_failure_mode,
                                   "budgets while Redis is down: closed (503) or open (admit)")
                        ->check(CLI::IsMember({"open", "closed"}))
                        ->default_str(o.redis_failure_mode);
    auto* layout = app.add_option("--redis-layout", o.redis_layout,
                                  "Redis key layout: 1, or 2 (two script calls per request)")
                       ->check(CLI::IsMember({1u, 2u}))
                       ->default_str(std::to_string(o.redis_layout));
    auto* migrate = app.add_flag("--redis-migrate", o.redis_migrate,
                                 "move a prefix of key layout 1 to layout 2 at start-up");
    const std::vector<CLI::Option*> redis_tls{
        app.add_option("--redis-tls-ca", o.redis_tls_ca,
                       "PEM CA bundle that signs Redis' certificate")
            ->check(CLI::ExistingFile),
        app.add_option("--redis-tls-cert", o.redis_tls_cert, "client certificate for Redis (mTLS)")
            ->check(CLI::ExistingFile),
        app.add_option("--redis-tls-key", o.redis_tls_key, "private key of --redis-tls-cert")
            ->check(CLI::ExistingFile),
        app.add_flag("--redis-tls-insecure-skip-verify", o.redis_tls_insecure_skip_verify,
                     "do not verify Redis' certificate (test rigs only)")};
    app.add_option("--audit-retention-secs", o.audit_retention_secs,
                   "how long Redis keeps audit records; 0 keeps them")
        ->check(unsigned_only)
        ->default_str(std::to_string(o.audit_retention_secs));
    app.add_option("--spend-retention-days", o.spend_retention_days,
                   "how long the hourly spend buckets are kept (GET /admin/spend)")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{3650}))
        ->default_str(std::to_string(o.spend_retention_days));
    app.add_option("--pricing-litellm", o.pricing_litellm,
                   "LiteLLM pricing JSON (model_prices_and_context_window.json) for cost budgets")
        ->check(CLI::ExistingFile);
    app.add_option("--reservation-lease-secs", o.reservation_lease_secs,
                   "budget reservations still open after this long are released")
        ->check(positive)
        ->default_str(std::to_string(o.reservation_lease_secs));
    auto* otel_endpoint = app.add_option(
        "--otel-endpoint", o.otel_endpoint,
        "export spans as OTLP/HTTP JSON to this collector URL (no path: /v1/traces)");
    auto* otel_name = app.add_option("--otel-service-name", o.otel_service_name,
                                     "service.name of the exported spans")
                          ->default_str(o.otel_service_name);
    auto* otel_header = app.add_option(
        "--otel-header", o.otel_headers,
        "NAME=VALUE header sent with every export (repeatable; VALUE may be secret://…)");
    app.add_option("--max-header-bytes", o.max_header_bytes, "max request head size; larger -> 431")
        ->check(unsigned_only & CLI::Range(std::uint64_t{1024}, std::uint64_t{1024} * 1024))
        ->default_str(std::to_string(o.max_header_bytes));
    app.add_option("--header-timeout-ms", o.header_timeout_ms,
                   "deadline for a request head, from its first byte")
        ->check(positive)
        ->default_str(std::to_string(o.header_timeout_ms));
    app.add_option("--idle-timeout-ms", o.idle_timeout_ms, "keep-alive wait for the next request")
        ->check(positive)
        ->default_str(std::to_string(o.idle_timeout_ms));
    app.add_option("--client-timeout-ms", o.client_timeout_ms,
                   "deadline for reading a body and for each write to the client")
        ->check(positive)
        ->default_str(std::to_string(o.client_timeout_ms));
    app.add_option("--drain-timeout-secs", o.drain_timeout_secs,
                   "graceful shutdown: how long in-flight requests may finish")
        ->check(positive)
        ->default_str(std::to_string(o.drain_timeout_secs));

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        cli_result r;
        r.exit = true;
        r.output = app.help();
        return r;
    } catch (const CLI::ParseError& e) {
        return usage_error(e.what());
    }
    if (version) {
        cli_result r;
        r.exit = true;
        r.output = std::string("ditto-gateway ") + DITTO_VERSION + "\n";
        return r;
    }

    if ((prefix->count() > 0 || failure->count() > 0 || layout->count() > 0 ||
         migrate->count() > 0) &&
        !o.redis_url && !o.redis_env) {
        return usage_error(
            "--redis-prefix, --redis-failure-mode, --redis-layout and --redis-migrate require "
            "--redis or --redis-env");
    }
    if (std::any_of(redis_tls.begin(), redis_tls.end(), [](auto* f) { return f->count() > 0; }) &&
        !o.redis_url && !o.redis_env)
        return usage_error("--redis-tls-* require --redis or --redis-env (a rediss:// URL)");
    if (o.redis_tls_cert.has_value() != o.redis_tls_key.has_value())
        return usage_error("--redis-tls-cert and --redis-tls-key go together");
    if (o.redis_tls_insecure_skip_verify && o.redis_tls_ca)
        return usage_error(
            "--redis-tls-insecure-skip-verify verifies nothing: not with --redis-tls-ca");
    if (o.redis_migrate && o.redis_layout != 2)
        return usage_error(
            "--redis-migrate moves a prefix to key layout 2: not with --redis-layout 1");
    if (o.redis_prefix.empty() || o.redis_prefix.find_first_of(" \t\r\n") != std::string::npos)
        return usage_error("--redis-prefix must be non-empty and without spaces");
    if ((otel_name->count() > 0 || otel_header->count() > 0) && !o.otel_endpoint)
        return usage_error("--otel-service-name and --otel-header require --otel-endpoint");
    if (otel_endpoint->count() > 0 &&
        ((!o.otel_endpoint->starts_with("http://") && !o.otel_endpoint->starts_with("https://")) ||
         o.otel_endpoint->find_first_of(" \t\r\n") != std::string::npos))
        return usage_error("--otel-endpoint must be an http:// or https:// URL");
    if (o.otel_service_name.empty())
        return usage_error("--otel-service-name must not be empty");
    for (const auto& h : o.otel_headers) {
        const auto eq = h.find('=');
        if (eq == 0 || eq == std::string::npos || h.find_first_of(" \t\r\n:") < eq)
            return usage_error("--otel-header must be NAME=VALUE");
    }

    // Implications (docs/cli.md): each group's flags turn its feature on; any of them makes a
    // routing config exist.
    auto given = [](const std::vector<CLI::Option*>& flags) {
        return std::any_of(flags.begin(), flags.end(), [](auto* f) { return f->count() > 0; });
    };
    if (given(series_flags))
        o.prometheus = true;
    if (given(retry_flags))
        rt.retry.enabled = true;
    if (given(cb_flags))
        rt.breaker.enabled = true;
    if (given(hc_flags))
        rt.health.enabled = true;
    rt.configured =
        given(retry_flags) || given(other_routing) || given(cb_flags) || given(hc_flags);
    const std::array<std::pair<const char*, std::optional<std::string>*>, 3> code_lists = {{
        {"--proxy-retry-status-codes", &retry_codes},
        {"--proxy-fallback-status-codes", &fallback_codes},
        {"--proxy-cb-failure-status-codes", &cb_codes},
    }};
    const std::array<std::vector<unsigned>*, 3> code_targets = {&rt.retry.retry_status_codes,
                                                                &rt.retry.fallback_status_codes,
                                                                &rt.breaker.failure_status_codes};
    for (std::size_t i = 0; i < code_lists.size(); ++i) {
        const auto& [name, text] = code_lists[i];
        if (!*text)
            continue;
        auto codes = parse_status_codes(**text);
        if (!codes)
            return usage_error(std::string(name) +
                               ": expected a comma-separated list of status codes");
        *code_targets[i] = std::move(*codes);
    }
    auto to_action = [](const std::string& a) {
        return a == "none"    ? failure_action::none
               : a == "retry" ? failure_action::retry
                              : failure_action::fallback;
    };
    rt.retry.network_error_action = to_action(network_action);
    rt.retry.timeout_error_action = to_action(timeout_action);
    if (max_attempts > 0)
        rt.retry.max_attempts = max_attempts;
    if (rt.health.enabled && core::trim(rt.health.path).empty())
        return usage_error("--proxy-health-check-path must not be empty");

    if (state->count() > 0 && (o.redis_url || o.redis_env)) {
        return usage_error(
            "choose exactly one of --state, --sqlite, --pg/--postgres, --mysql, or --redis");
    }
    // docs/admin-api.md: TENANT=VALUE, a non-blank tenant, once per tenant for each kind of token.
    for (int kind = 0; kind < 2; ++kind) {
        std::set<std::string> tenants;
        for (int form = 0; form < 2; ++form) {
            const auto& [name, specs] = tenant_flags[static_cast<std::size_t>(kind * 2 + form)];
            for (const auto& spec : *specs) {
                const auto eq = spec.find('=');
                if (eq == std::string::npos || core::trim(spec.substr(eq + 1)).empty())
                    return usage_error(std::string(name) + ": expected TENANT=VALUE");
                const auto tenant = std::string(core::trim(spec.substr(0, eq)));
                if (tenant.empty())
                    return usage_error(std::string(name) + ": the tenant is empty");
                if (!tenants.insert(tenant).second)
                    return usage_error(std::string(name) + ": duplicate tenant " + tenant);
            }
        }
    }

    // docs/caching.md: any cache flag implies --proxy-cache; a 0 is raised to 1.
    for (auto* f : cache_flags)
        o.proxy_cache.enabled = o.proxy_cache.enabled || f->count() > 0;
    for (const auto& [name, target] : cache_sizes)
        *target = std::max<std::uint64_t>(1, *target);
    for (auto& h : o.proxy_cache.key_headers) {
        h = core::to_lower(core::trim(h));
        if (h.empty())
            return usage_error("--proxy-cache-key-header must name a header");
    }

    if (o.config_path.empty())
        o.config_path = "gateway.json";
    const auto ext = core::to_lower(std::filesystem::path(o.config_path).extension().string());
    if (ext == ".yaml" || ext == ".yml") {
        return usage_error("YAML configs are not supported; use JSON: " + o.config_path);
    }
    if (!ext.empty() && ext != ".json") {
        return usage_error("config path must end in .json: " + o.config_path);
    }
    if (!parse_host_port(o.listen)) {
        return usage_error("--listen: expected HOST:PORT, got '" + o.listen + "'");
    }
    if (o.workers == 0) {
        o.workers = std::max(1u, std::thread::hardware_concurrency());
    }
    cli_result r;
    r.options = std::move(o);
    return r;
}

const char* gateway_version() {
    return DITTO_VERSION;
}

}  // namespace ditto::config
