#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "ditto/store/budget_store.hpp"

namespace ditto::app {

/// Gives freed heap memory back to the system, for the calling thread's heap (mimalloc)
/// or the whole process (glibc).
void release_free_memory();

/// The background executor: one thread for work that must not run on (or outlive) a
/// worker — settling torn-down requests, retrying settlements, reaping expired reservations
/// (docs/governance.md, "Budgets"), the store's change feed. It outlives the server, so shutdown
/// settles what the workers leave open.
class background {
  public:
    background();
    ~background() { stop(); }
    background(const background&) = delete;
    background& operator=(const background&) = delete;

    boost::asio::any_io_executor executor() { return ioc_.get_executor(); }

    /// Releases reservations older than `lease`, every min(lease, 60 s).
    void start_reaper(std::shared_ptr<store::budget_store> budgets, std::chrono::seconds lease);

    /// Open connections now, and the most open at once since the last call.
    using connection_counts = std::function<std::pair<std::size_t, std::size_t>()>;
    /// Returns freed heap memory to the system after a burst of connections ends (the
    /// allocator keeps it otherwise): every 2 s, when the connections open are at most half
    /// the peak since the last release and that peak was at least 256, calls `release`
    /// (which should run release_free_memory() on every worker thread) and
    /// release_free_memory() here.
    void start_memory_trim(connection_counts connections, std::function<void()> release);
    /// Stops calling the functions above (before what they use is destroyed).
    void stop_memory_trim();

    /// Lets queued work finish for up to `grace`, then stops and joins the thread.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  private:
    static boost::asio::awaitable<void> trim_loop(background* self);

    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    boost::asio::steady_timer timer_;
    boost::asio::steady_timer trim_timer_;
    std::mutex trim_mu_;
    connection_counts connections_;  ///< guarded by trim_mu_
    std::function<void()> release_;  ///< guarded by trim_mu_
    std::promise<void> done_;
    std::thread thread_;
};

}  // namespace ditto::app
