// Microbenchmark: CPU per request of a sampled trace (docs/observability.md, "Tracing"): the
// spans a proxied chat request records (server + one attempt, as the gateway fills them) and
// their share of an OTLP/HTTP JSON batch of 256 traces, the exporter's encoding.
// Build and run: bench/micro/run.sh
#include <chrono>
#include <cstdio>

#include "ditto/trace/otlp_json.hpp"

namespace {

std::shared_ptr<ditto::trace::pending_trace> typical() {
    using namespace ditto::trace;
    auto p = std::make_shared<pending_trace>();
    auto& t = *p;
    auto& s = t.server;
    s.trace = random_trace_id();
    s.id = random_span_id();
    s.start_ns = 1'796'650'219'739'193'692;
    s.end_ns = s.start_ns + 3'400'000;
    s.operation = "chat";
    s.request_model = "gpt-4o-mini";
    s.upstream_model = "gpt-4o-mini";
    s.max_tokens = 512;
    s.stream = false;
    s.input_tokens = 260;
    s.output_tokens = 38;
    s.method = "POST";
    s.path = "/v1/chat/completions";
    s.status = 200;
    s.request_id = "ditto-1796650219739-12345";
    s.key_id = "team-a-key";
    s.tenant_id = "acme";
    s.backend = "primary";
    s.attempts = 1;
    span c;
    c.trace = s.trace;
    c.id = random_span_id();
    c.parent = s.id;
    c.kind = span_kind::client;
    c.start_ns = s.start_ns + 40'000;
    c.end_ns = s.end_ns - 20'000;
    c.operation = "chat";
    c.provider = "openai";
    c.request_model = "gpt-4o-mini";
    c.method = "POST";
    c.status = 200;
    c.server_address = "api.openai.com";
    c.server_port = 443;
    c.backend = "primary";
    t.children.push_back(std::move(c));
    return p;
}

}  // namespace

int main() {
    using namespace ditto::trace;
    resource_info r;
    r.service_version = "0.1.0";
    r.instance_id = hex(random_trace_id());
    constexpr int batch = 256, rounds = 2'000;
    std::size_t bytes = 0;
    double build_ns = 0, encode_ns = 0;
    for (int i = 0; i < rounds; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::shared_ptr<pending_trace>> traces;
        for (int j = 0; j < batch; ++j)
            traces.push_back(typical());  // what a request fills and queues
        const auto t1 = std::chrono::steady_clock::now();
        const auto body = encode_otlp_json(r, traces);
        const auto t2 = std::chrono::steady_clock::now();
        bytes += body.size();
        build_ns += std::chrono::duration<double, std::nano>(t1 - t0).count();
        encode_ns += std::chrono::duration<double, std::nano>(t2 - t1).count();
    }
    const double n = double(batch) * rounds;
    std::printf(
        "trace record (2 spans, queued): %.0f ns, OTLP JSON encoding: %.0f ns, %.0f bytes "
        "per request\n",
        build_ns / n, encode_ns / n, double(bytes) / n);
    return 0;
}
