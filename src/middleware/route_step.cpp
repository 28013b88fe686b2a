#include "ditto/core/hash.hpp"
#include "ditto/middleware/builtin.hpp"
#include "ditto/router/route.hpp"

namespace ditto::middleware {
namespace {

// The ordered candidates (docs/proxy.md, "Routing"), before anything is counted for them (the
// cost estimate prices their model_map targets); none → 502 backend_not_found.
class route_step final : public sync_middleware {
  public:
    explicit route_step(candidate_filter filter) : filter_(std::move(filter)) {}

    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override {
        // A key with its own route never reaches a router: it counts as the stable version.
        const auto routing =
            ctx.key->route
                ? key_snapshot::routing{&ctx.keys->router(), ctx.keys->router_version(), false}
                : ctx.keys->router_for(ctx.request_id);
        ctx.router_version = routing.version;
        ctx.canary = routing.canary;
        ctx.candidates = router::candidates(*routing.router, ctx.key->route, routed_model(ctx),
                                            core::fnv1a64(ctx.request_id));
        if (filter_)
            ctx.candidates = filter_(std::move(ctx.candidates));
        if (ctx.candidates.empty()) {
            out = api_error(ctx.req, http::gateway_error::backend_not_found,
                            "no backend to route to: no router rule matches and "
                            "router.default_backends is empty");
            return step_result::answered;
        }
        return step_result::next;
    }

  private:
    candidate_filter filter_;
};

}  // namespace

std::shared_ptr<middleware> make_route(candidate_filter filter) {
    return std::make_shared<route_step>(std::move(filter));
}

}  // namespace ditto::middleware
