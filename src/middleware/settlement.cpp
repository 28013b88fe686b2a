#include "ditto/middleware/settlement.hpp"

#include <boost/asio/co_spawn.hpp>

#include "ditto/log/log.hpp"
#include "ditto/store/background_writes.hpp"

namespace ditto::middleware {
namespace {

boost::asio::awaitable<void> settle_later(std::unique_ptr<settlement> s,
                                          [[maybe_unused]] store::background_write counted) {
    const auto ec = co_await s->run();
    if (ec)
        log::error("proxy.settle_error", "settling an unfinished request failed",
                   {{"error", ec.message()}});
}

}  // namespace

settlement::settlement(settlement&& other) noexcept
    : actions_(std::move(other.actions_)),
      outcome_(std::move(other.outcome_)),
      background_(std::move(other.background_)),
      next_(other.next_),
      first_error_(other.first_error_),
      done_(other.done_) {
    other.done_ = true;
    other.actions_.clear();
}

settlement::~settlement() {
    if (done_ || actions_.empty() || !background_)
        return;
    // Nobody ran it: the request was torn down (client gone, shutdown). Settle on the
    // background executor with what is known; a stream without usage counts as incomplete.
    try {
        auto rest = std::make_unique<settlement>(std::move(*this));
        rest->outcome_.completed = false;
        auto ex = *rest->background_;
        store::background_write counted;
        boost::asio::co_spawn(
            ex, settle_later(std::move(rest), std::move(counted)), [](const std::exception_ptr& e) {
                if (e)
                    log::error("proxy.settle_error", "settling an unfinished request threw");
            });
    } catch (...) {
        // Destructors must not throw; the lease reaper releases what this misses.
    }
}

std::optional<boost::system::error_code> settlement::run_now() {
    if (done_)
        return boost::system::error_code{};
    for (; next_ < actions_.size(); ++next_) {
        const auto ec = actions_[next_]->settle_now(outcome_);
        if (!ec)
            return std::nullopt;
        if (*ec && !first_error_)
            first_error_ = *ec;
    }
    if (auto& p = outcome_.pending) {
        const auto ec = p->governor->try_settle(p->request);
        if (!ec)
            return std::nullopt;
        p.reset();
        if (*ec && !first_error_)
            first_error_ = *ec;
    }
    done_ = true;
    actions_.clear();
    return first_error_;
}

boost::asio::awaitable<boost::system::error_code> settlement::run() {
    if (done_)
        co_return boost::system::error_code{};
    done_ = true;  // also while it waits: the destructor must not settle it a second time
    for (; next_ < actions_.size(); ++next_) {
        auto ec = co_await actions_[next_]->settle(outcome_);
        if (ec && !first_error_)
            first_error_ = ec;
    }
    if (outcome_.pending) {
        auto p = std::move(*outcome_.pending);
        outcome_.pending.reset();
        const auto ec = co_await p.governor->settle(std::move(p.request));
        if (ec && !first_error_)
            first_error_ = ec;
    }
    actions_.clear();
    co_return first_error_;
}

}  // namespace ditto::middleware
