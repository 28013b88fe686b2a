#pragma once

#include <cstdint>
#include <memory>

#include "ditto/config/gateway_config.hpp"
#include "ditto/metrics/counters.hpp"
#include "ditto/metrics/prometheus.hpp"
#include "ditto/middleware/chain.hpp"
#include "ditto/proxy/backend_health.hpp"
#include "ditto/proxy/upstreams.hpp"

namespace ditto::observe {
class redactor;
}  // namespace ditto::observe

namespace ditto::store {
class audit_log;
}  // namespace ditto::store

namespace ditto::proxy {

struct proxy_options {
    /// Upstream bodies with a known length up to this are read whole and sent in one write;
    /// longer or chunked ones (SSE) are relayed piece by piece.
    std::uint64_t buffer_limit = 1024 * 1024;
    /// --proxy-usage-max-body-bytes: buffered JSON answers up to this size are scanned for
    /// `usage` (relayed ones by the settle step, make_settle); 0 disables usage parsing.
    std::uint64_t usage_max_body_bytes = 1024 * 1024;
    /// --prometheus-metrics: token and cost counters by key and model; may be null.
    std::shared_ptr<metrics::prometheus> prometheus;
    /// The redactor the audit log applies: with it, a clean audit record is judged here in one
    /// pass over its values instead of being parsed again (docs/observability.md). May be null.
    std::shared_ptr<const observe::redactor> redactor;
};

/// The chain's last step (docs/proxy.md, docs/routing.md): the attempt loop over `ctx.candidates` —
/// backend permits, model_map, the upstream call — moving to the next candidate as the
/// retry/fallback policy says (never twice to one backend; a non-idempotent request only
/// when it never reached the upstream or the client sent x-request-id), feeding each
/// attempt's outcome to the backends' health. Registers the request's audit record
/// (`proxy` / `proxy.error`) with the settlement.
std::shared_ptr<middleware::middleware> make_proxy(std::shared_ptr<upstreams> ups,
                                                   std::shared_ptr<backend_health> health,
                                                   std::shared_ptr<store::audit_log> audit,
                                                   std::shared_ptr<metrics::counters> counters,
                                                   proxy_options options);

/// docs/dialects.md: a Responses or Anthropic request that every candidate would need
/// translated, and that cannot be, is refused (400 naming the field) right after routing,
/// before anything is counted. Right after route.
std::shared_ptr<middleware::middleware> make_translation_check(std::shared_ptr<upstreams> ups);

/// `GET /v1/models` (docs/proxy.md, "Paths"): every backend's list (or the key's route only),
/// merged by id, first occurrence wins.
std::shared_ptr<middleware::middleware> make_models(std::shared_ptr<upstreams> ups);

}  // namespace ditto::proxy
