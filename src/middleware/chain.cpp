#include "ditto/middleware/chain.hpp"

#include "ditto/http/error_body.hpp"

namespace ditto::middleware {

namespace {
boost::asio::awaitable<http::response> chain_end(proxy_context& ctx) {
    co_return api_error(ctx.req, http::status::internal_server_error, "api_error", "internal_error",
                        "the middleware chain has no final step");
}
}  // namespace

// Not a coroutine: it hands back the next middleware's own awaitable.
boost::asio::awaitable<http::response> next_fn::operator()(proxy_context& ctx) const {
    if (index_ >= chain_->items_.size())
        return chain_end(ctx);
    return chain_->items_[index_]->handle(ctx, next_fn(*chain_, index_ + 1));
}

boost::asio::awaitable<http::response> chain::run(proxy_context& ctx) const {
    return next_fn(*this, 0)(ctx);
}

http::response api_error(const http::request& req, http::status st, std::string_view type,
                         std::string_view code, std::string_view message, std::string_view param) {
    return http::make_response(req, st, http::openai_error(type, code, message, param));
}

}  // namespace ditto::middleware
