#include "background.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ditto/log/log.hpp"

namespace ditto::app {
namespace {

namespace net = boost::asio;

net::awaitable<void> reap_loop(std::shared_ptr<store::budget_store> budgets,
                               std::chrono::seconds lease, net::steady_timer* timer) {
    const auto every = std::min<std::chrono::seconds>(lease, std::chrono::seconds(60));
    for (;;) {
        timer->expires_after(every);
        boost::system::error_code ec;
        co_await timer->async_wait(net::redirect_error(net::use_awaitable, ec));
        if (ec)
            co_return;  // stopping
        const auto cutoff = std::chrono::duration_cast<std::chrono::milliseconds>(
                                (std::chrono::system_clock::now() - lease).time_since_epoch())
                                .count();
        const auto r = co_await budgets->reap(cutoff, 100'000, false);
        if (r.error) {
            log::warn("budget.reap_error", r.error.message());
        } else if (r.reaped > 0) {
            log::warn("budget.reaped", "released reservations whose lease expired",
                      {{"reaped", std::to_string(r.reaped)},
                       {"released_tokens", std::to_string(r.released_tokens)},
                       {"released_usd_micros", std::to_string(r.released_usd_micros)}});
        }
    }
}

}  // namespace

background::background() : guard_(net::make_work_guard(ioc_)), timer_(ioc_) {
    thread_ = std::thread([this] {
        try {
            ioc_.run();
        } catch (const std::exception& e) {
            log::error("background.error", e.what());
        }
        done_.set_value();
    });
}

void background::start_reaper(std::shared_ptr<store::budget_store> budgets,
                              std::chrono::seconds lease) {
    net::co_spawn(ioc_, reap_loop(std::move(budgets), lease, &timer_), net::detached);
}

void background::stop(std::chrono::milliseconds grace) {
    if (!thread_.joinable())
        return;
    net::post(ioc_, [this] { timer_.cancel(); });
    guard_.reset();
    // Settlements still queued get `grace` to finish; a store that stays down cannot hold
    // the exit (its reservations are released by the lease reaper of another replica).
    if (done_.get_future().wait_for(grace) != std::future_status::ready) {
        log::warn("background.stop", "pending settlements abandoned at exit");
        ioc_.stop();
    }
    thread_.join();
}

}  // namespace ditto::app
