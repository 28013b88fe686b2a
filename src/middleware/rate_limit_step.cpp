#include "ditto/middleware/builtin.hpp"
#include "ditto/store/rate_limiter.hpp"

namespace ditto::middleware {
namespace {

// On the way out (docs/governance.md, "Rate limits"): a request that did not succeed gives its
// place back (same minute); one that did is charged what the upstream reported instead of the
// estimate, or, for a stream cut short without usage, its input estimate. A cache hit keeps its
// place in rpm (it was served) but costs no tokens; so does a free request (a GET), whatever usage
// its answer shows (a stored response's, already paid for).
class rate_settle final : public settle_action {
  public:
    rate_settle(std::shared_ptr<store::rate_limiter> limiter, store::rate_charge charge,
                std::uint64_t input_estimate, bool metered)
        : limiter_(std::move(limiter)),
          charge_(std::move(charge)),
          input_(input_estimate),
          metered_(metered) {}

    boost::asio::awaitable<boost::system::error_code> settle(outcome& o) override {
        const auto d = decide(o);
        if (d.refund)
            co_await limiter_->refund(std::move(charge_));
        else if (d.tokens)
            co_await limiter_->settle_tokens(std::move(charge_), *d.tokens);
        co_return boost::system::error_code{};
    }

    std::optional<boost::system::error_code> settle_now(outcome& o) override {
        const auto d = decide(o);
        bool done = true;
        if (d.refund)
            done = limiter_->try_refund(charge_);
        else if (d.tokens)
            done = limiter_->try_settle_tokens(charge_, *d.tokens);
        if (!done)
            return std::nullopt;
        return boost::system::error_code{};
    }

  private:
    // What the way out does: give the place back, or replace the estimate with `tokens`, or
    // nothing (a free request keeps its charge of 0 tokens).
    struct decision {
        bool refund = false;
        std::optional<std::uint64_t> tokens;
    };
    decision decide(const outcome& o) const {
        if (!o.success())
            return {true, std::nullopt};
        if (!metered_)
            return {};  // a usage in its answer is not this request's to pay
        if (o.cache_hit)
            return {false, 0};
        if (auto total = o.usage.total_tokens())
            return {false, *total};
        if (!o.completed)
            return {false, input_};
        return {};
    }

    std::shared_ptr<store::rate_limiter> limiter_;
    store::rate_charge charge_;
    std::uint64_t input_;
    bool metered_;
};

class rate_limit_step final : public middleware {
  public:
    rate_limit_step(std::shared_ptr<store::rate_limiter> limiter,
                    std::shared_ptr<metrics::counters> counters)
        : limiter_(std::move(limiter)), counters_(std::move(counters)) {}

    // The scopes with both an id and limits (docs/governance.md), computed with the snapshot. The
    // memory store decides at once, without a coroutine frame (docs/architecture.md).
    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override {
        const auto& scopes = ctx.keys->scopes(*ctx.key).rate;
        if (scopes.empty())
            return step_result::next;
        auto decision = limiter_->try_admit(scopes, ctx.charge_tokens);
        if (!decision)
            return step_result::wait;
        return decide(ctx, std::move(*decision), out);
    }

    // A store that must be waited for (Redis).
    boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn next) override {
        const auto& scopes = ctx.keys->scopes(*ctx.key).rate;
        if (scopes.empty())
            co_return co_await next(ctx);
        auto decision = co_await limiter_->admit(scopes, ctx.charge_tokens);
        std::optional<http::response> out;
        if (decide(ctx, std::move(decision), out) == step_result::answered)
            co_return std::move(*out);
        co_return co_await next(ctx);
    }

  private:
    step_result decide(proxy_context& ctx, store::rate_decision decision,
                       std::optional<http::response>& out) {
        if (decision.error) {
            out = api_error(ctx.req, http::gateway_error::store_unavailable,
                            "store unavailable for the rate limit: " + decision.error.message());
            return step_result::answered;
        }
        if (!decision.admitted) {
            counters_->rate_limited.add();
            ctx.blocked = metrics::blocked_by::rate_limited;
            out = api_error(ctx.req, http::gateway_error::rate_limited,
                            "rate limit exceeded: " + decision.reason);
            out->msg.set(http::field::retry_after, std::to_string(decision.retry_after_seconds));
            return step_result::answered;
        }
        ctx.settle.add(std::make_unique<rate_settle>(limiter_, std::move(decision.charge),
                                                     ctx.input_estimate, ctx.metered));
        return step_result::next;
    }

    std::shared_ptr<store::rate_limiter> limiter_;
    std::shared_ptr<metrics::counters> counters_;
};

}  // namespace

std::shared_ptr<middleware> make_rate_limit(std::shared_ptr<store::rate_limiter> limiter,
                                            std::shared_ptr<metrics::counters> counters) {
    return std::make_shared<rate_limit_step>(std::move(limiter), std::move(counters));
}

}  // namespace ditto::middleware
