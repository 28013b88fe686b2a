#include "ditto/proxy/health_checker.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ditto/log/log.hpp"

namespace ditto::proxy {

namespace net = boost::asio;

namespace {
constexpr std::size_t max_concurrent = 8;
}

struct health_checker::impl {
    std::shared_ptr<upstreams> ups;
    std::shared_ptr<backend_health> health;
    net::any_io_executor ex;
    net::steady_timer timer;
    std::atomic<bool> stopped{false};
    // Used on `ex` only: one pool per backend, and the round's bookkeeping.
    std::vector<std::unique_ptr<upstream::pool>> pools;
    std::size_t next = 0;
    std::size_t running = 0;
    std::shared_ptr<net::steady_timer> round_done;

    impl(std::shared_ptr<upstreams> u, std::shared_ptr<backend_health> h, net::any_io_executor e)
        : ups(std::move(u)), health(std::move(h)), ex(e), timer(e) {
        for (const auto& b : ups->backends().all())
            pools.push_back(std::make_unique<upstream::pool>(*b));
    }
};

namespace {

net::awaitable<void> probe(std::shared_ptr<health_checker::impl> s, std::size_t index);

// One of at most 8 probers: takes the next backend until none is left.
net::awaitable<void> prober(std::shared_ptr<health_checker::impl> s) {
    while (s->next < s->pools.size() && !s->stopped)
        co_await probe(s, s->next++);
    if (--s->running == 0 && s->round_done)
        s->round_done->cancel();
}

net::awaitable<void> probe(std::shared_ptr<health_checker::impl> s, std::size_t index) {
    auto& pool = *s->pools[index];
    auto& b = pool.target();
    const auto& hc = s->health->settings().health;
    http::request req{http::bhttp::verb::get, hc.path, 11};
    auto out = upstream::build_outgoing(req, b, hc.path, "", "", "ditto-health-check");
    out.replay_safe = true;
    auto r =
        co_await upstream::exchange(pool, out, 64 * 1024, std::chrono::seconds(hc.timeout_seconds));
    if (r.failure != upstream::failure_kind::none) {
        s->health->record_check(b.name(), false, r.error);
        co_return;
    }
    const auto status = r.response.msg.result_int();
    if (status / 100 == 2) {
        s->health->record_check(b.name(), true, "");
    } else {
        s->health->record_check(b.name(), false, "health check returned " + std::to_string(status));
    }
}

net::awaitable<void> loop(std::shared_ptr<health_checker::impl> s) {
    const auto interval = std::chrono::seconds(s->health->settings().health.interval_seconds);
    while (!s->stopped) {
        s->next = 0;
        s->running = std::min(max_concurrent, s->pools.size());
        s->round_done =
            std::make_shared<net::steady_timer>(s->ex, net::steady_timer::time_point::max());
        auto done = s->round_done;
        for (std::size_t i = 0; i < s->running; ++i)
            net::co_spawn(s->ex, prober(s), net::detached);
        if (s->running > 0) {
            boost::system::error_code ec;
            co_await done->async_wait(net::redirect_error(net::use_awaitable, ec));
        }
        if (s->stopped)
            break;
        s->timer.expires_after(interval);
        boost::system::error_code ec;
        co_await s->timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
}

}  // namespace

health_checker::health_checker(std::shared_ptr<upstreams> ups,
                               std::shared_ptr<backend_health> health, net::any_io_executor ex)
    : impl_(std::make_shared<impl>(std::move(ups), std::move(health), ex)) {}

health_checker::~health_checker() {
    stop();
}

void health_checker::start() {
    net::co_spawn(impl_->ex, loop(impl_), net::detached);
}

void health_checker::stop() {
    if (impl_->stopped.exchange(true))
        return;
    auto s = impl_;
    net::post(s->ex, [s] { s->timer.cancel(); });
}

}  // namespace ditto::proxy
