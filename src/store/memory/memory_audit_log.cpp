#include "ditto/store/memory/memory_audit_log.hpp"

#include <algorithm>
#include <chrono>

namespace ditto::store {

memory_audit_log::memory_audit_log(std::size_t capacity, clock_fn now_ms,
                                   std::shared_ptr<memory_spend_log> spend)
    : per_shard_(std::max<std::size_t>(1, (capacity + shard_count - 1) / shard_count)),
      now_(std::move(now_ms)),
      spend_(std::move(spend)) {
    if (!now_) {
        now_ = [] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                .count();
        };
    }
}

std::uint64_t memory_audit_log::append_now(std::string kind, std::string payload_json) {
    const std::uint64_t id = seq_.fetch_add(1, std::memory_order_relaxed) + 1;
    audit_record rec{id, now_(), std::move(kind), std::move(payload_json)};
    shard& sh = shards_[id % shard_count];
    const std::lock_guard<std::mutex> lock(sh.mu);
    if (sh.ring.size() < per_shard_) {
        sh.ring.push_back(std::move(rec));
    } else {
        sh.ring[sh.next] = std::move(rec);
        sh.next = (sh.next + 1) % per_shard_;
    }
    return id;
}

std::vector<audit_record> memory_audit_log::list_now(const audit_query& q) const {
    std::vector<audit_record> out;
    for (const shard& sh : shards_) {
        const std::lock_guard<std::mutex> lock(sh.mu);
        for (const audit_record& r : sh.ring) {
            if (q.since_ts_ms && r.ts_ms < *q.since_ts_ms)
                continue;
            if (q.before_ts_ms && r.ts_ms >= *q.before_ts_ms)
                continue;
            out.push_back(r);
        }
    }
    std::sort(out.begin(), out.end(),
              [](const audit_record& a, const audit_record& b) { return a.id > b.id; });
    if (out.size() > q.limit)
        out.resize(q.limit);
    return out;
}

boost::asio::awaitable<boost::system::error_code> memory_audit_log::append(
    std::string kind, std::string payload_json) {
    append_now(std::move(kind), std::move(payload_json));
    co_return boost::system::error_code{};
}

boost::asio::awaitable<std::vector<audit_record>> memory_audit_log::list(audit_query q) {
    co_return list_now(q);
}

}  // namespace ditto::store
