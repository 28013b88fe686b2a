#pragma once

// Gauges that need the store (docs/observability.md, "Dashboards and alerts"): whether Redis
// answers, and each budget's use against its limit in its current period. A scrape must not
// wait on Redis, so a loop on the background executor reads them every few seconds and the
// scrape shows the last reading.

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <mutex>

#include "ditto/admin/control_plane.hpp"
#include "ditto/metrics/prometheus.hpp"
#include "ditto/store/budget_store.hpp"
#include "ditto/store/store.hpp"

namespace ditto::app {

class store_gauges : public std::enable_shared_from_this<store_gauges> {
  public:
    /// `max_series`: budget series kept per unit (the label caps of --prometheus-max-*).
    store_gauges(store::store_set store, std::shared_ptr<admin::control_plane> control,
                 std::size_t max_series, std::chrono::milliseconds interval);
    /// Starts the loop on `ex`.
    void start(boost::asio::any_io_executor ex);
    /// Ends the loop (any thread), so that it does not hold the background thread at exit.
    void stop();
    /// The last reading, into a scrape's sources.
    void read(metrics::scrape_sources& out) const;
    /// One reading (the loop's body; public for the loop's coroutine).
    boost::asio::awaitable<void> refresh();
    bool stopped() const { return stopped_; }

  private:
    void keep(std::optional<bool> up, std::vector<metrics::budget_gauge>* budgets);
    void add_rows(const std::vector<store::ledger_entry>& all,
                  const std::map<std::string, const config::budget_config*, std::less<>>& budgets,
                  bool costs, std::vector<metrics::budget_gauge>& rows) const;

    store::store_set store_;
    std::shared_ptr<admin::control_plane> control_;
    std::size_t max_series_;
    std::chrono::milliseconds interval_;
    std::optional<boost::asio::any_io_executor> ex_;
    std::shared_ptr<boost::asio::steady_timer> timer_;  ///< on ex_ only
    std::atomic<bool> stopped_{false};
    mutable std::mutex mu_;
    std::optional<bool> redis_up_;
    std::vector<metrics::budget_gauge> budgets_;
};

}  // namespace ditto::app
