#pragma once

// What answers requests, built once at start-up: the upstreams, the proxy cache, the metrics,
// backend health, the Admin API and the middleware chains, behind one app_handler.

#include <memory>
#include <optional>
#include <vector>

#include "app_handler.hpp"
#include "background.hpp"
#include "ditto/admin/admin_tokens.hpp"
#include "ditto/admin/control_plane.hpp"
#include "ditto/config/cli.hpp"
#include "ditto/proxy/health_checker.hpp"
#include "ditto/trace/exporter.hpp"
#include "reload.hpp"
#include "startup_config.hpp"
#include "store_gauges.hpp"
#include "store_setup.hpp"

namespace ditto::access {
class identity_provider;
}  // namespace ditto::access

namespace ditto::app {

struct request_handling {
    std::shared_ptr<app_handler> handler;
    /// The backend health checks, running on the background executor; null when off. They
    /// stop when the last reference goes, or earlier in the shutdown sequence.
    std::shared_ptr<proxy::health_checker> checker;
    /// SIGHUP's reload (the Admin API holds the same).
    std::shared_ptr<reloader> reload;
    /// The OTLP span exporter with --otel-endpoint, on the background executor; stopped (one
    /// last export) after the server.
    std::shared_ptr<trace::otlp_exporter> traces;
    /// The store's gauges for /metrics/prometheus (with --prometheus-metrics); stopped with
    /// the exporter.
    std::shared_ptr<store_gauges> gauges;
    /// access.operators and access.clients (docs/access.md): their key fetches run on the
    /// background executor; stopped with the exporter.
    std::vector<std::shared_ptr<access::identity_provider>> issuers;
};

/// nullopt: a backend cannot be used (its CA certificates, say); logged.
std::optional<request_handling> build_request_handling(
    const config::cli_options& options, const startup_config& sc, const store_runtime& store,
    std::shared_ptr<admin::control_plane> control, admin::admin_tokens tokens, background& bg);

}  // namespace ditto::app
