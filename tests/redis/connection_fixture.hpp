#pragma once

// RedisConnection: a redis_connection on an io_context of its own thread, as a gateway
// worker runs it, for the suites that talk to a real redis-server through it.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ditto/store/redis/redis_connection.hpp"
#include "ditto/store/redis/redis_url.hpp"

namespace ditto::store::redis {

namespace net = boost::asio;
using namespace std::chrono_literals;

/// An io_context on its own thread, as a gateway worker would run it; the test thread
/// drives coroutines on it and signals the server in between.
class RedisConnection : public ::testing::Test {
  protected:
    RedisConnection() : thread_([this] { io_.run(); }) {}

    ~RedisConnection() override {
        for (const auto& c : conns_) {
            c->close();
        }
        // Everything the connections spawned must end after close(): the io_context then
        // runs out of work and its thread returns.
        guard_.reset();
        auto finished = std::async(std::launch::async, [this] { thread_.join(); });
        if (finished.wait_for(10s) != std::future_status::ready) {
            ADD_FAILURE() << "coroutines still running 10 s after close()";
            io_.stop();
        }
        finished.wait();
    }

    std::shared_ptr<redis_connection> connect(const std::string& url_text, redis_options opt = {}) {
        std::string error;
        auto url = parse_redis_url(url_text, error);
        if (!url) {
            ADD_FAILURE() << error;
            url = redis_url{};
        }
        conns_.push_back(redis_connection::create(io_.get_executor(), *url, opt));
        return conns_.back();
    }

    /// Runs `a` on the io_context and waits for it (bounded, so a hang fails the test).
    template <class T>
    T await(net::awaitable<T> a, std::chrono::seconds limit = 10s) {
        auto fut = net::co_spawn(io_, std::move(a), net::use_future);
        if (fut.wait_for(limit) != std::future_status::ready) {
            ADD_FAILURE() << "awaitable did not finish within " << limit.count() << " s";
            throw std::runtime_error("hung");
        }
        return fut.get();
    }

    redis_result exec(const std::shared_ptr<redis_connection>& c, std::vector<std::string> args) {
        return await(c->exec(std::move(args)));
    }

    /// Polls until `exec(args)` succeeds with a non-error reply; bounded by `limit`.
    bool eventually_ok(const std::shared_ptr<redis_connection>& c,
                       const std::vector<std::string>& args, std::chrono::seconds limit = 10s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            redis_result r = exec(c, args);
            if (!r.error && !r.reply.is_error()) {
                return true;
            }
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }

    net::io_context io_{1};
    net::executor_work_guard<net::io_context::executor_type> guard_{io_.get_executor()};
    std::thread thread_;
    std::vector<std::shared_ptr<redis_connection>> conns_;
};

}  // namespace ditto::store::redis
