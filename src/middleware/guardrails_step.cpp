#include "ditto/core/strings.hpp"
#include "ditto/middleware/builtin.hpp"
#include "ditto/middleware/guardrails.hpp"

namespace ditto::middleware {
namespace {

// Policy checks run after auth and before anything is counted (limits, budgets;
// docs/governance.md).
class guardrails_step final : public sync_middleware {
  public:
    explicit guardrails_step(std::shared_ptr<metrics::counters> counters)
        : counters_(std::move(counters)) {}

    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override {
        // A large upload streamed to the upstream has no body here to inspect, and no model.
        if (!ctx.body_read)
            return step_result::next;
        const auto model = routed_model(ctx);
        const auto& rails = ctx.keys->guardrails_for(*ctx.key, model);
        const auto ct = ctx.req.find(http::field::content_type);
        guardrail_input in;
        in.method = ctx.req.method_string();
        in.path = ctx.path;
        in.content_type = ct == ctx.req.end() ? std::string_view{} : std::string_view(ct->value());
        in.model = model;
        in.input_tokens = ctx.input_estimate;
        in.raw_body = ctx.raw_body;
        in.body_is_json = ctx.body_is_json;
        const auto verdict = rails.check(in);
        if (verdict.ok())
            return step_result::next;
        if (verdict.error == http::gateway_error::guardrail_rejected) {
            counters_->guardrail_blocked.add();
            ctx.blocked = metrics::blocked_by::guardrail;
        }
        out = api_error(ctx.req, *verdict.error, verdict.message);
        return step_result::answered;
    }

  private:
    std::shared_ptr<metrics::counters> counters_;
};

}  // namespace

std::string routed_model(const proxy_context& ctx) {
    if (ctx.fields.model)
        return std::string(core::trim(*ctx.fields.model));
    constexpr std::string_view models = "/v1/models/";
    if (ctx.path.starts_with(models))
        return core::percent_decode(ctx.path.substr(models.size()));
    return {};
}

std::shared_ptr<middleware> make_guardrails(std::shared_ptr<metrics::counters> counters) {
    return std::make_shared<guardrails_step>(std::move(counters));
}

}  // namespace ditto::middleware
