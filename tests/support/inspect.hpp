#pragma once

// What a test reads from a running gateway to prove nothing leaked: the budget ledgers through
// the Admin API, Prometheus gauges, and the process's memory from /proc.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace ditto::test {

struct token_ledger {
    std::uint64_t spent = 0;
    std::uint64_t reserved = 0;
    bool operator==(const token_ledger&) const = default;
};

/// The token ledger of `scope` (a key id, or `tenant:…`) from `GET /admin/budgets`, so the
/// gateway needs `--admin-token admin_token`. A scope without a ledger yet reads as {0, 0};
/// nullopt when the Admin API did not answer 200.
std::optional<token_ledger> read_token_ledger(int port, const std::string& admin_token,
                                              const std::string& scope);

/// The value of one series of `GET /metrics/prometheus` (`--prometheus-metrics`), named with
/// its labels exactly as exposed, e.g. `ditto_gateway_proxy_backend_in_flight{backend="b"}`;
/// nullopt when absent or unreachable.
std::optional<double> prometheus_value(int port, const std::string& series);

/// A `/proc/PID/status` field in kB (`VmRSS`, `VmHWM`); -1 when unreadable.
long proc_status_kb(pid_t pid, const std::string& field);

}  // namespace ditto::test
