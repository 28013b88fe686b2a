// Microbenchmark: CPU per request of recording a request in the Prometheus registry (the
// metrics collection of docs/observability.md), the typical record of a proxied chat request.
// Build and run: bench/micro/run.sh
#include <chrono>
#include <cstdio>

#include "ditto/metrics/prometheus.hpp"

int main() {
    using namespace ditto::metrics;
    prometheus p(
        {}, [](std::string_view v) { return std::string(v); }, 2);
    attempt_record a{"primary", true, false, 0.001};
    request_record r;
    r.authenticated = true;
    r.key_id = "team-a-key";
    r.model = "gpt-4o-mini";
    r.path = "/v1/chat/completions";
    r.status = 200;
    r.cache = cache_outcome::miss;
    r.backend = "primary";
    r.duration_seconds = 0.0012;
    r.overhead_seconds = 0.00004;
    r.attempts = {&a, 1};
    constexpr int n = 2'000'000;
    for (int i = 0; i < 10'000; ++i)  // warm the label caches
        p.record(0, r);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
        p.record(0, r);
        p.usage(0, r.key_id, r.model, 19, 9, 0);
    }
    const auto ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::printf("metrics record + usage: %.0f ns per request\n", ns / n);
    return 0;
}
