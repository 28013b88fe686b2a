#pragma once

// x-request-id records in this process (docs/proxy.md, "Retries with x-request-id"), bounded in
// bytes: past the bound the oldest completed records go first.

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "ditto/store/dedup_store.hpp"

namespace ditto::store {

class memory_dedup_store final : public dedup_store {
  public:
    using clock = std::chrono::steady_clock;
    explicit memory_dedup_store(std::uint64_t max_bytes = 64ull << 20) : max_bytes_(max_bytes) {}

    boost::asio::awaitable<dedup_begin_result> begin(dedup_lease l,
                                                     std::chrono::milliseconds lease) override;
    boost::asio::awaitable<boost::system::error_code> refresh(
        dedup_lease l, std::chrono::milliseconds lease) override;
    boost::asio::awaitable<boost::system::error_code> complete(
        dedup_lease l, std::string record, std::chrono::milliseconds retention) override;
    boost::asio::awaitable<boost::system::error_code> abandon(dedup_lease l) override;

    /// The same operations without a coroutine, at `now` (tests drive the clock).
    dedup_begin_result begin_at(const dedup_lease& l, std::chrono::milliseconds lease,
                                clock::time_point now);
    void refresh_at(const dedup_lease& l, std::chrono::milliseconds lease, clock::time_point now);
    void complete_at(const dedup_lease& l, std::string record, std::chrono::milliseconds retention,
                     clock::time_point now);
    void abandon_at(const dedup_lease& l, clock::time_point now);
    std::uint64_t bytes();

  private:
    struct entry {
        std::string fingerprint;
        std::string token;  ///< the leader's, while in flight
        bool completed = false;
        std::string answer;
        clock::time_point expires;
        std::uint64_t seq = 0;  ///< which completion the `order_` entry names
    };
    /// The record `l` leads, live at `now`; null otherwise. Under `mu_`.
    entry* held(const dedup_lease& l, clock::time_point now);
    void evict_over_bound(clock::time_point now);

    std::mutex mu_;
    std::unordered_map<std::string, entry> records_;
    std::deque<std::pair<std::string, std::uint64_t>> order_;  ///< completions, oldest first
    std::uint64_t bytes_ = 0;
    std::uint64_t next_seq_ = 0;
    std::uint64_t max_bytes_;
};

}  // namespace ditto::store
