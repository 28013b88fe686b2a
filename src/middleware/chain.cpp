#include "ditto/middleware/chain.hpp"

#include <array>
#include <stdexcept>

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

// The steps a walk passed with `around`, in order: the chain has four that may.
struct leaving_steps {
    std::array<middleware*, 8> at{};
    std::size_t n = 0;

    bool empty() const { return n == 0; }
    void push_back(middleware* m) {
        if (n == at.size())
            throw std::logic_error("middleware chain: too many steps act around the rest");
        at[n++] = m;
    }
};

// Runs the awaited rest of the chain, then each passed step's way out, innermost first: one
// frame for all of them instead of one per step. By value: the frame owns what it awaits.
boost::asio::awaitable<http::response> then_leave(proxy_context& ctx,
                                                  boost::asio::awaitable<http::response> rest,
                                                  leaving_steps steps) {
    auto res = co_await std::move(rest);
    for (auto i = steps.n; i-- > 0;) {
        if (steps.at[i]->leave(ctx, res) == leave_result::wait)
            co_await steps.at[i]->leave_async(ctx, res);
    }
    co_return res;
}

boost::asio::awaitable<http::response> leaving(proxy_context& ctx,
                                               boost::asio::awaitable<http::response> rest,
                                               leaving_steps& steps) {
    if (steps.empty())
        return rest;
    return then_leave(ctx, std::move(rest), steps);
}
}  // namespace

// Not a coroutine: the steps that decide at once are walked here, in a loop; the first one
// that must wait hands back its own awaitable, wrapped by the way out of the steps that act
// around the rest (docs/architecture.md).
boost::asio::awaitable<http::response> next_fn::operator()(proxy_context& ctx) const {
    const auto& items = chain_->items_;
    leaving_steps steps;
    for (auto i = index_; i < items.size(); ++i) {
        std::optional<http::response> out;
        switch (items[i]->enter(ctx, out)) {
            case step_result::next:
                continue;
            case step_result::around:
                steps.push_back(items[i].get());
                continue;
            case step_result::answered:
                return leaving(ctx, answered(std::move(*out)), steps);
            case step_result::wait:
                return leaving(ctx, items[i]->handle(ctx, next_fn(*chain_, i + 1)), steps);
        }
    }
    return leaving(ctx, chain_end(ctx), steps);
}

boost::asio::awaitable<void> middleware::leave_async(proxy_context& /*ctx*/,
                                                     http::response& /*res*/) {
    co_return;
}

boost::asio::awaitable<http::response> around_middleware::handle(proxy_context& ctx, next_fn next) {
    std::optional<http::response> out;
    const auto how = enter(ctx, out);
    if (how == step_result::answered)
        co_return std::move(*out);
    auto res = co_await next(ctx);
    if (how == step_result::around && leave(ctx, res) == leave_result::wait)
        co_await leave_async(ctx, res);
    co_return res;
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
