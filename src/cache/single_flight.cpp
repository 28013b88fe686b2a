#include "ditto/cache/single_flight.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ditto::cache {

namespace net = boost::asio;

struct flight::waiter {
    explicit waiter(const net::any_io_executor& ex) : timer(ex) {}
    net::steady_timer timer;
};

bool flight::add_waiter(const std::shared_ptr<waiter>& w) {
    std::lock_guard lock(mu_);
    if (done_)
        return false;
    waiters_.push_back(w);
    return true;
}

std::shared_ptr<const entry> flight::result() {
    std::lock_guard lock(mu_);
    return result_;
}

net::awaitable<std::shared_ptr<const entry>> flight::wait(std::chrono::milliseconds bound) {
    auto w = std::make_shared<waiter>(co_await net::this_coro::executor);
    w->timer.expires_after(bound);
    const bool added = add_waiter(w);
    if (added) {
        // Ends at the bound, or earlier when the leader cancels the timer (operation_aborted);
        // either way the result decides.
        boost::system::error_code ec;
        co_await w->timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    co_return result();
}

void flight::finish(std::shared_ptr<const entry> e) {
    std::vector<std::shared_ptr<waiter>> wake;
    {
        std::lock_guard lock(mu_);
        if (done_)
            return;
        done_ = true;
        result_ = std::move(e);
        wake.swap(waiters_);
    }
    // A timer belongs to its waiter's worker: cancel it there.
    for (auto& w : wake) {
        auto ex = w->timer.get_executor();
        net::post(ex, [w = std::move(w)] { w->timer.cancel(); });
    }
}

single_flight::lead& single_flight::lead::operator=(lead&& o) noexcept {
    if (this != &o) {
        finish(nullptr);
        owner_ = o.owner_;
        key_ = std::move(o.key_);
        f_ = std::move(o.f_);
        o.owner_ = nullptr;
    }
    return *this;
}

void single_flight::lead::finish(std::shared_ptr<const entry> e) {
    if (!f_)
        return;
    auto f = std::move(f_);
    f_.reset();
    // Leave first: a miss arriving after this leads a new flight instead of joining one
    // that is over.
    owner_->leave(key_, f.get());
    f->finish(std::move(e));
}

single_flight::ticket single_flight::join(const std::string& key) {
    std::lock_guard lock(mu_);
    auto [it, inserted] = flights_.try_emplace(key);
    ticket t;
    if (!inserted) {
        t.follow = it->second;
        return t;
    }
    it->second = std::make_shared<flight>();
    t.leader = lead(this, key, it->second);
    return t;
}

std::size_t single_flight::in_progress() {
    std::lock_guard lock(mu_);
    return flights_.size();
}

void single_flight::leave(const std::string& key, const flight* f) {
    std::lock_guard lock(mu_);
    if (auto it = flights_.find(key); it != flights_.end() && it->second.get() == f)
        flights_.erase(it);
}

}  // namespace ditto::cache
