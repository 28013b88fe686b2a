#include "ditto/middleware/settlement.hpp"

#include <boost/asio/co_spawn.hpp>

#include "ditto/log/log.hpp"

namespace ditto::middleware {
namespace {

boost::asio::awaitable<void> settle_later(std::unique_ptr<settlement> s) {
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
        boost::asio::co_spawn(ex, settle_later(std::move(rest)), [](const std::exception_ptr& e) {
            if (e)
                log::error("proxy.settle_error", "settling an unfinished request threw");
        });
    } catch (...) {
        // Destructors must not throw; the lease reaper releases what this misses.
    }
}

boost::asio::awaitable<boost::system::error_code> settlement::run() {
    if (done_)
        co_return boost::system::error_code{};
    done_ = true;
    boost::system::error_code first;
    for (auto& a : actions_) {
        auto ec = co_await a->settle(outcome_);
        if (ec && !first)
            first = ec;
    }
    actions_.clear();
    co_return first;
}

}  // namespace ditto::middleware
