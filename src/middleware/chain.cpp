#include "ditto/middleware/chain.hpp"

#include "ditto/http/error_body.hpp"

namespace ditto::middleware {

namespace {
boost::asio::awaitable<http::response> chain_end(proxy_context& ctx) {
    co_return api_error(ctx.req, http::gateway_error::internal_error,
                        "the middleware chain has no final step");
}

boost::asio::awaitable<http::response> answered(http::response res) {
    co_return res;
}
}  // namespace

// Not a coroutine: the steps that decide at once are walked here, in a loop; the first one
// that must wait hands back its own awaitable (docs/architecture.md).
boost::asio::awaitable<http::response> next_fn::operator()(proxy_context& ctx) const {
    const auto& items = chain_->items_;
    for (auto i = index_; i < items.size(); ++i) {
        std::optional<http::response> out;
        switch (items[i]->enter(ctx, out)) {
            case step_result::next:
                continue;
            case step_result::answered:
                return answered(std::move(*out));
            case step_result::wait:
                return items[i]->handle(ctx, next_fn(*chain_, i + 1));
        }
    }
    return chain_end(ctx);
}

boost::asio::awaitable<http::response> sync_middleware::handle(proxy_context& ctx, next_fn next) {
    std::optional<http::response> out;
    if (enter(ctx, out) == step_result::answered)
        co_return std::move(*out);
    co_return co_await next(ctx);
}

boost::asio::awaitable<http::response> chain::run(proxy_context& ctx) const {
    return next_fn(*this, 0)(ctx);
}

http::response api_error(const http::request& req, http::gateway_error e, std::string_view message,
                         std::string_view param) {
    return http::make_response(req, http::status_of(e), http::openai_error(e, message, param));
}

}  // namespace ditto::middleware
