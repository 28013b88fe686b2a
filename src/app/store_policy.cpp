#include "store_policy.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "ditto/log/log.hpp"

namespace ditto::app {
namespace {

namespace net = boost::asio;
using boost::system::error_code;

class fallback_limiter final : public store::rate_limiter {
  public:
    fallback_limiter(std::shared_ptr<store::rate_limiter> shared,
                     std::shared_ptr<store::rate_limiter> local)
        : shared_(std::move(shared)), local_(std::move(local)) {}

    net::awaitable<store::rate_decision> admit(std::vector<store::rate_scope> scopes,
                                               std::uint64_t tokens) override {
        auto d = co_await shared_->admit(scopes, tokens);
        if (!d.error) {
            if (degraded_.exchange(false))
                log::info("store.rate_limit_recovered", "rate limits are shared again");
            co_return d;
        }
        if (!degraded_.exchange(true)) {
            log::warn("store.rate_limit_fallback",
                      "shared store unavailable: rate limits are per replica until it is back",
                      {{"error", d.error.message()}});
        }
        d = co_await local_->admit(std::move(scopes), tokens);
        d.charge.local = true;
        co_return d;
    }

    net::awaitable<void> refund(store::rate_charge charge) override {
        if (charge.local) {
            co_await local_->refund(std::move(charge));
        } else {
            co_await shared_->refund(std::move(charge));
        }
    }

    net::awaitable<void> settle_tokens(store::rate_charge charge, std::uint64_t actual) override {
        if (charge.local) {
            co_await local_->settle_tokens(std::move(charge), actual);
        } else {
            co_await shared_->settle_tokens(std::move(charge), actual);
        }
    }

  private:
    std::shared_ptr<store::rate_limiter> shared_;
    std::shared_ptr<store::rate_limiter> local_;
    std::atomic<bool> degraded_{false};
};

struct pending_settle {
    std::string id;
    bool commit = false;
    store::actual_amounts actual;
};

class retrying_budgets final : public store::budget_store,
                               public std::enable_shared_from_this<retrying_budgets> {
  public:
    retrying_budgets(std::shared_ptr<store::budget_store> inner, net::any_io_executor bg)
        : inner_(std::move(inner)), bg_(std::move(bg)) {}

    net::awaitable<store::reserve_result> reserve(store::reservation r) override {
        co_return co_await inner_->reserve(std::move(r));
    }

    net::awaitable<error_code> commit(std::string id, store::actual_amounts actual) override {
        auto ec = co_await inner_->commit(id, actual);
        if (ec)
            later({std::move(id), true, actual}, ec);
        co_return error_code{};
    }

    net::awaitable<error_code> rollback(std::string id) override {
        auto ec = co_await inner_->rollback(id);
        if (ec)
            later({std::move(id), false, {}}, ec);
        co_return error_code{};
    }

    net::awaitable<std::vector<store::ledger_entry>> ledgers(store::budget_metric m) override {
        co_return co_await inner_->ledgers(m);
    }

    net::awaitable<store::reap_result> reap(std::int64_t cutoff_ms, std::size_t limit,
                                            bool dry_run) override {
        co_return co_await inner_->reap(cutoff_ms, limit, dry_run);
    }

  private:
    // Beyond this many, a failed settlement is left to the lease reaper (and logged).
    static constexpr std::uint64_t max_pending = 100'000;

    void later(pending_settle p, const error_code& ec) {
        if (pending_.fetch_add(1) >= max_pending) {
            pending_.fetch_sub(1);
            log::error("budget.settle_dropped",
                       "too many settlements waiting for the store; the lease reaper will "
                       "release this reservation",
                       {{"reservation", p.id}, {"error", ec.message()}});
            return;
        }
        log::warn("budget.settle_retry", "store unavailable; settlement will be retried",
                  {{"reservation", p.id}, {"error", ec.message()}});
        net::co_spawn(bg_, retry(shared_from_this(), std::move(p)), net::detached);
    }

    static net::awaitable<void> retry(std::shared_ptr<retrying_budgets> self, pending_settle p) {
        net::steady_timer timer(co_await net::this_coro::executor);
        auto delay = std::chrono::milliseconds(200);
        for (;;) {
            timer.expires_after(delay);
            error_code wait_ec;
            co_await timer.async_wait(net::redirect_error(net::use_awaitable, wait_ec));
            if (wait_ec)
                break;  // shutting down: the lease reaper releases it
            error_code ec;
            if (p.commit) {
                ec = co_await self->inner_->commit(p.id, p.actual);
            } else {
                ec = co_await self->inner_->rollback(p.id);
            }
            if (!ec) {
                log::info("budget.settle_recovered", "settlement written after a store outage",
                          {{"reservation", p.id}});
                break;
            }
            delay = std::min(delay * 2, std::chrono::milliseconds(5000));
        }
        self->pending_.fetch_sub(1);
    }

    std::shared_ptr<store::budget_store> inner_;
    net::any_io_executor bg_;
    std::atomic<std::uint64_t> pending_{0};
};

}  // namespace

std::shared_ptr<store::rate_limiter> with_local_fallback(
    std::shared_ptr<store::rate_limiter> shared, std::shared_ptr<store::rate_limiter> local) {
    return std::make_shared<fallback_limiter>(std::move(shared), std::move(local));
}

std::shared_ptr<store::budget_store> with_settle_retry(std::shared_ptr<store::budget_store> inner,
                                                       net::any_io_executor background) {
    return std::make_shared<retrying_budgets>(std::move(inner), std::move(background));
}

}  // namespace ditto::app
