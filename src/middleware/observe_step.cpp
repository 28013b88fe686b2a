#include <algorithm>
#include <charconv>
#include <cstdint>

#include "ditto/log/log.hpp"
#include "ditto/middleware/builtin.hpp"

namespace ditto::middleware {
namespace {

using clock = std::chrono::steady_clock;

std::int64_t unix_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The server span of a sampled request (docs/observability.md, "Tracing"), ended and handed to
// the exporter: on the way out for a buffered answer, at the body's end for a streamed one.
void end_trace(trace::span_sink& sink, std::shared_ptr<trace::pending_trace> t) {
    t->server.end_ns = unix_ns();
    trace::finish_part(sink, std::move(t));
}

// Counts a relayed stream's bytes and how it ended (completed, failed, or dropped by the
// client: destroyed before its end), and ends its trace's server span then.
class observed_stream final : public http::body_stream {
  public:
    observed_stream(std::unique_ptr<http::body_stream> inner,
                    std::shared_ptr<metrics::prometheus> p, unsigned shard, std::string backend,
                    std::string path, std::shared_ptr<trace::span_sink> sink,
                    std::shared_ptr<trace::pending_trace> trace)
        : inner_(std::move(inner)),
          p_(std::move(p)),
          shard_(shard),
          backend_(std::move(backend)),
          path_(std::move(path)),
          sink_(std::move(sink)),
          trace_(std::move(trace)) {
        if (p_)
            p_->stream_opened(shard_, backend_, path_);
    }
    ~observed_stream() override { close(metrics::stream_end::aborted); }

    boost::asio::awaitable<std::optional<std::string>> next(
        boost::system::error_code& ec) override {
        auto piece = co_await inner_->next(ec);
        if (ec)
            close(metrics::stream_end::error);
        else if (!piece)
            close(metrics::stream_end::completed);
        else
            bytes_ += piece->size();
        co_return piece;
    }

  private:
    void close(metrics::stream_end end) {
        if (closed_)
            return;
        closed_ = true;
        if (p_)
            p_->stream_closed(shard_, backend_, path_, bytes_, end);
        if (trace_) {
            if (end != metrics::stream_end::completed && trace_->server.error_type.empty())
                trace_->server.error_type =
                    end == metrics::stream_end::error ? "stream_error" : "client_closed";
            end_trace(*sink_, std::move(trace_));
        }
    }

    std::unique_ptr<http::body_stream> inner_;
    std::shared_ptr<metrics::prometheus> p_;
    unsigned shard_;
    std::string backend_, path_;
    std::shared_ptr<trace::span_sink> sink_;
    std::shared_ptr<trace::pending_trace> trace_;
    std::uint64_t bytes_ = 0;
    bool closed_ = false;
};

// Milliseconds with three decimals ("0.092"), from whole microseconds: integer formatting,
// not printf's floating point (it ran twice per request).
std::string millis(clock::duration d) {
    const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(
        0, (std::chrono::duration_cast<std::chrono::nanoseconds>(d).count() + 500) / 1000));
    char buf[32];
    auto* end = std::to_chars(buf, buf + 24, us / 1000).ptr;
    const auto frac = us % 1000;
    *end++ = '.';
    *end++ = static_cast<char>('0' + frac / 100);
    *end++ = static_cast<char>('0' + frac / 10 % 10);
    *end++ = static_cast<char>('0' + frac % 10);
    return std::string(buf, end);
}

// The access log line (plain) or `proxy.response` / `proxy.blocked` / `proxy.error` event
// (JSON), at info: one per request.
void log_response(const proxy_context& ctx, unsigned status, clock::duration total,
                  clock::duration overhead) {
    const char* event = ctx.blocked != metrics::blocked_by::none ? "proxy.blocked"
                        : (ctx.backend.empty() && status >= 500) ? "proxy.error"
                                                                 : "proxy.response";
    log::info(event, "",
              {{"request_id", ctx.request_id},
               {"method", std::string(ctx.req.method_string())},
               {"path", ctx.path},
               {"status", std::to_string(status)},
               {"virtual_key_id", ctx.key ? ctx.key->id : ""},
               {"model", ctx.fields.model.value_or("")},
               {"backend", ctx.backend},
               {"cache", ctx.cache == metrics::cache_outcome::miss           ? "miss"
                         : ctx.cache == metrics::cache_outcome::not_eligible ? ""
                                                                             : "hit"},
               {"duration_ms", millis(total)},
               {"overhead_ms", millis(overhead)}});
}

// The W3C tracestate grammar's characters (list members are printable ASCII).
bool printable_ascii(std::string_view v) {
    return std::all_of(v.begin(), v.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// The GenAI operation a path performs (gen_ai.operation.name), or "" for the rest.
std::string_view operation_of(const proxy_context& ctx) {
    if (ctx.dialect == dialect::kind::gemini)
        return ctx.count_tokens ? "" : "generate_content";
    if (ctx.count_tokens)
        return "";
    if (ctx.path == "/v1/chat/completions" || ctx.path == "/v1/messages" ||
        ctx.path == "/v1/responses")
        return "chat";
    if (ctx.path == "/v1/completions")
        return "text_completion";
    if (ctx.path == "/v1/embeddings")
        return "embeddings";
    return "";
}

std::string_view blocked_name(metrics::blocked_by b) {
    switch (b) {
        case metrics::blocked_by::rate_limited:
            return "rate_limit";
        case metrics::blocked_by::guardrail:
            return "guardrail";
        case metrics::blocked_by::budget:
            return "budget";
        case metrics::blocked_by::none:
            break;
    }
    return "";
}

// What the way in learned, into the server span (the proxy adds usage when it settles).
void fill_server_span(const proxy_context& ctx, unsigned status, trace::span& s) {
    s.request_model = ctx.fields.model.value_or(ctx.path_model);
    s.max_tokens = ctx.fields.max_tokens              ? ctx.fields.max_tokens
                   : ctx.fields.max_completion_tokens ? ctx.fields.max_completion_tokens
                                                      : ctx.fields.max_output_tokens;
    s.stream = ctx.path_stream ? std::optional<bool>(true) : ctx.fields.stream;
    s.method = std::string(ctx.req.method_string());
    s.path = ctx.path;
    s.status = status;
    s.request_id = ctx.request_id;
    if (ctx.key) {
        s.key_id = ctx.key->id;
        s.tenant_id = ctx.key->tenant_id.value_or("");
    }
    s.backend = ctx.backend;
    s.cache = ctx.cache == metrics::cache_outcome::miss           ? "miss"
              : ctx.cache == metrics::cache_outcome::not_eligible ? ""
                                                                  : "hit";
    s.blocked = blocked_name(ctx.blocked);
    if (ctx.dialect != dialect::kind::openai)
        s.dialect = dialect::name(ctx.dialect);
    s.attempts = static_cast<unsigned>(ctx.attempts.size());
    if (s.error_type.empty() && (status >= 400 || status == 0))
        s.error_type = status == 0 ? "no_answer" : std::to_string(status);
}

// Around the rest of the chain, without a frame of its own: the clock starts on the way in,
// the answer is measured and recorded on the way out.
class observe_step final : public around_middleware {
  public:
    observe_step(std::shared_ptr<metrics::prometheus> p, std::shared_ptr<trace::span_sink> sink,
                 double trace_rate)
        : p_(std::move(p)), sink_(std::move(sink)), trace_rate_(trace_rate) {}

    step_result enter(proxy_context& ctx, std::optional<http::response>& /*out*/) override {
        ctx.observed_from = clock::now();
        if (sink_)
            begin_trace(ctx);
        return step_result::around;
    }

    leave_result leave(proxy_context& ctx, http::response& res) override {
        const auto total = clock::now() - ctx.observed_from;
        const auto overhead = std::max(clock::duration::zero(), total - ctx.upstream_time);
        // Ours (as LiteLLM and TensorZero report theirs): what the gateway itself cost.
        res.msg.set("x-ditto-overhead-ms", millis(overhead));
        const unsigned status = res.msg.result_int();
        if (p_) {
            metrics::request_record r;
            r.authenticated = ctx.key != nullptr;
            r.key_id = ctx.key ? std::string_view(ctx.key->id) : std::string_view("public");
            const auto model = ctx.fields.model.value_or("");
            r.model = model;
            r.path = ctx.path;
            r.status = status;
            r.blocked = ctx.blocked;
            r.cache = ctx.cache;
            r.backend = ctx.backend;
            r.duration_seconds = std::chrono::duration<double>(total).count();
            r.overhead_seconds = std::chrono::duration<double>(overhead).count();
            r.attempts = ctx.attempts;
            r.router_version = ctx.router_version;
            p_->record(ctx.info.worker, r);
        }
        auto trace = std::move(ctx.trace.pending);
        if (trace)
            fill_server_span(ctx, status, trace->server);
        if (res.stream && (p_ || trace)) {
            res.stream =
                std::make_unique<observed_stream>(std::move(res.stream), p_, ctx.info.worker,
                                                  ctx.backend, ctx.path, sink_, std::move(trace));
        } else if (trace) {
            end_trace(*sink_, std::move(trace));
        }
        if (log::enabled(log::level::info))
            log_response(ctx, status, total, overhead);
        return leave_result::done;
    }

  private:
    // W3C trace context in, the server span's ids out (docs/observability.md, "Tracing").
    void begin_trace(proxy_context& ctx) const {
        auto& t = ctx.trace;
        t.active = true;
        std::optional<trace::traceparent> parent;
        if (auto it = ctx.req.find("traceparent"); it != ctx.req.end()) {
            t.client_traceparent = true;
            parent = trace::parse_traceparent(it->value());
        }
        const auto state = ctx.req.find("tracestate");
        t.client_tracestate = state != ctx.req.end();
        t.from_client = parent.has_value();
        t.trace = parent ? parent->trace : trace::random_trace_id();
        t.span_id = trace::random_span_id();
        // Parent-based: a caller that did not record its span gets none of ours either.
        t.sampled = (!parent || parent->sampled) && trace::sampled(t.trace, trace_rate_);
        if (!t.sampled)
            return;
        t.pending = std::make_shared<trace::pending_trace>();
        t.sink = sink_;
        auto& s = t.pending->server;
        s.trace = t.trace;
        s.id = t.span_id;
        s.parent = parent ? parent->parent : 0;
        s.kind = trace::span_kind::server;
        s.start_ns = unix_ns();
        s.operation = operation_of(ctx);
        if (parent && t.client_tracestate && state->value().size() <= 512 &&
            printable_ascii(state->value()))
            s.trace_state = std::string(state->value());
    }

    std::shared_ptr<metrics::prometheus> p_;
    std::shared_ptr<trace::span_sink> sink_;
    double trace_rate_;
};

}  // namespace

std::shared_ptr<middleware> make_observe(std::shared_ptr<metrics::prometheus> p,
                                         std::shared_ptr<trace::span_sink> traces,
                                         double trace_rate) {
    return std::make_shared<observe_step>(std::move(p), std::move(traces), trace_rate);
}

}  // namespace ditto::middleware
