#include "ditto/store/memory/memory_control_store.hpp"

#include "ditto/store/memory/memory_audit_log.hpp"
#include "ditto/store/memory/memory_budget_store.hpp"
#include "ditto/store/memory/memory_dedup_store.hpp"
#include "ditto/store/memory/memory_rate_limiter.hpp"
#include "ditto/store/store.hpp"

namespace ditto::store {

// The work is done in plain functions: locks must not live in a coroutine frame (GCC 12).
control_load memory_control_store::load_now() {
    const std::lock_guard<std::mutex> lock(mu_);
    return control_load{{}, state_};
}

control_save memory_control_store::save_now(control_state next,
                                            std::optional<std::uint64_t> expected_version) {
    std::vector<std::function<void(std::uint64_t)>> watchers;
    std::uint64_t version = 0;
    {
        const std::lock_guard<std::mutex> lock(mu_);
        const std::uint64_t current = state_ ? state_->version : 0;
        if (expected_version && *expected_version != current)
            return control_save{control_conflict(), current};
        version = current + 1;
        next.version = version;
        state_ = std::move(next);
        watchers = watchers_;
    }
    // Outside the lock: a watcher reloads, which takes it again.
    for (auto& w : watchers)
        w(version);
    return control_save{{}, version};
}

boost::asio::awaitable<control_load> memory_control_store::load() {
    co_return load_now();
}

boost::asio::awaitable<control_save> memory_control_store::save(
    control_state next, std::optional<std::uint64_t> expected_version) {
    co_return save_now(std::move(next), expected_version);
}

void memory_control_store::watch(std::function<void(std::uint64_t)> on_change) {
    const std::lock_guard<std::mutex> lock(mu_);
    watchers_.push_back(std::move(on_change));
}

store_set make_memory_store(std::size_t audit_capacity, std::chrono::seconds spend_retention) {
    store_set s;
    s.name = "memory";
    s.limits = std::make_shared<memory_rate_limiter>();
    s.budgets = std::make_shared<memory_budget_store>();
    auto spend = std::make_shared<memory_spend_log>(spend_retention.count());
    s.audit = std::make_shared<memory_audit_log>(audit_capacity, nullptr, spend);
    s.spend = spend;
    s.control = std::make_shared<memory_control_store>();
    s.dedup = std::make_shared<memory_dedup_store>();
    s.governance = make_composite_governor(s, false);
    return s;
}

}  // namespace ditto::store
