#include "store_gauges.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ditto/middleware/budget_periods.hpp"
#include "ditto/middleware/scopes.hpp"
#include "ditto/store/period_scope.hpp"

namespace ditto::app {

namespace net = boost::asio;

namespace {

// The `scope` label of a ledger's scope id (middleware/scopes.hpp names them).
std::string_view scope_kind(std::string_view id) {
    if (id.find("#model:") != std::string_view::npos)
        return "model";
    if (id.find(":project:") != std::string_view::npos || id.starts_with("project:"))
        return "project";
    if (id.find(":user:") != std::string_view::npos || id.starts_with("user:"))
        return "user";
    if (id.starts_with("tenant:"))
        return "tenant";
    return "key";
}

net::awaitable<void> loop(std::shared_ptr<store_gauges> g, std::shared_ptr<net::steady_timer> timer,
                          std::chrono::milliseconds interval) {
    while (!g->stopped()) {
        co_await g->refresh();
        if (g->stopped())
            break;
        timer->expires_after(interval);
        boost::system::error_code ec;
        co_await timer->async_wait(net::redirect_error(net::use_awaitable, ec));
    }
}

}  // namespace

store_gauges::store_gauges(store::store_set store, std::shared_ptr<admin::control_plane> control,
                           std::size_t max_series, std::chrono::milliseconds interval)
    : store_(std::move(store)),
      control_(std::move(control)),
      max_series_(max_series),
      interval_(interval) {}

void store_gauges::start(net::any_io_executor ex) {
    ex_ = ex;
    timer_ = std::make_shared<net::steady_timer>(ex);
    net::co_spawn(ex, loop(shared_from_this(), timer_, interval_), net::detached);
}

void store_gauges::stop() {
    if (stopped_.exchange(true) || !ex_)
        return;
    net::post(*ex_, [t = timer_] { t->cancel(); });
}

net::awaitable<void> store_gauges::refresh() {
    std::optional<bool> up;
    if (store_.health) {
        auto problem = co_await store_.health();  // awaited into a variable (GCC 12)
        up = !problem.has_value();
    }
    std::vector<metrics::budget_gauge> rows;
    // A store that does not answer keeps the last budgets: a gap in the series would read
    // as "no budget" on the dashboard.
    bool read_budgets = !up || *up;
    if (read_budgets && store_.budgets && control_) {
        const auto v = control_->current();
        const auto budgets = middleware::budgets_by_scope(*v->keys);
        // (A counted loop: GCC 12 mishandles a braced list's array in a coroutine frame.)
        for (int i = 0; i < 2 && read_budgets; ++i) {
            const bool costs = i == 1;
            std::vector<store::ledger_entry> all;
            try {
                all = co_await store_.budgets->ledgers(costs ? store::budget_metric::usd_micros
                                                             : store::budget_metric::tokens);
            } catch (const std::exception&) {
                read_budgets = false;  // the last reading stays
            }
            add_rows(all, budgets, costs, rows);
        }
    }
    keep(up, read_budgets ? &rows : nullptr);
}

void store_gauges::add_rows(
    const std::vector<store::ledger_entry>& all,
    const std::map<std::string, const config::budget_config*, std::less<>>& budgets, bool costs,
    std::vector<metrics::budget_gauge>& rows) const {
    const auto now = middleware::calendar_now_ms() / 1000;
    std::size_t kept = 0;
    for (const auto& e : all) {
        const auto period = store::split_period_scope(e.scope_id);
        if (period && (now < period->start || now >= period->end))
            continue;  // a past (or, near a boundary, the next) period's
        std::string_view scope = e.scope_id;
        if (period)
            scope = period->scope;
        const auto b = budgets.find(scope);
        const auto* cfg = b == budgets.end() ? nullptr : b->second;
        // One row per budget: a ledger of another period length (a month's, after the budget
        // became daily) is not this budget's, though its period holds `now` too.
        if (period && cfg && !middleware::period_matches(*cfg, period->start, period->end))
            continue;
        const auto limit = middleware::ledger_limit(cfg, period.has_value(), costs);
        if (!limit)
            continue;
        if (kept++ >= max_series_)
            break;
        rows.push_back({std::string(scope_kind(scope)), std::string(scope),
                        costs ? "usd_micros" : "tokens", e.spent + e.reserved, *limit});
    }
}

void store_gauges::keep(std::optional<bool> up, std::vector<metrics::budget_gauge>* budgets) {
    std::lock_guard lock(mu_);
    redis_up_ = up;
    if (budgets)
        budgets_ = std::move(*budgets);
}

void store_gauges::read(metrics::scrape_sources& out) const {
    std::lock_guard lock(mu_);
    out.redis_up = redis_up_;
    out.budgets = budgets_;
}

}  // namespace ditto::app
