#pragma once

// The in-memory control store: one process, so a save is seen at once and the watchers
// are called synchronously.

#include <mutex>
#include <vector>

#include "ditto/store/control_store.hpp"

namespace ditto::store {

class memory_control_store final : public control_store {
  public:
    boost::asio::awaitable<control_load> load() override;
    boost::asio::awaitable<control_save> save(
        control_state next, std::optional<std::uint64_t> expected_version) override;
    void watch(std::function<void(std::uint64_t)> on_change) override;

  private:
    control_load load_now();
    control_save save_now(control_state next, std::optional<std::uint64_t> expected_version);

    std::mutex mu_;
    std::optional<control_state> state_;
    std::vector<std::function<void(std::uint64_t)>> watchers_;
};

/// The memory implementation of every part of the store interface.
struct store_set;
/// `spend_retention`: how long the spend buckets keep an hour (docs/governance.md).
store_set make_memory_store(std::size_t audit_capacity = 10'000,
                            std::chrono::seconds spend_retention = std::chrono::hours(24 * 90));

}  // namespace ditto::store
