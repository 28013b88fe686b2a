#pragma once

// `GET /metrics/prometheus` (docs/observability.md): the original gateway's families plus
// our overhead histogram and token/cost counters. A request is recorded once, at its end,
// into its worker's shard (one uncontended lock); a scrape merges the shards. Label values
// are capped per kind (key, model, backend, path; beyond the cap → `__overflow__`) and
// passed through the redactor once, when first seen.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ditto::metrics {

struct series_caps {
    std::size_t key = 1024, model = 1024, backend = 128, path = 128;
};

enum class blocked_by : std::uint8_t { none, rate_limited, guardrail, budget };
enum class cache_outcome : std::uint8_t { not_eligible, miss, hit_memory, hit_redis };
enum class stream_end : std::uint8_t { completed, error, aborted };

struct attempt_record {
    std::string backend;
    bool ok = false;       ///< the backend answered (any status); false: transport failure
    bool failure = false;  ///< counted as a backend failure (transport error or 5xx)
    double seconds = 0;
};

/// What one request contributes, gathered on its way through the chain.
struct request_record {
    bool authenticated = false;  ///< a key was identified (requests_* count only these)
    std::string_view key_id;     ///< "public" when no key was identified
    std::string_view model;
    std::string_view path;
    unsigned status = 0;
    blocked_by blocked = blocked_by::none;
    cache_outcome cache = cache_outcome::not_eligible;
    std::string_view backend;  ///< the answering backend; empty when none
    double duration_seconds = 0;
    double overhead_seconds = 0;
    std::span<const attempt_record> attempts;
    /// The router version that routed it (docs/routing.md, "Canary"); empty before routing.
    std::string_view router_version;
};

/// Counters read at scrape time from their owners (no per-request cost).
/// One budget's use in its current period (docs/observability.md, "Dashboards and alerts").
struct budget_gauge {
    std::string scope;       ///< key, tenant, project, user or model
    std::string id;          ///< the scope's id, as /admin/budgets names it
    std::string unit;        ///< tokens or usd_micros
    std::uint64_t used = 0;  ///< spent + reserved
    std::uint64_t limit = 0;
};

/// A backend as this replica routes (docs/routing.md).
struct backend_gauge {
    std::string name;
    bool up = true;  ///< neither ejected by the breaker nor failing its health check
    bool breaker_open = false;
};

struct scrape_sources {
    std::vector<std::pair<std::string, std::uint64_t>> backend_in_flight;
    /// Pooled upstream connections closed for bytes past a complete answer, by backend.
    std::vector<std::pair<std::string, std::uint64_t>> backend_connections_desynced;
    std::uint64_t cache_stores_memory = 0, cache_stores_redis = 0, cache_store_errors_redis = 0;
    std::uint64_t cache_purges_all = 0, cache_purges_key = 0, cache_purges_selector = 0;
    /// With --otel-endpoint (docs/observability.md, "Tracing"): spans the collector took, and
    /// spans dropped by a full queue or a failed export.
    std::vector<backend_gauge> backends;
    /// The router versions in force (docs/routing.md, "Canary"): (version, role, share of
    /// requests in percent), role "stable" or "canary".
    std::vector<std::tuple<std::string, std::string, double>> router_versions;
    std::optional<bool> redis_up;  ///< with --redis: the last reading of its health check
    std::vector<budget_gauge> budgets;
    bool tracing = false;
    std::uint64_t trace_spans_exported = 0, trace_spans_dropped_full = 0,
                  trace_spans_dropped_failed = 0;
};

class prometheus {
  public:
    /// `label_filter` redacts a label value (docs/observability.md); `shards`: workers + 1.
    prometheus(series_caps caps, std::function<std::string(std::string_view)> label_filter,
               unsigned shards);
    ~prometheus();

    void record(unsigned shard, const request_record& r);
    void stream_opened(unsigned shard, std::string_view backend, std::string_view path);
    void stream_closed(unsigned shard, std::string_view backend, std::string_view path,
                       std::uint64_t bytes, stream_end end);
    /// Token usage and cost of a settled request (ours).
    void usage(unsigned shard, std::string_view key_id, std::string_view model,
               std::uint64_t input_tokens, std::uint64_t output_tokens,
               std::uint64_t cost_usd_micros);

    /// Text format 0.0.4.
    std::string render(const scrape_sources& extra) const;

    struct shard;       ///< internal (prometheus.cpp)
    struct caps_state;  ///< internal (prometheus.cpp)

  private:
    std::unique_ptr<caps_state> caps_;
    std::vector<std::unique_ptr<shard>> shards_;
    shard& at(unsigned i);
};

}  // namespace ditto::metrics
