#pragma once

// Per-backend health (docs/routing.md): the circuit breaker's failure count and ejection, and the
// active health checks' verdict — one state per backend shared by every worker of the
// process, each behind its own lock. Plus the pure policy the attempt loop follows.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ditto/config/routing_settings.hpp"

namespace ditto::proxy {

enum class attempt_failure : std::uint8_t { network, timeout, status };

/// The per-failure action (docs/routing.md, "When an attempt fails"): a status is retry (retry on
/// and listed), else fallback (listed), else none; network and timeout errors use their configured
/// actions.
config::failure_action action_for(const config::retry_settings& r, attempt_failure kind,
                                  unsigned status = 0);
/// clamp(max_attempts or #candidates, 1, #candidates).
std::size_t max_attempts(const config::retry_settings& r, std::size_t candidates);

/// One backend's state as `GET /admin/backends` shows it.
struct backend_view {
    std::string backend;
    std::uint64_t consecutive_failures = 0;
    std::int64_t unhealthy_until_epoch_seconds = 0;  ///< shown (rounded up)
    std::int64_t unhealthy_until_ms = 0;             ///< what the filter uses (not shown)
    std::optional<std::string> last_error;
    std::optional<std::int64_t> last_failure_ts_ms;
    std::optional<bool> health_check_healthy;
    std::optional<std::string> health_check_last_error;
    std::optional<std::int64_t> health_check_last_ts_ms;

    std::string to_json() const;
};

class backend_health {
  public:
    backend_health(const std::vector<std::string>& backends, config::routing_settings settings);

    const config::routing_settings& settings() const { return settings_; }
    /// Candidates are filtered only with the breaker or health checks on.
    bool filtering() const { return settings_.breaker.enabled || settings_.health.enabled; }

    /// The candidate filter (docs/routing.md, "Circuit breaker"): without the ejected (breaker) and
    /// failed (health check) backends — unless that leaves none, then all of them.
    std::vector<std::string> filter(std::vector<std::string> candidates) const;

    /// An attempt that failed: a transport error, or a status answer (with its
    /// `retry-after` seconds, if any). Counts toward the breaker when it is on and counts it.
    void record_failure(const std::string& backend, attempt_failure kind, unsigned status,
                        std::string error, std::optional<std::uint64_t> retry_after_seconds);
    /// Any other answer closes the breaker.
    void record_success(const std::string& backend);
    /// A health-check result.
    void record_check(const std::string& backend, bool healthy, std::string error);

    /// Sorted by name.
    std::vector<backend_view> snapshot() const;
    /// Clears a backend's state; the fresh view (also for a name that is not a backend).
    backend_view reset(const std::string& backend);
    /// The `backend.<name>` checks of `/ready` (docs/routing.md, "Health checks"): (name, nullopt
    /// when ok else why), sorted.
    std::vector<std::pair<std::string, std::optional<std::string>>> readiness() const;

  private:
    struct state {
        mutable std::mutex mu;
        backend_view view;
    };
    static std::int64_t now_ms();

    config::routing_settings settings_;
    std::map<std::string, std::unique_ptr<state>> states_;  ///< fixed set, built once
};

}  // namespace ditto::proxy
