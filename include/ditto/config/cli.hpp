#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ditto/config/cache_settings.hpp"
#include "ditto/config/routing_settings.hpp"

namespace ditto::config {

/// The command line (docs/cli.md). Flags of capabilities not built yet are absent,
/// so they fail as unknown flags instead of being accepted and ignored.
struct cli_options {
    std::string config_path;  ///< first positional; default ./gateway.json
    std::string listen = "127.0.0.1:8080";
    std::optional<std::string> dotenv;
    unsigned workers = 0;  ///< resolved to the number of cores when 0
    std::string log_level = "info";
    bool json_logs = false;
    bool check_config = false;

    std::uint64_t proxy_max_in_flight = 256;
    std::uint64_t proxy_max_body_bytes = 64ULL * 1024 * 1024;
    std::uint64_t proxy_usage_max_body_bytes = 1024 * 1024;  ///< 0 disables usage parsing
    /// Retries with x-request-id (docs/proxy.md): how long a first answer is replayed; 0: off.
    std::uint64_t proxy_replay_ttl_secs = 86'400;
    /// The output a request may produce when it sets no max tokens (charged to rate limits
    /// and budgets at admission; docs/governance.md, "Rate limits").
    std::uint64_t default_max_output_tokens = 4096;
    std::optional<std::string> pricing_litellm;  ///< LiteLLM pricing JSON (docs/governance.md)
    /// Ours (docs/governance.md, "Budgets"): a reservation still open after this long is released
    /// by the background reaper.
    std::uint64_t reservation_lease_secs = 3600;

    config::proxy_cache_settings proxy_cache;  ///< docs/cli.md, docs/caching.md
    /// --prometheus-metrics (docs/observability.md); the series caps imply it.
    bool prometheus = false;
    std::uint64_t prometheus_max_key_series = 1024, prometheus_max_model_series = 1024;
    std::uint64_t prometheus_max_backend_series = 128, prometheus_max_path_series = 128;
    config::routing_settings routing;  ///< docs/cli.md, docs/routing.md
    // Tracing (docs/observability.md, "Tracing"): OTLP/HTTP JSON to this collector.
    std::optional<std::string> otel_endpoint;
    std::string otel_service_name = "ditto-gateway";
    /// `NAME=VALUE` sent with every export (a collector's credential); VALUE may be secret://…
    std::vector<std::string> otel_headers;

    // Admin API tokens (docs/cli.md, docs/admin-api.md); values may be secret://…
    std::optional<std::string> admin_token, admin_token_env;
    std::optional<std::string> admin_read_token, admin_read_token_env;
    /// `TENANT=TOKEN` (or `TENANT=ENV` for the -env forms), checked for shape by parse_cli.
    std::vector<std::string> admin_tenant_tokens, admin_tenant_token_envs;
    std::vector<std::string> admin_tenant_read_tokens, admin_tenant_read_token_envs;
    /// --state: keys and router persisted to this file (single instance, docs/admin-api.md).
    std::optional<std::string> state_path;

    // The shared store (docs/cli.md, docs/redis.md).
    std::optional<std::string> redis_url;  ///< --redis
    std::optional<std::string> redis_env;  ///< --redis-env: the variable holding the URL
    std::string redis_prefix = "ditto";
    std::uint64_t redis_timeout_ms = 250;
    std::string redis_failure_mode = "closed";  ///< budgets when Redis is down: open|closed
    unsigned redis_layout = 2;   ///< --redis-layout: the key layout (docs/redis.md, "Layout v2")
    bool redis_migrate = false;  ///< --redis-migrate: layout 1 -> 2 at start-up (docs/redis.md)
    // TLS to Redis (rediss://; docs/redis.md, "TLS"). Paths, read at start-up.
    std::optional<std::string> redis_tls_ca;      ///< --redis-tls-ca: CA bundle to trust
    std::optional<std::string> redis_tls_cert;    ///< --redis-tls-cert: client certificate (mTLS)
    std::optional<std::string> redis_tls_key;     ///< --redis-tls-key: its private key
    bool redis_tls_insecure_skip_verify = false;  ///< --redis-tls-insecure-skip-verify
    std::uint64_t audit_retention_secs = 30ULL * 24 * 3600;  ///< 0 keeps records
    std::uint64_t spend_retention_days = 90;  ///< spend buckets (docs/governance.md), 1..3650

    // Ours: client-side deadlines and drain (docs/cli.md).
    std::uint64_t max_header_bytes = 64 * 1024;
    std::uint64_t header_timeout_ms = 10'000;  ///< first byte to end of the request head
    std::uint64_t idle_timeout_ms = 60'000;    ///< keep-alive wait for the next request
    std::uint64_t client_timeout_ms = 60'000;  ///< whole body read; each response write
    std::uint64_t drain_timeout_secs = 30;     ///< graceful shutdown limit
};

/// What parse_cli decided: run with `options`, or exit with `exit_code` after printing
/// `output` (help and version to stdout with 0; usage errors to stderr with 2).
struct cli_result {
    bool exit = false;
    int exit_code = 0;
    std::string output;
    cli_options options;
};

cli_result parse_cli(int argc, const char* const* argv);

/// `HOST:PORT` or `[V6]:PORT` split; nullopt when malformed or the port is not 0..65535.
struct host_port {
    std::string host;
    std::uint16_t port = 0;
};
std::optional<host_port> parse_host_port(const std::string& text);

/// The version `--version` prints (and the spans' service.version).
const char* gateway_version();

}  // namespace ditto::config
