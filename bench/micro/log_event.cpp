// Microbenchmark: CPU per request of the access log line (docs/observability.md "Log lines"),
// with the default redaction rules, formatted on this thread and written in batches by the
// log writer thread to stderr (point stderr at a file). Both threads' CPU is counted.
// Build and run: bench/micro/run.sh
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "ditto/config/gateway_config.hpp"
#include "ditto/log/log.hpp"
#include "ditto/observe/redactor.hpp"

namespace {
double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void measure(bool json) {
    using namespace ditto;
    log::init(log::level::info, json);
    auto redact = std::make_shared<const observe::redactor>(config::redaction_config{});
    log::filters f;
    f.redact = [redact](std::string_view n, std::string_view v) {
        return redact->redact_field(n, v);
    };
    f.secret_name = [redact](std::string_view n) { return redact->secret_name(n); };
    f.may_match = [redact](std::string_view j) { return redact->may_match(j); };
    log::set_filters(f);
    constexpr int n = 1'000'000;
    auto one = [](int i) {
        // The fields of observe_step's access line, as a proxied chat request has them.
        log::info("proxy.response", "",
                  {{"request_id", "4f1c2a9e-7b3d-4e21-9c55-0d8e6f1a2b3c"},
                   {"method", "POST"},
                   {"path", "/v1/chat/completions"},
                   {"status", std::to_string(200 + i % 2)},
                   {"virtual_key_id", "team-a-key"},
                   {"model", "gpt-4o-mini"},
                   {"backend", "primary"},
                   {"cache", ""},
                   {"duration_ms", "1.234"},
                   {"overhead_ms", "0.041"}});
    };
    for (int i = 0; i < 10'000; ++i)  // warm the buffers
        one(i);
    log::flush();
    const double c0 = process_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i)
        one(i);
    log::shutdown();  // joins the writer: its CPU is in the total
    const double cpu = process_cpu_seconds() - c0;
    const auto wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "access log line (%s, default redaction): %.0f ns CPU per request "
        "(both threads), %.0f ns wall per request\n",
        json ? "JSON" : "plain", cpu / n * 1e9, wall / n * 1e9);
}

}  // namespace

int main() {
    measure(false);
    measure(true);
    return 0;
}
