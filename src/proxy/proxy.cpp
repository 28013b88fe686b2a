#include "ditto/proxy/proxy.hpp"

#include <algorithm>
#include <atomic>

#include "audit_record.hpp"
#include "dialect_answer.hpp"
#include "ditto/core/json_builder.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/log/log.hpp"
#include "ditto/middleware/builtin.hpp"
#include "ditto/middleware/keys.hpp"
#include "ditto/observe/redactor.hpp"
#include "ditto/store/audit_log.hpp"

namespace ditto::proxy {
namespace {

using middleware::api_error;
using middleware::proxy_context;

class backend_permit {
  public:
    explicit backend_permit(upstream::backend* b) : b_(b) {}
    ~backend_permit() { b_->release(); }
    backend_permit(const backend_permit&) = delete;
    backend_permit& operator=(const backend_permit&) = delete;

  private:
    upstream::backend* b_;
};

bool is_safe_method(http::bhttp::verb v) {
    using http::bhttp::verb;
    return v == verb::get || v == verb::head || v == verb::options || v == verb::trace;
}

// The audit record (docs/governance.md, "Audit"): one per proxied request, written at settlement
// (for a stream, when it ends), after the budget has recorded what was spent. `vetted` says the
// record's member names were judged clean once (make_proxy); its values are then judged here in one
// pass, and a clean record skips the audit log's redaction (docs/observability.md).
class audit_settle final : public ::ditto::middleware::settle_action {
  public:
    audit_settle(std::shared_ptr<store::audit_log> audit, const observe::redactor* vetted,
                 const proxy_context& ctx)
        : audit_(std::move(audit)), vetted_(vetted) {
        r_.request_id = ctx.request_id;
        r_.key_id = ctx.key->id;
        r_.tenant_id = ctx.key->tenant_id;
        r_.project_id = ctx.key->project_id;
        r_.user_id = ctx.key->user_id;
        keys_ = ctx.keys;  // holds the snapshot that `scopes_` points into
        scopes_ = &ctx.keys->scopes(*ctx.key);
        r_.method = ctx.req.method_string();
        r_.path = ctx.path;
        r_.model = ctx.fields.model;
        r_.service_tier = ctx.fields.service_tier;
        r_.charge_tokens = ctx.charge_tokens;
        r_.body_len = ctx.raw_body.size();
        if (!ctx.keys->canary_version().empty())
            r_.router_version = std::string(ctx.router_version);
        if (auto p = ctx.req.find("x-ditto-protocol"); p != ctx.req.end()) {
            r_.provider = std::string(p->value());
        } else if (ctx.dialect != dialect::kind::openai) {
            r_.provider = dialect::name(ctx.dialect);  // the client's dialect (docs/dialects.md)
        }
    }

    // With a governed settlement waiting (admit_step.cpp), the record goes with it: one store
    // operation for the charges and the record.
    boost::asio::awaitable<boost::system::error_code> settle(
        ::ditto::middleware::outcome& o) override {
        if (o.pending) {
            auto p = std::move(*o.pending);
            o.pending.reset();
            p.request.record = record(o);
            p.request.spend = spent(o);
            co_return co_await p.governor->settle(std::move(p.request));
        }
        auto r = record(o);
        auto s = spent(o);  // not declared in the `if`: GCC 12 and co_await
        if (s) {
            co_return co_await audit_->append_spent(std::move(r.kind), std::move(r.payload_json),
                                                    r.vetted, std::move(*s));
        }
        if (r.vetted)
            co_return co_await audit_->append_redacted(std::move(r.kind),
                                                       std::move(r.payload_json));
        co_return co_await audit_->append(std::move(r.kind), std::move(r.payload_json));
    }

    std::optional<boost::system::error_code> settle_now(::ditto::middleware::outcome& o) override {
        if (o.pending) {
            // Left pending when it must wait: settle() sends it.
            auto& p = *o.pending;
            p.request.record = record(o);
            p.request.spend = spent(o);
            const auto ec = p.governor->try_settle(p.request);
            if (ec)
                o.pending.reset();
            return ec;
        }
        if (!audit_->appends_now())
            return std::nullopt;  // before the record is written: settle() writes it
        auto r = record(o);
        if (auto s = spent(o))
            return audit_->append_spent_sync(std::move(r.kind), std::move(r.payload_json), r.vetted,
                                             std::move(*s));
        if (r.vetted)
            return audit_->append_redacted_sync(std::move(r.kind), std::move(r.payload_json));
        return audit_->append_sync(std::move(r.kind), std::move(r.payload_json));
    }

  private:
    // What a served request spent, for the spend buckets (docs/governance.md, "Spend over
    // time"): by the model it was billed as (after model_map), else the one it asked for.
    std::optional<store::spend_sample> spent(const ::ditto::middleware::outcome& o) const {
        if (!o.success())
            return std::nullopt;
        static std::atomic<std::uint64_t> writes{0};
        store::spend_sample s;
        s.write_id = writes.fetch_add(1, std::memory_order_relaxed) + 1;
        std::string_view model = o.upstream_model;
        if (model.empty() && r_.model)
            model = *r_.model;
        // The client names the model: bounded, so one cannot fill a bucket with long names.
        model = model.substr(0, 128);
        s.dims = scopes_->spend_head + store::spend_part(model) + scopes_->spend_tail;
        s.input_tokens = o.usage.input.value_or(0);
        s.output_tokens = o.usage.output.value_or(0);
        s.cached_tokens = o.usage.cached.value_or(0);
        s.usd_micros = o.spent_cost_usd_micros.value_or(0);
        return s;
    }

    store::settle_record record(const ::ditto::middleware::outcome& o) const {
        store::settle_record r;
        std::string values;
        r.kind = write_audit_record(r_, o, r.payload_json, values);
        r.vetted = vetted_ != nullptr && vetted_->values_clean(values);
        return r;
    }

    std::shared_ptr<store::audit_log> audit_;
    const observe::redactor* vetted_;
    audit_request r_;
    std::shared_ptr<const ::ditto::middleware::key_snapshot> keys_;
    const ::ditto::middleware::key_snapshot::key_scopes* scopes_ = nullptr;
};

// Ours (docs/observability.md): tokens and cost by key and model, once the usage is known.
class usage_metrics_settle final : public ::ditto::middleware::settle_action {
  public:
    usage_metrics_settle(std::shared_ptr<metrics::prometheus> p, unsigned worker, std::string key,
                         std::string model)
        : p_(std::move(p)), worker_(worker), key_(std::move(key)), model_(std::move(model)) {}

    boost::asio::awaitable<boost::system::error_code> settle(
        ::ditto::middleware::outcome& o) override {
        co_return *settle_now(o);
    }

    std::optional<boost::system::error_code> settle_now(::ditto::middleware::outcome& o) override {
        if (o.from_upstream) {
            p_->usage(worker_, key_, model_, o.usage.input.value_or(0), o.usage.output.value_or(0),
                      o.spent_cost_usd_micros.value_or(0));
        }
        return boost::system::error_code{};
    }

  private:
    std::shared_ptr<metrics::prometheus> p_;
    unsigned worker_;
    std::string key_, model_;
};

// The sampled request's server span learns the answer's usage and price when the request
// settles (docs/observability.md, "Tracing"): for a stream, at its end.
class trace_settle final : public ::ditto::middleware::settle_action {
  public:
    trace_settle(std::shared_ptr<trace::pending_trace> t, std::shared_ptr<trace::span_sink> sink)
        : t_(std::move(t)), sink_(std::move(sink)) {
        t_->parts.fetch_add(1, std::memory_order_relaxed);
    }
    // A settlement that never runs (none is lost: settlement.hpp) must not hold the trace.
    ~trace_settle() override {
        if (t_)
            trace::finish_part(*sink_, std::move(t_));
    }

    boost::asio::awaitable<boost::system::error_code> settle(
        ::ditto::middleware::outcome& o) override {
        co_return *settle_now(o);
    }

    std::optional<boost::system::error_code> settle_now(::ditto::middleware::outcome& o) override {
        auto& s = t_->server;
        s.input_tokens = o.usage.input;
        s.output_tokens = o.usage.output;
        s.cached_tokens = o.usage.cached;
        s.cost_usd_micros = o.spent_cost_usd_micros;
        s.upstream_model = o.upstream_model;
        if (!o.error_code.empty())
            s.error_type = o.error_code;
        trace::finish_part(*sink_, std::move(t_));
        return boost::system::error_code{};
    }

  private:
    std::shared_ptr<trace::pending_trace> t_;
    std::shared_ptr<trace::span_sink> sink_;
};

std::int64_t unix_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool sets_traceparent(const upstream::backend& b) {
    for (const auto& [name, value] : b.headers()) {
        if (name == "traceparent")
            return true;
    }
    return false;
}

bool is_whitespace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// docs/governance.md, "Usage accounting": a streamed chat/completions request is sent with
// stream_options.include_usage=true so its usage can be counted; when the client did not ask
// for it, the settle step removes the extra usage event from the client's stream.
void ask_for_stream_usage(proxy_context& ctx) {
    const auto& f = ctx.fields;
    if (!ctx.body_is_json || !f.is_object || f.stream != true || f.include_usage == true ||
        ctx.req.method() != http::bhttp::verb::post ||
        (ctx.path != "/v1/chat/completions" && ctx.path != "/v1/completions")) {
        return;
    }
    std::string& body = ctx.raw_body;
    if (!f.stream_options_span) {
        const auto open = body.find('{');
        body.insert(open + 1, R"("stream_options":{"include_usage":true},)");
    } else {
        const auto span = *f.stream_options_span;
        if (body[span.begin] == '{' && !f.include_usage) {
            auto inner = span.begin + 1;
            while (inner < span.end && is_whitespace(body[inner]))
                ++inner;
            body.insert(span.begin + 1, body[inner] == '}' ? R"("include_usage":true)"
                                                           : R"("include_usage":true,)");
        } else {
            // `null`, or include_usage:false: asked for plainly.
            body.replace(span.begin, span.end - span.begin, R"({"include_usage":true})");
        }
    }
    core::request_fields rescanned;
    if (core::scan_request_json(body, rescanned)) {
        ctx.fields = std::move(rescanned);
        ctx.settle.result().usage_event_added = true;
    }
}

// What an upstream without the Responses API answers to it (docs/dialects.md, `auto`).
bool lacks_responses_api(unsigned st) {
    return st == 404 || st == 405 || st == 501;
}

// A count-tokens request no backend will answer in its dialect: the gateway's own estimate,
// ceil(body bytes / 4), the same number it charges by (docs/dialects.md).
http::response local_token_count(const proxy_context& ctx) {
    core::json_builder b(64);
    b.begin_object()
        .member(ctx.dialect == dialect::kind::gemini ? "totalTokens" : "input_tokens",
                ctx.input_estimate)
        .end_object();
    auto res = http::make_response(ctx.req, http::status::ok, b.take());
    res.msg.set("x-ditto-request-id", ctx.request_id);
    res.msg.set("x-request-id", ctx.request_id);
    return res;
}

class proxy final : public middleware::middleware {
  public:
    proxy(std::shared_ptr<upstreams> ups, std::shared_ptr<backend_health> health,
          std::shared_ptr<store::audit_log> audit, std::shared_ptr<metrics::counters> counters,
          proxy_options options)
        : ups_(std::move(ups)),
          health_(std::move(health)),
          audit_(std::move(audit)),
          counters_(std::move(counters)),
          options_(std::move(options)) {
        if (options_.redactor && options_.redactor->names_clean(audit_record_names()))
            vetted_ = options_.redactor.get();
    }

    boost::asio::awaitable<http::response> handle(proxy_context& ctx,
                                                  ::ditto::middleware::next_fn) override {
        const auto& candidates = ctx.candidates;
        counters_->requests.add();
        ask_for_stream_usage(ctx);
        ctx.settle.add(std::make_unique<audit_settle>(audit_, vetted_, ctx));
        if (ctx.trace.pending)
            ctx.settle.add(std::make_unique<trace_settle>(ctx.trace.pending, ctx.trace.sink));
        if (options_.prometheus) {
            ctx.settle.add(std::make_unique<usage_metrics_settle>(
                options_.prometheus, ctx.info.worker, ctx.key->id, routed_model(ctx)));
        }
        // At debug: the default log has one access line per request (proxy.response and
        // its kin, docs/observability.md); this one repeats most of its fields.
        if (log::enabled(log::level::debug)) {
            log::debug("proxy.request", "",
                       {{"request_id", ctx.request_id},
                        {"method", std::string(ctx.req.method_string())},
                        {"path", ctx.path},
                        {"model", ctx.fields.model.value_or("")},
                        {"virtual_key_id", ctx.key->id},
                        {"charge_tokens", std::to_string(ctx.charge_tokens)},
                        {"body_len", std::to_string(ctx.raw_body.size())}});
        }
        auto& result = ctx.settle.result();
        // A body streamed from the client can be sent once: first candidate only.
        const auto& policy = health_->settings().retry;
        const std::size_t attempts = ctx.body_read ? max_attempts(policy, candidates.size()) : 1;
        const bool guarded = !is_safe_method(ctx.req.method()) && !ctx.client_request_id;
        http::response last;
        for (std::size_t i = 0; i < attempts; ++i) {
            const auto& name = candidates[i];
            const bool is_last = i + 1 == attempts;
            auto* b = ups_->find(name);
            result.attempted.push_back(name);
            if (!b) {
                last = attempt_error(ctx, http::gateway_error::backend_not_found,
                                     "backend not found: " + name);
                continue;
            }
            if (!b->try_acquire()) {
                last = attempt_error(ctx, http::gateway_error::inflight_limit_backend,
                                     "too many in-flight proxy requests for backend " + name);
                continue;
            }
            auto permit = std::make_shared<backend_permit>(b);

            auto form = form_for(ctx, *b);
            if (ctx.count_tokens && form == attempt_form::translated) {
                result.from_upstream = true;  // answered, nothing spent (docs/dialects.md)
                co_return local_token_count(ctx);
            }
            // Auto mode asks first as is, then as chat completions if the API is missing.
            const bool auto_responses =
                ctx.dialect == dialect::kind::responses && form == attempt_form::as_is &&
                b->responses() == config::backend_config::responses_mode::auto_detect;
            std::optional<http::response> refused;
            auto r = co_await call(ctx, *b, form, refused);
            if (refused)
                co_return std::move(*refused);
            if (auto_responses && r.failure == upstream::failure_kind::none &&
                lacks_responses_api(r.response.msg.result_int())) {
                // The same backend again, as chat completions (docs/dialects.md); the 404 is not a
                // failure of the backend, only of the guess.
                form = attempt_form::translated;
                r = co_await call(ctx, *b, form, refused);
                if (refused)
                    co_return std::move(*refused);
            }
            if (r.failure == upstream::failure_kind::none && form == attempt_form::translated) {
                auto translated = co_await answer_in_dialect(ctx, std::move(r.response));
                if (!translated) {
                    health_->record_failure(name, attempt_failure::status, 502,
                                            "answer is not a chat completion", std::nullopt);
                    last = attempt_error(ctx, http::gateway_error::invalid_backend_response,
                                         "backend answer is not a chat completion");
                    continue;
                }
                r.response = std::move(*translated);
            }
            if (r.failure == upstream::failure_kind::none) {
                const unsigned st = r.response.msg.result_int();
                auto act = action_for(policy, attempt_failure::status, st);
                record_status(name, st, act, r.response);
                if (act != config::failure_action::none && !is_last && !guard(ctx, name, guarded)) {
                    log_move(
                        ctx, name, act, "status", st,
                        act == config::failure_action::retry ? "retry_status" : "fallback_status",
                        result.attempted);
                    continue;  // the answer is dropped with its connection
                }
                auto res = std::move(r.response);
                res.msg.set("x-ditto-backend", name);
                res.msg.set("x-ditto-request-id", ctx.request_id);
                res.msg.set("x-request-id", ctx.request_id);
                result.from_upstream = true;
                result.backend = name;
                ctx.backend = name;
                record_usage(res, result.usage);
                res.holds = std::move(ctx.holds);
                res.holds.push_back(std::move(permit));
                co_return res;
            }

            const bool timeout = r.failure == upstream::failure_kind::timeout;
            const auto kind = timeout ? attempt_failure::timeout : attempt_failure::network;
            health_->record_failure(name, kind, 0, r.error, std::nullopt);
            last = attempt_error(
                ctx,
                timeout ? http::gateway_error::backend_timeout : http::gateway_error::backend_error,
                "backend request failed: " + r.error);
            const auto act = action_for(policy, kind);
            if (act == config::failure_action::none || is_last)
                break;
            // docs/proxy.md, "Fail-over": after the request may have reached the upstream, a
            // non-safe method fails over only when the client gave an x-request-id to dedupe by.
            if (r.request_sent && guard(ctx, name, guarded))
                break;
            log_move(ctx, name, act, timeout ? "timeout" : "network", 0,
                     timeout ? "timeout_error" : "network_error", result.attempted);
        }
        co_return last;
    }

  private:
    // One request to `b` in `form`: the chat translation (made once) to /v1/chat/completions,
    // or the request as sent. A request that cannot be translated sets `refused` (400 in the
    // client's shape, no other backend tried: each would refuse it the same way).
    boost::asio::awaitable<upstream::exchange_result> call(proxy_context& ctx, upstream::backend& b,
                                                           attempt_form form,
                                                           std::optional<http::response>& refused) {
        auto& result = ctx.settle.result();
        std::string_view path = ctx.path;
        std::string_view query = ctx.query;
        std::string rewritten;  // the body with `model` mapped, when the backend maps it
        std::string_view body;
        if (form == attempt_form::translated) {
            dialect::refusal why;
            if (!ensure_chat_body(ctx, why)) {
                refused = attempt_error(ctx, http::gateway_error::invalid_request, why.message,
                                        why.param);
                co_return upstream::exchange_result{};
            }
            path = "/v1/chat/completions";
            query = {};  // the dialect's own parameters (Gemini's alt=sse) mean nothing there
            body = ctx.chat_body ? body_from(*ctx.chat_body, ctx.chat_fields, true, b, rewritten,
                                             result.upstream_model)
                                 : body_from(ctx.raw_body, ctx.fields, ctx.body_is_json, b,
                                             rewritten, result.upstream_model);
        } else {
            body = body_from(ctx.raw_body, ctx.fields, ctx.body_is_json, b, rewritten,
                             result.upstream_model);
        }
        auto out = upstream::build_outgoing(ctx.req, b, path, query, body, ctx.request_id);
        if (!ctx.body_read)
            out.streamed_body = &ctx.body;
        out.replay_safe = is_safe_method(ctx.req.method()) || ctx.client_request_id;
        // Each attempt is a child of the gateway's span, and the upstream is its child
        // (docs/observability.md, "Tracing"). A trace the gateway started carries no state.
        std::uint64_t attempt_span = 0;
        if (ctx.trace.active) {
            attempt_span = trace::random_span_id();
            char parent[trace::traceparent_size];
            trace::format_traceparent(parent, ctx.trace.trace, attempt_span, ctx.trace.sampled);
            const std::string_view value(parent, sizeof parent);
            // Appended unless the client's (or a backend header's) is there to replace: no
            // scan of the head for it.
            if (ctx.trace.client_traceparent || sets_traceparent(b))
                out.msg.set("traceparent", value);
            else
                out.msg.insert("traceparent", value);
            if (ctx.trace.client_tracestate && !ctx.trace.from_client)
                out.msg.erase("tracestate");
        }
        const std::int64_t started_ns = ctx.trace.pending ? unix_ns() : 0;
        counters_->backend_calls.add();
        const auto sent_at = std::chrono::steady_clock::now();
        auto r = co_await upstream::exchange(ups_->pool_for(ctx.info.worker, b), out,
                                             options_.buffer_limit);
        note_attempt(ctx, b.name(), r, std::chrono::steady_clock::now() - sent_at);
        if (ctx.trace.pending)
            note_attempt_span(ctx, b, r, attempt_span, started_ns, result.upstream_model);
        co_return r;
    }

    // A sampled request's CLIENT span for one attempt: its head's round trip (a streamed body
    // goes on under the server span).
    static void note_attempt_span(proxy_context& ctx, const upstream::backend& b,
                                  const upstream::exchange_result& r, std::uint64_t id,
                                  std::int64_t started_ns, const std::string& upstream_model) {
        const auto& server = ctx.trace.pending->server;
        trace::span s;
        s.trace = ctx.trace.trace;
        s.id = id;
        s.parent = ctx.trace.span_id;
        s.kind = trace::span_kind::client;
        s.start_ns = started_ns;
        s.end_ns = unix_ns();
        s.operation = server.operation;
        s.provider = b.speaks_anthropic() ? "anthropic" : "openai";
        s.request_model = upstream_model.empty() ? ctx.fields.model.value_or("") : upstream_model;
        s.method = std::string(ctx.req.method_string());
        s.server_address = b.url().host;
        s.server_port = b.url().port;
        s.backend = b.name();
        if (r.failure == upstream::failure_kind::none) {
            s.status = r.response.msg.result_int();
            if (s.status >= 400)
                s.error_type = std::to_string(s.status);
        } else {
            s.error_type = r.failure == upstream::failure_kind::timeout ? "timeout" : "network";
        }
        ctx.trace.pending->children.push_back(std::move(s));
    }

    // What the observe step records about an attempt (docs/observability.md).
    static void note_attempt(proxy_context& ctx, const std::string& name,
                             const upstream::exchange_result& r,
                             std::chrono::steady_clock::duration took) {
        ctx.upstream_time += took;
        metrics::attempt_record a;
        a.backend = name;
        a.ok = r.failure == upstream::failure_kind::none;
        a.failure = !a.ok || r.response.msg.result_int() >= 500;
        a.seconds = std::chrono::duration<double>(took).count();
        ctx.attempts.push_back(std::move(a));
    }

    // docs/routing.md: a status answer counts as a failure when it is 5xx, moves on, or is one the
    // breaker counts; any other answer closes the breaker.
    void record_status(const std::string& name, unsigned st, config::failure_action act,
                       const http::response& res) const {
        const auto& cb = health_->settings().breaker.failure_status_codes;
        if (st >= 500 || act != config::failure_action::none ||
            std::binary_search(cb.begin(), cb.end(), st)) {
            health_->record_failure(name, attempt_failure::status, st,
                                    "upstream status " + std::to_string(st), retry_after_of(res));
        } else {
            health_->record_success(name);
        }
    }

    static std::optional<std::uint64_t> retry_after_of(const http::response& res) {
        auto it = res.msg.find(http::field::retry_after);
        if (it == res.msg.end())
            return std::nullopt;
        std::uint64_t v = 0;
        const auto text = core::trim(std::string_view(it->value().data(), it->value().size()));
        if (text.empty() || text.size() > 9)
            return std::nullopt;
        for (char c : text) {
            if (c < '0' || c > '9')
                return std::nullopt;  // an HTTP date: not worth a clock comparison
            v = v * 10 + static_cast<std::uint64_t>(c - '0');
        }
        return v;
    }

    // The safety guard (docs/routing.md): true (and logged) when this request must not move on.
    static bool guard(const proxy_context& ctx, const std::string& name, bool guarded) {
        if (!guarded)
            return false;
        log::warn("proxy.request_safety_guard", "not failing over a non-idempotent request",
                  {{"request_id", ctx.request_id},
                   {"backend", name},
                   {"reason", "missing_client_request_id"}});
        return true;
    }

    // The logs of docs/routing.md: proxy.retry or proxy.fallback, before the next candidate.
    static void log_move(const proxy_context& ctx, const std::string& name,
                         config::failure_action act, std::string_view kind, unsigned st,
                         std::string_view reason, const std::vector<std::string>& tried) {
        std::string attempted;
        for (const auto& a : tried)
            attempted += (attempted.empty() ? "" : ",") + a;
        log::warn(act == config::failure_action::retry ? "proxy.retry" : "proxy.fallback",
                  "moving to the next backend",
                  {{"request_id", ctx.request_id},
                   {"backend", name},
                   {"action", act == config::failure_action::retry ? "retry" : "fallback"},
                   {"failure_kind", std::string(kind)},
                   {"reason", std::string(reason)},
                   {"status", std::to_string(st)},
                   {"path", ctx.path},
                   {"will_attempt_next_backend", "true"},
                   {"attempted_backends", attempted}});
    }

    // A gateway-made error for one attempt; the last one is the answer and is audited as
    // proxy.error (docs/governance.md, "Audit").
    static http::response attempt_error(proxy_context& ctx, http::gateway_error e,
                                        std::string message, std::string_view param = {}) {
        const auto& row = http::describe(e);
        auto& o = ctx.settle.result();
        o.error_type = row.type;
        o.error_code = row.code;
        o.error_message = message;
        return api_error(ctx.req, e, message, param);
    }

    // docs/governance.md, "Usage accounting": a buffered 2xx JSON answer's `usage` settles the
    // charges made on the way in. A relayed one (chunked, or too long to buffer) is read by the
    // settle step as it passes.
    void record_usage(const http::response& res, core::usage_fields& usage) const {
        const auto& body = res.msg.body();
        if (res.stream || body.empty() || body.size() > options_.usage_max_body_bytes ||
            res.msg.result_int() / 100 != 2) {
            return;
        }
        auto ct = res.msg.find(http::field::content_type);
        if (ct == res.msg.end() || !core::iequals_prefix(ct->value(), "application/json"))
            return;
        core::usage_fields scanned;
        if (core::scan_usage_json(body, scanned))
            usage = scanned;
    }

    // The body for one attempt: `source` (the client's, or its chat translation), borrowed, or
    // with `model` rewritten by the backend's model_map (docs/proxy.md) into `rewritten`, so
    // every other byte stays as it was. The source is never moved away: every attempt, and
    // every step further out, sees the client's body as it came.
    static std::string_view body_from(const std::string& source, const core::request_fields& fields,
                                      bool is_json, const upstream::backend& b,
                                      std::string& rewritten, std::string& upstream_model) {
        upstream_model = fields.model.value_or("");
        if (is_json && fields.is_object && fields.model && b.has_model_map()) {
            if (const auto* mapped = b.map_model(*fields.model)) {
                upstream_model = *mapped;
                rewritten = source;
                const auto span = fields.model_span;
                rewritten.replace(span.begin, span.end - span.begin, core::json_quote(*mapped));
                return rewritten;
            }
        }
        return source;
    }

    std::shared_ptr<upstreams> ups_;
    std::shared_ptr<backend_health> health_;
    std::shared_ptr<store::audit_log> audit_;
    std::shared_ptr<metrics::counters> counters_;
    proxy_options options_;
    const observe::redactor* vetted_ = nullptr;  ///< options_.redactor, when names_clean()
};

}  // namespace

std::shared_ptr<middleware::middleware> make_proxy(std::shared_ptr<upstreams> ups,
                                                   std::shared_ptr<backend_health> health,
                                                   std::shared_ptr<store::audit_log> audit,
                                                   std::shared_ptr<metrics::counters> counters,
                                                   proxy_options options) {
    return std::make_shared<proxy>(std::move(ups), std::move(health), std::move(audit),
                                   std::move(counters), std::move(options));
}

}  // namespace ditto::proxy
