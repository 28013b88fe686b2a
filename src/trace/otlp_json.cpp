#include "ditto/trace/otlp_json.hpp"

#include <charconv>

#include "ditto/core/json_scan.hpp"
#include "ditto/core/strings.hpp"

namespace ditto::trace {
namespace {

// Attribute heads are whole literals, joined at compile time: one append per attribute plus its
// value (the encoding runs once per request on the exporter's thread; docs/observability.md,
// "Tracing", has its cost).
#define DITTO_STR_ATTR(k) "{\"key\":\"" k "\",\"value\":{\"stringValue\":\""
#define DITTO_INT_ATTR(k) "{\"key\":\"" k "\",\"value\":{\"intValue\":\""
#define DITTO_BOOL_ATTR(k) "{\"key\":\"" k "\",\"value\":{\"boolValue\":"

// JSON text must be UTF-8 (a collector may refuse the whole batch over one byte), and a request
// id, a path or a model name may carry any byte a client sent: such bytes become U+FFFD.
void append_text(std::string& out, std::string_view value) {
    if (core::is_valid_utf8(value))
        core::append_escaped(out, value, "\\u00", true, false);
    else
        core::append_escaped(out, core::utf8_repaired(value), "\\u00", true, false);
}

void quote_text(std::string& out, std::string_view value) {
    out += '"';
    append_text(out, value);
    out += '"';
}

class writer {
  public:
    explicit writer(std::string& out) : out_(out) {}

    template <std::size_t N>
    void str(const char (&head)[N], std::string_view value) {
        if (value.empty())
            return;
        open(head);
        append_text(out_, value);
        out_.append("\"}}", 3);
    }
    template <std::size_t N>
    void integer(const char (&head)[N], std::uint64_t value) {
        open(head);
        number(value);
        out_.append("\"}}", 3);
    }
    template <std::size_t N>
    void integer(const char (&head)[N], const std::optional<std::uint64_t>& value) {
        if (value)
            integer(head, *value);
    }
    template <std::size_t N>
    void boolean(const char (&head)[N], const std::optional<bool>& value) {
        if (!value)
            return;
        open(head);
        out_.append(*value ? "true}}" : "false}}");
    }
    void number(std::uint64_t v) {
        char buf[24];
        out_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    }

  private:
    template <std::size_t N>
    void open(const char (&head)[N]) {
        if (!first_)
            out_ += ',';
        first_ = false;
        out_.append(head, N - 1);
    }
    std::string& out_;
    bool first_ = true;
};

void hex_id(std::string& out, std::uint64_t v) {
    const auto at = out.size();
    out.resize(at + 16);
    hex16(v, out.data() + at);
}

void encode_span(std::string& out, const span& s) {
    writer w(out);
    out.append(R"({"traceId":")");
    hex_id(out, s.trace.hi);
    hex_id(out, s.trace.lo);
    out.append(R"(","spanId":")");
    hex_id(out, s.id);
    if (s.parent != 0) {
        out.append(R"(","parentSpanId":")");
        hex_id(out, s.parent);
    }
    out += '"';
    if (!s.trace_state.empty()) {
        out.append(R"(,"traceState":)");
        quote_text(out, s.trace_state);
    }
    // The GenAI conventions' span name, "{operation} {model}"; else the HTTP one.
    out.append(R"(,"name":")");
    if (s.operation.empty()) {
        append_text(out, s.method);
        out += ' ';
        append_text(out, s.path);
    } else {
        out += s.operation;
        if (!s.request_model.empty()) {
            out += ' ';
            append_text(out, s.request_model);
        }
    }
    out.append(R"(","kind":)");
    out += static_cast<char>('0' + static_cast<int>(s.kind));
    out.append(R"(,"startTimeUnixNano":")");
    w.number(static_cast<std::uint64_t>(s.start_ns));
    out.append(R"(","endTimeUnixNano":")");
    w.number(static_cast<std::uint64_t>(s.end_ns < s.start_ns ? s.start_ns : s.end_ns));
    out.append(R"(","attributes":[)");
    w.str(DITTO_STR_ATTR("gen_ai.operation.name"), s.operation);
    w.str(DITTO_STR_ATTR("gen_ai.provider.name"), s.provider);
    w.str(DITTO_STR_ATTR("gen_ai.request.model"), s.request_model);
    w.integer(DITTO_INT_ATTR("gen_ai.request.max_tokens"), s.max_tokens);
    w.integer(DITTO_INT_ATTR("gen_ai.usage.input_tokens"), s.input_tokens);
    w.integer(DITTO_INT_ATTR("gen_ai.usage.output_tokens"), s.output_tokens);
    w.integer(DITTO_INT_ATTR("gen_ai.usage.cache_read.input_tokens"), s.cached_tokens);
    w.str(DITTO_STR_ATTR("http.request.method"), s.method);
    w.str(DITTO_STR_ATTR("url.path"), s.path);
    if (s.status != 0)
        w.integer(DITTO_INT_ATTR("http.response.status_code"), s.status);
    w.str(DITTO_STR_ATTR("server.address"), s.server_address);
    if (s.server_port != 0)
        w.integer(DITTO_INT_ATTR("server.port"), s.server_port);
    w.str(DITTO_STR_ATTR("error.type"), s.error_type);
    w.str(DITTO_STR_ATTR("ditto.request_id"), s.request_id);
    w.str(DITTO_STR_ATTR("ditto.virtual_key_id"), s.key_id);
    w.str(DITTO_STR_ATTR("ditto.tenant_id"), s.tenant_id);
    w.str(DITTO_STR_ATTR("ditto.backend"), s.backend);
    if (s.upstream_model != s.request_model)
        w.str(DITTO_STR_ATTR("ditto.upstream_model"), s.upstream_model);
    w.str(DITTO_STR_ATTR("ditto.cache"), s.cache);
    w.str(DITTO_STR_ATTR("ditto.blocked"), s.blocked);
    w.str(DITTO_STR_ATTR("ditto.dialect"), s.dialect);
    w.boolean(DITTO_BOOL_ATTR("ditto.stream"), s.stream);
    w.integer(DITTO_INT_ATTR("ditto.cost_usd_micros"), s.cost_usd_micros);
    if (s.attempts != 0)
        w.integer(DITTO_INT_ATTR("ditto.attempts"), s.attempts);
    out += ']';
    // Status ERROR for what failed here: a client span's failed attempt, a server span's 5xx
    // (4xx are the client's errors: unset, as the HTTP conventions say for servers).
    // A stream the upstream broke after its 200 failed here too.
    const bool error = !s.error_type.empty() && (s.kind == span_kind::client || s.status == 0 ||
                                                 s.status >= 500 || s.error_type == "stream_error");
    if (error) {
        out.append(R"(,"status":{"code":2,"message":)");
        quote_text(out, s.error_type);
        out += '}';
    }
    out += '}';
}

}  // namespace

std::string encode_otlp_json(const resource_info& resource,
                             std::span<const std::shared_ptr<pending_trace>> traces) {
    std::string out;
    std::size_t spans = 0;
    for (const auto& t : traces)
        spans += 1 + t->children.size();
    out.reserve(512 + spans * 1100);
    out += R"({"resourceSpans":[{"resource":{"attributes":[)";
    writer w(out);
    w.str(DITTO_STR_ATTR("service.name"), resource.service_name);
    w.str(DITTO_STR_ATTR("service.version"), resource.service_version);
    w.str(DITTO_STR_ATTR("service.instance.id"), resource.instance_id);
    w.str(DITTO_STR_ATTR("telemetry.sdk.name"), "ditto-gateway");
    w.str(DITTO_STR_ATTR("telemetry.sdk.language"), "cpp");
    out += R"(]},"scopeSpans":[{"scope":{"name":"ditto-gateway","version":)";
    quote_text(out, resource.service_version);
    out += R"(},"spans":[)";
    bool first = true;
    for (const auto& t : traces) {
        if (!first)
            out += ',';
        first = false;
        encode_span(out, t->server);
        for (const auto& c : t->children) {
            out += ',';
            encode_span(out, c);
        }
    }
    out += "]}]}]}";
    return out;
}

}  // namespace ditto::trace
