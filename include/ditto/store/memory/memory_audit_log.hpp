#pragma once

// The in-memory audit log (our decision, docs/governance.md): the newest `capacity` records
// in rings split by id over a few locked shards, so appends from different workers rarely
// meet on one lock and memory stays bounded without Redis.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "ditto/store/audit_log.hpp"
#include "ditto/store/memory/memory_spend_log.hpp"

namespace ditto::store {

class memory_audit_log final : public audit_log {
  public:
    using clock_fn = std::function<std::int64_t()>;  ///< unix milliseconds

    /// `spend`: the buckets append_spent() counts in; none, none kept.
    explicit memory_audit_log(std::size_t capacity = 10'000, clock_fn now_ms = {},
                              std::shared_ptr<memory_spend_log> spend = {});

    boost::asio::awaitable<boost::system::error_code> append(std::string kind,
                                                             std::string payload_json) override;
    boost::asio::awaitable<std::vector<audit_record>> list(audit_query q) override;
    bool appends_now() const override { return true; }
    boost::system::error_code append_sync(std::string kind, std::string payload_json) override {
        append_now(std::move(kind), std::move(payload_json));
        return {};
    }

    boost::asio::awaitable<boost::system::error_code> append_spent(std::string kind,
                                                                   std::string payload_json,
                                                                   bool vetted,
                                                                   spend_sample spend) override {
        co_return append_spent_sync(std::move(kind), std::move(payload_json), vetted,
                                    std::move(spend));
    }
    boost::system::error_code append_spent_sync(std::string kind, std::string payload_json,
                                                bool /*vetted*/, spend_sample spend) override {
        if (!kind.empty())
            append_now(std::move(kind), std::move(payload_json));
        if (spend_)
            spend_->record(spend);
        return {};
    }

    std::uint64_t append_now(std::string kind, std::string payload_json);
    std::vector<audit_record> list_now(const audit_query& q) const;

  private:
    static constexpr std::size_t shard_count = 8;
    struct alignas(64) shard {
        mutable std::mutex mu;
        std::vector<audit_record> ring;
        std::size_t next = 0;  ///< where the next record goes once the ring is full
    };

    std::size_t per_shard_;
    clock_fn now_;
    std::shared_ptr<memory_spend_log> spend_;
    std::atomic<std::uint64_t> seq_{0};
    std::array<shard, shard_count> shards_;
};

}  // namespace ditto::store
