#include "ditto/core/hash.hpp"
#include "ditto/middleware/builtin.hpp"
#include "ditto/router/route.hpp"

namespace ditto::middleware {
namespace {

// SPEC §3.1 step 9, §3.9: the ordered candidates, before anything is counted for them (the
// cost estimate prices their model_map targets); none → 502 backend_not_found.
class route_step final : public middleware {
  public:
    boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn next) override {
        ctx.candidates = router::candidates(ctx.keys->router(), ctx.key->route, routed_model(ctx),
                                            core::fnv1a64(ctx.request_id));
        if (ctx.candidates.empty()) {
            co_return api_error(ctx.req, http::status::bad_gateway, "api_error",
                                "backend_not_found", "backend not found: default");
        }
        co_return co_await next(ctx);
    }
};

}  // namespace

std::shared_ptr<middleware> make_route() {
    return std::make_shared<route_step>();
}

}  // namespace ditto::middleware
