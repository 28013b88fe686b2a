#include "ditto/proxy/proxy.hpp"

#include "ditto/core/hash.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/log/log.hpp"
#include "ditto/middleware/builtin.hpp"
#include "ditto/router/route.hpp"

namespace ditto::proxy {
namespace {

using http::status;
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

class proxy final : public middleware::middleware {
  public:
    proxy(std::shared_ptr<upstreams> ups, std::shared_ptr<const config::router_config> router,
          std::shared_ptr<metrics::counters> counters, proxy_options options)
        : ups_(std::move(ups)),
          router_(std::move(router)),
          counters_(std::move(counters)),
          options_(options) {}

    boost::asio::awaitable<http::response> handle(proxy_context& ctx,
                                                  ::ditto::middleware::next_fn) override {
        const auto model = ::ditto::middleware::routed_model(ctx);
        const auto candidates =
            router::candidates(*router_, ctx.key->route, model, core::fnv1a64(ctx.request_id));
        if (candidates.empty()) {
            co_return api_error(ctx.req, status::bad_gateway, "api_error", "backend_not_found",
                                "backend not found: default");
        }
        counters_->requests.add();
        // A body streamed from the client can be sent once: first candidate only.
        const std::size_t attempts = ctx.body_read ? candidates.size() : 1;
        http::response last;
        for (std::size_t i = 0; i < attempts; ++i) {
            const auto& name = candidates[i];
            const bool is_last = i + 1 == attempts;
            auto* b = ups_->find(name);
            if (!b) {
                last = api_error(ctx.req, status::bad_gateway, "api_error", "backend_not_found",
                                 "backend not found: " + name);
                continue;
            }
            if (!b->try_acquire()) {
                last = api_error(ctx.req, status::too_many_requests, "rate_limit_error",
                                 "inflight_limit_backend",
                                 "too many in-flight proxy requests for backend " + name);
                continue;
            }
            auto permit = std::make_shared<backend_permit>(b);

            auto out = upstream::build_outgoing(ctx.req, *b, ctx.path, ctx.query,
                                                body_for(ctx, *b, is_last), ctx.request_id);
            if (!ctx.body_read)
                out.streamed_body = &ctx.body;
            out.replay_safe = is_safe_method(ctx.req.method()) || ctx.client_request_id;
            counters_->backend_calls.add();
            auto r = co_await upstream::exchange(ups_->pool_for(ctx.info.worker, *b), out,
                                                 options_.buffer_limit);
            if (r.failure == upstream::failure_kind::none) {
                auto res = std::move(r.response);
                res.msg.set("x-ditto-backend", name);
                res.msg.set("x-ditto-request-id", ctx.request_id);
                res.msg.set("x-request-id", ctx.request_id);
                record_usage(ctx, res);
                res.holds = std::move(ctx.holds);
                res.holds.push_back(std::move(permit));
                co_return res;
            }

            const bool timeout = r.failure == upstream::failure_kind::timeout;
            last = api_error(ctx.req, timeout ? status::gateway_timeout : status::bad_gateway,
                             "api_error", timeout ? "backend_timeout" : "backend_error",
                             "backend request failed: " + r.error);
            if (is_last)
                break;
            // SPEC §0.9/§5: after the request may have reached the upstream, a non-safe
            // method fails over only when the client gave an x-request-id to dedupe by.
            if (r.request_sent && !is_safe_method(ctx.req.method()) && !ctx.client_request_id) {
                log::warn("proxy.request_safety_guard", "not failing over a non-idempotent request",
                          {{"request_id", ctx.request_id},
                           {"backend", name},
                           {"reason", "missing_client_request_id"}});
                break;
            }
            log::warn("proxy.fallback", r.error,
                      {{"request_id", ctx.request_id},
                       {"backend", name},
                       {"failure_kind", timeout ? "timeout" : "network"},
                       {"will_attempt_next_backend", "true"}});
        }
        co_return last;
    }

  private:
    // SPEC §3.6: a buffered 2xx JSON answer's `usage` settles the charges made on the way in.
    void record_usage(proxy_context& ctx, const http::response& res) const {
        const auto& body = res.msg.body();
        if (res.stream || body.empty() || body.size() > options_.usage_max_body_bytes ||
            res.msg.result_int() / 100 != 2) {
            return;
        }
        auto ct = res.msg.find(http::field::content_type);
        if (ct == res.msg.end() || !core::iequals_prefix(ct->value(), "application/json"))
            return;
        core::usage_fields usage;
        if (core::scan_usage_json(body, usage))
            ctx.usage_total = usage.total_tokens();
    }

    // The body for one attempt: the client's, with `model` rewritten by the backend's
    // model_map (SPEC §3.11) in place, so every other byte stays as the client sent it.
    static std::string body_for(proxy_context& ctx, const upstream::backend& b, bool is_last) {
        if (ctx.body_is_json && ctx.fields.is_object && ctx.fields.model && b.has_model_map()) {
            if (const auto* mapped = b.map_model(*ctx.fields.model)) {
                std::string body = ctx.raw_body;
                const auto span = ctx.fields.model_span;
                body.replace(span.begin, span.end - span.begin, core::json_quote(*mapped));
                return body;
            }
        }
        return is_last ? std::move(ctx.raw_body) : ctx.raw_body;
    }

    std::shared_ptr<upstreams> ups_;
    std::shared_ptr<const config::router_config> router_;
    std::shared_ptr<metrics::counters> counters_;
    proxy_options options_;
};

}  // namespace

std::shared_ptr<middleware::middleware> make_proxy(
    std::shared_ptr<upstreams> ups, std::shared_ptr<const config::router_config> router,
    std::shared_ptr<metrics::counters> counters, proxy_options options) {
    return std::make_shared<proxy>(std::move(ups), std::move(router), std::move(counters), options);
}

}  // namespace ditto::proxy
