#include "ditto/metrics/counters.hpp"

#include <nlohmann/json.hpp>

namespace ditto::metrics {

std::string counters::to_json() const {
    // ordered_json keeps the field order of docs/http-server.md, which readers of curl output
    // expect.
    nlohmann::ordered_json j = {
        {"requests", requests.get()},
        {"cache_hits", cache_hits.get()},
        {"rate_limited", rate_limited.get()},
        {"guardrail_blocked", guardrail_blocked.get()},
        {"budget_exceeded", budget_exceeded.get()},
        {"backend_calls", backend_calls.get()},
    };
    return j.dump();
}

}  // namespace ditto::metrics
