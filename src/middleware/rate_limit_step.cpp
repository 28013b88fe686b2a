#include "ditto/middleware/builtin.hpp"
#include "ditto/store/rate_limiter.hpp"

namespace ditto::middleware {
namespace {

using http::status;

// SPEC §6.1 scope ids; SPEC §3.4: a scope takes part only when both its id and its limits
// are set, and it limits something.
std::vector<store::rate_scope> scopes_of(const config::virtual_key_config& key) {
    std::vector<store::rate_scope> out;
    auto add = [&out](std::string id, const config::limits_config& l) {
        if (l.rpm || l.tpm)
            out.push_back({std::move(id), l.rpm, l.tpm});
    };
    add(key.id, key.limits);
    const std::string tenant = key.tenant_id ? "tenant:" + *key.tenant_id + ":" : "";
    if (key.tenant_id && key.tenant_limits)
        add("tenant:" + *key.tenant_id, *key.tenant_limits);
    if (key.project_id && key.project_limits) {
        add(tenant + "project:" + *key.project_id, *key.project_limits);
    }
    if (key.user_id && key.user_limits)
        add(tenant + "user:" + *key.user_id, *key.user_limits);
    return out;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

class rate_limit_step final : public middleware {
  public:
    rate_limit_step(std::shared_ptr<store::rate_limiter> limiter,
                    std::shared_ptr<metrics::counters> counters, std::uint64_t default_max_output)
        : limiter_(std::move(limiter)),
          counters_(std::move(counters)),
          default_max_output_(default_max_output) {}

    boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn next) override {
        auto scopes = scopes_of(*ctx.key);
        if (scopes.empty())
            co_return co_await next(ctx);
        const auto decision = co_await limiter_->admit(std::move(scopes), charge_tokens(ctx));
        if (decision.error) {
            co_return api_error(ctx.req, status::service_unavailable, "api_error",
                                "store_unavailable",
                                "rate limiter unavailable: " + decision.error.message());
        }
        if (!decision.admitted) {
            counters_->rate_limited.add();
            auto res = api_error(ctx.req, status::too_many_requests, "rate_limit_error",
                                 "rate_limited", "rate limit exceeded: " + decision.reason);
            res.msg.set(http::field::retry_after, std::to_string(decision.retry_after_seconds));
            co_return res;
        }
        auto res = co_await next(ctx);
        // SPEC §3.4: a request that did not succeed gives its place back (same minute); one
        // that did is charged what the upstream reported instead of the estimate (§0.13).
        if (res.msg.result_int() / 100 != 2) {
            co_await limiter_->refund(decision.charge);
        } else if (ctx.usage_total) {
            co_await limiter_->settle_tokens(decision.charge, *ctx.usage_total);
        }
        co_return res;
    }

  private:
    // SPEC §3.1 step 8 with §0.4: the input estimate plus the most output the request may
    // produce, so a request without a limit cannot reserve nothing.
    std::uint64_t charge_tokens(const proxy_context& ctx) const {
        if (ctx.path == "/v1/responses/input_tokens" || ctx.path == "/v1/responses/input_tokens/") {
            return 0;
        }
        const std::uint64_t input = (ctx.raw_body.size() + 3) / 4;
        const auto& f = ctx.fields;
        std::uint64_t output = default_max_output_;
        if (f.max_completion_tokens) {
            output = *f.max_completion_tokens;
        } else if (f.max_tokens) {
            output = *f.max_tokens;
        } else if (f.max_output_tokens && ctx.path.starts_with("/v1/responses")) {
            output = *f.max_output_tokens;
        }
        return saturating_add(input, output);
    }

    std::shared_ptr<store::rate_limiter> limiter_;
    std::shared_ptr<metrics::counters> counters_;
    std::uint64_t default_max_output_;
};

}  // namespace

std::shared_ptr<middleware> make_rate_limit(std::shared_ptr<store::rate_limiter> limiter,
                                            std::shared_ptr<metrics::counters> counters,
                                            std::uint64_t default_max_output_tokens) {
    return std::make_shared<rate_limit_step>(std::move(limiter), std::move(counters),
                                             default_max_output_tokens);
}

}  // namespace ditto::middleware
