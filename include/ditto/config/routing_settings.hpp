#pragma once

// Retry/fallback, circuit breaker and health checks (the routing flags of docs/cli.md,
// docs/routing.md). The defaults apply even without flags: network and timeout errors fall
// back to the next candidate, HTTP statuses are passed through.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ditto::config {

/// What an attempt's failure leads to. Retry and fallback both move to the next candidate:
/// the same backend is never tried twice for one request.
enum class failure_action : std::uint8_t { none, fallback, retry };

struct retry_settings {
    bool enabled = false;
    std::vector<unsigned> retry_status_codes{429, 500, 502, 503, 504};
    std::vector<unsigned> fallback_status_codes;
    failure_action network_error_action = failure_action::fallback;
    failure_action timeout_error_action = failure_action::fallback;
    std::optional<unsigned> max_attempts;  ///< unset: every candidate
};

struct breaker_settings {
    bool enabled = false;
    unsigned failure_threshold = 3;
    std::uint64_t cooldown_seconds = 30;
    bool count_network_errors = true;
    bool count_timeout_errors = true;
    bool count_server_errors = true;
    std::vector<unsigned> failure_status_codes;
};

struct health_check_settings {
    bool enabled = false;
    std::string path = "/v1/models";
    std::uint64_t interval_seconds = 10;
    std::uint64_t timeout_seconds = 2;
};

struct routing_settings {
    /// Some routing flag was given (docs/cli.md): /admin/backends exists only then.
    bool configured = false;
    retry_settings retry;
    breaker_settings breaker;
    health_check_settings health;
};

}  // namespace ditto::config
