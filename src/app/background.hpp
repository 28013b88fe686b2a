#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "ditto/store/budget_store.hpp"

namespace ditto::app {

/// The background executor: one thread for work that must not run on (or outlive) a
/// worker — settling torn-down requests, retrying settlements, reaping expired reservations
/// (SPEC §0.3), the store's change feed. It outlives the server, so shutdown settles what the
/// workers leave open.
class background {
  public:
    background();
    ~background() { stop(); }
    background(const background&) = delete;
    background& operator=(const background&) = delete;

    boost::asio::any_io_executor executor() { return ioc_.get_executor(); }

    /// Releases reservations older than `lease`, every min(lease, 60 s).
    void start_reaper(std::shared_ptr<store::budget_store> budgets, std::chrono::seconds lease);

    /// Lets queued work finish for up to `grace`, then stops and joins the thread.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  private:
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    boost::asio::steady_timer timer_;
    std::promise<void> done_;
    std::thread thread_;
};

}  // namespace ditto::app
