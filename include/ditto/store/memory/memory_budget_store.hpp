#pragma once

// The in-memory budget store (docs/governance.md, "Budgets" and "Store"): ledgers of spent and
// reserved amounts per (scope, metric) in locked shards, and the open reservations by id in
// shards of their own, so concurrent requests of different keys do not contend.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ditto/store/budget_store.hpp"
#include "ditto/store/memory/sharded_map.hpp"

namespace ditto::store {

class memory_budget_store final : public budget_store {
  public:
    using clock_fn = std::function<std::int64_t()>;  ///< unix milliseconds

    explicit memory_budget_store(clock_fn now_ms = system_ms);

    boost::asio::awaitable<reserve_result> reserve(reservation r) override;
    std::optional<reserve_result> try_reserve(const reservation& r) override {
        return reserve_now(r);
    }
    boost::asio::awaitable<boost::system::error_code> commit(std::string id,
                                                             actual_amounts actual) override;
    boost::asio::awaitable<boost::system::error_code> rollback(std::string id) override;
    std::optional<boost::system::error_code> try_commit(const std::string& id,
                                                        const actual_amounts& a) override {
        settle_now(id, &a);
        return boost::system::error_code{};
    }
    std::optional<boost::system::error_code> try_rollback(const std::string& id) override {
        settle_now(id, nullptr);
        return boost::system::error_code{};
    }
    boost::asio::awaitable<std::vector<ledger_entry>> ledgers(budget_metric metric) override;
    boost::asio::awaitable<reap_result> reap(std::chrono::milliseconds older_than,
                                             std::size_t limit, bool dry_run) override;

    /// Synchronous forms (the memory store does no I/O).
    reserve_result reserve_now(const reservation& r);
    void settle_now(const std::string& id, const actual_amounts* actual);
    std::vector<ledger_entry> ledgers_now(budget_metric metric) const;
    reap_result reap_now(std::chrono::milliseconds older_than, std::size_t limit, bool dry_run);

    /// Drops the ledgers of scopes not listed (a period's ledger `<scope>@…` goes with its
    /// scope), unless a reservation is open on them.
    void retain_only(const std::vector<std::string>& live_scope_ids);
    std::size_t open_reservations() const;

    static std::int64_t system_ms();

  private:
    struct ledger {
        std::uint64_t spent = 0;
        std::uint64_t reserved = 0;
        std::int64_t updated_at_ms = 0;
        std::int64_t expire_at = 0;  ///< unix s: a past period's ledger, dropped by reap; 0 never
    };
    struct held {
        std::vector<budget_line> lines;  ///< limits dropped; amounts as reserved
        std::int64_t ts_ms = 0;
        bool pending = true;  ///< inserted before the ledgers are checked
        /// A settlement that came before its reservation: the id's reservation, if it comes,
        /// does nothing (as the Redis store's `settled` marker). Dropped by reap after a day.
        bool settled_first = false;
    };

    static std::string ledger_key(const budget_line& l);
    void release(const std::vector<budget_line>& lines, const actual_amounts* actual);

    clock_fn now_;
    sharded_map<ledger> ledgers_;
    sharded_map<held, 16> reservations_;
};

}  // namespace ditto::store
