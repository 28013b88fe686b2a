#include "ditto/middleware/builtin.hpp"

namespace ditto::middleware {
namespace {

using http::gateway_error;

// The USD endpoint policy (docs/governance.md, "Costs"), before the guardrails: with a USD budget
// in force, only the token-priced endpoints (and free ones) are allowed.
class cost_policy_step final : public sync_middleware {
  public:
    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override {
        if (!ctx.keys->scopes(*ctx.key).cost_budget)
            return step_result::next;
        using cp = proxy_context::cost_policy;
        if (!ctx.metered || ctx.path == "/v1/files") {
            ctx.cost = cp::free;
            return step_result::next;
        }
        static constexpr std::string_view token_based[] = {"/v1/chat/completions",
                                                           "/v1/completions", "/v1/embeddings",
                                                           "/v1/moderations", "/v1/rerank"};
        // The dialect front doors are chat completions underneath (docs/dialects.md).
        bool ok = ctx.path.starts_with("/v1/responses") || ctx.dialect != dialect::kind::openai;
        for (auto p : token_based)
            ok = ok || ctx.path == p;
        if (!ok) {
            out = api_error(ctx.req, gateway_error::cost_budget_unsupported_endpoint,
                            "cost budgets support only token-priced endpoints, not " + ctx.path);
            return step_result::answered;
        }
        ctx.cost = cp::token_based;
        return step_result::next;
    }
};

}  // namespace

std::shared_ptr<middleware> make_cost_policy() {
    return std::make_shared<cost_policy_step>();
}

}  // namespace ditto::middleware
