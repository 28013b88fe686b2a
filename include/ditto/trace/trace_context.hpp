#pragma once

// W3C Trace Context (https://www.w3.org/TR/trace-context/) for the gateway's spans
// (docs/observability.md, "Tracing"): the `traceparent` a client sends is read, each upstream
// attempt is sent a child of the gateway's span, and a trace is started when none came.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ditto::trace {

struct trace_id {
    std::uint64_t hi = 0, lo = 0;
    bool valid() const { return (hi | lo) != 0; }
    bool operator==(const trace_id&) const = default;
};

/// A parsed `traceparent`: version 00 exactly, or a later version's first four fields
/// (the spec's forward compatibility). All-zero ids and version ff are invalid.
struct traceparent {
    trace_id trace;
    std::uint64_t parent = 0;  ///< the caller's span id
    bool sampled = false;      ///< flag 01
};
std::optional<traceparent> parse_traceparent(std::string_view header);

/// `00-<trace>-<span>-<01|00>`.
std::string format_traceparent(trace_id trace, std::uint64_t span, bool sampled);
inline constexpr std::size_t traceparent_size = 55;
/// The same into `out` (traceparent_size chars, not terminated): no allocation.
void format_traceparent(char* out, trace_id trace, std::uint64_t span, bool sampled);

/// Lower-case hex of `v`, 16 digits, into `out` (16 chars, not terminated).
void hex16(std::uint64_t v, char* out);
std::string hex(trace_id t);       ///< 32 digits
std::string hex(std::uint64_t v);  ///< 16 digits

/// Random non-zero ids from a per-thread generator seeded once from the OS (fast: no lock,
/// no system call per id). Not for secrets.
std::uint64_t random_span_id();
trace_id random_trace_id();

/// The existing sampling rule (docs/observability.md, "Sampling") with the sink `traces` and
/// the trace id as the identity, so every replica and every hop that uses it decides a trace
/// the same way.
bool sampled(trace_id t, double rate);

}  // namespace ditto::trace
