#pragma once

// The memory store's spend buckets (docs/governance.md, "Spend over time"): hourly rows in
// this process, bounded by the retention and by a row cap (the oldest hours go first).

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "ditto/store/spend_log.hpp"

namespace ditto::store {

class memory_spend_log final : public spend_log {
  public:
    using clock_fn = std::function<std::int64_t()>;  ///< unix seconds

    explicit memory_spend_log(std::int64_t retention_seconds = 90LL * 86'400,
                              std::size_t max_rows = 1'000'000, clock_fn now_s = {});

    void record(const spend_sample& s);
    spend_result query_now(const spend_query& q) const;
    boost::asio::awaitable<spend_result> query(spend_query q) override;
    std::size_t rows() const;

  private:
    void trim(std::int64_t hour);

    std::int64_t retention_;
    std::size_t max_rows_;
    clock_fn now_;
    mutable std::mutex mu_;
    std::map<std::int64_t, std::unordered_map<std::string, spend_counters>> hours_;
    std::size_t rows_ = 0;
};

}  // namespace ditto::store
