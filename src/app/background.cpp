#include "background.hpp"

#include <malloc.h>

#include <algorithm>
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
        // The age is judged by the store's clock (Redis TIME), not this replica's.
        const auto r = co_await budgets->reap(lease, 100'000, false);
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

background::background() : guard_(net::make_work_guard(ioc_)), timer_(ioc_), trim_timer_(ioc_) {
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

void background::start_memory_trim(connection_counts connections, std::function<void()> release) {
    {
        std::lock_guard lock(trim_mu_);
        connections_ = std::move(connections);
        release_ = std::move(release);
    }
    net::co_spawn(ioc_, trim_loop(this), net::detached);
}

void background::stop_memory_trim() {
    std::lock_guard lock(trim_mu_);
    connections_ = nullptr;
    release_ = nullptr;
}

// mimalloc's, when the binary links it (weak: the tests link this library without it).
extern "C" void mi_collect(bool force) __attribute__((weak));

// Under a sanitizer, malloc is the sanitizer's, not glibc's: glibc's arenas may never have
// been set up, and malloc_trim then walks a null top chunk (an ASan build crashed there once in
// CI). The sanitizer keeps freed memory in its own quarantine; there is nothing to hand back.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DITTO_SANITIZER_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define DITTO_SANITIZER_MALLOC 1
#endif
#endif

void release_free_memory() {
    // mimalloc keeps a thread's freed pages in that thread's heap until the thread allocates
    // again, which an idle worker does not; glibc keeps them in its arenas. Both give the
    // memory back when asked.
    if (mi_collect) {
        mi_collect(true);
        return;
    }
#ifndef DITTO_SANITIZER_MALLOC
    ::malloc_trim(0);
#endif
}

net::awaitable<void> background::trim_loop(background* self) {
    std::size_t peak = 0;
    for (;;) {
        self->trim_timer_.expires_after(std::chrono::seconds(2));
        boost::system::error_code ec;
        co_await self->trim_timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
        if (ec)
            co_return;  // stopping
        std::size_t open = 0;
        {
            std::lock_guard lock(self->trim_mu_);
            if (!self->connections_)
                co_return;
            const auto [now, most] = self->connections_();
            open = now;
            peak = std::max(peak, most);
        }
        if (peak >= 256 && open <= peak / 2) {
            {
                std::lock_guard lock(self->trim_mu_);
                if (self->release_)
                    self->release_();
            }
            release_free_memory();
            log::debug("memory.trim", "returned freed heap to the system",
                       {{"peak_connections", std::to_string(peak)},
                        {"open_connections", std::to_string(open)}});
            log::flush();  // once per burst: the event shows when it happens
            peak = open;
        }
    }
}

void background::stop(std::chrono::milliseconds grace) {
    if (!thread_.joinable())
        return;
    net::post(ioc_, [this] {
        timer_.cancel();
        trim_timer_.cancel();
    });
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
