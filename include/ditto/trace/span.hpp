#pragma once

// The spans the gateway records (docs/observability.md, "Tracing"): one SERVER span per
// request and one CLIENT span per upstream attempt, with the OpenTelemetry GenAI attributes.
// Typed fields rather than a list of attributes: a request fills a few strings and numbers,
// and the exporter's thread spells the attribute names once per batch.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ditto/trace/trace_context.hpp"

namespace ditto::trace {

enum class span_kind : std::uint8_t { server = 2, client = 3 };  // OTLP's numbers

struct span {
    trace_id trace;
    std::uint64_t id = 0;
    std::uint64_t parent = 0;  ///< 0: a root span
    span_kind kind = span_kind::server;
    std::int64_t start_ns = 0, end_ns = 0;  ///< Unix epoch nanoseconds
    std::string trace_state;                ///< the client's, server span only

    // gen_ai.* (https://opentelemetry.io/docs/specs/semconv/gen-ai/)
    std::string operation;       ///< gen_ai.operation.name: chat, embeddings, … or empty
    std::string provider;        ///< gen_ai.provider.name (client spans)
    std::string request_model;   ///< gen_ai.request.model
    std::string upstream_model;  ///< after the backend's model_map (ditto.upstream_model)
    std::optional<std::uint64_t> max_tokens;  ///< gen_ai.request.max_tokens
    std::optional<bool> stream;
    std::optional<std::uint64_t> input_tokens, output_tokens, cached_tokens;
    std::optional<std::uint64_t> cost_usd_micros;

    // HTTP and the gateway's own
    std::string method;          ///< http.request.method
    std::string path;            ///< url.path (normalized; never the query, which may hold a key)
    unsigned status = 0;         ///< http.response.status_code; 0 = no answer
    std::string server_address;  ///< client spans: the backend's host and port
    std::uint16_t server_port = 0;
    std::string request_id, key_id, tenant_id, backend, cache, blocked, dialect;
    std::string error_type;  ///< error.type: timeout, network, a status code, a gateway code
    unsigned attempts = 0;
};

/// A sampled request's spans while it runs: the server span, filled on the way out (and at the
/// end of a streamed body), and the attempts' client spans, filled by the proxy.
struct pending_trace {
    span server;
    std::vector<span> children;
    /// The parts still to finish before the trace is submitted: the server span's end (the
    /// observe step), and the usage when the proxy settled it (trace_settle). A stream the
    /// client drops ends its span before its settlement runs on the background thread.
    std::atomic<unsigned> parts{1};
};

/// Where finished traces go: the OTLP exporter (exporter.hpp). Called from any worker; must
/// never block a request.
class span_sink {
  public:
    virtual ~span_sink() = default;
    virtual void submit(std::shared_ptr<pending_trace> t) noexcept = 0;
};

/// One part of `t` is done (pending_trace::parts); the last one submits it.
inline void finish_part(span_sink& sink, std::shared_ptr<pending_trace> t) {
    if (t->parts.fetch_sub(1, std::memory_order_acq_rel) == 1)
        sink.submit(std::move(t));
}

/// One request's trace context, in the chain's proxy_context.
struct request_trace {
    bool active = false;       ///< tracing is on: each upstream attempt gets a traceparent
    bool from_client = false;  ///< the client's traceparent was valid (its tracestate goes on)
    bool sampled = false;      ///< spans are recorded (and the flag sent upstream is 01)
    bool client_traceparent = false;  ///< the client sent one (valid or not): replaced upstream
    bool client_tracestate = false;   ///< the client sent one: dropped upstream unless continued
    trace_id trace;
    std::uint64_t span_id = 0;               ///< the gateway's server span
    std::shared_ptr<pending_trace> pending;  ///< when sampled
    std::shared_ptr<span_sink> sink;         ///< where `pending` goes when done
};

}  // namespace ditto::trace
