#include "ditto/store/memory/memory_spend_log.hpp"

#include <chrono>

namespace ditto::store {

memory_spend_log::memory_spend_log(std::int64_t retention_seconds, std::size_t max_rows,
                                   clock_fn now_s)
    : retention_(retention_seconds), max_rows_(max_rows), now_(std::move(now_s)) {
    if (!now_) {
        now_ = [] {
            return std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                .count();
        };
    }
}

void memory_spend_log::record(const spend_sample& s) {
    const auto hour = now_() / 3600;
    const std::lock_guard lock(mu_);
    auto& rows = hours_[hour];
    auto it = rows.find(s.dims);
    if (it == rows.end()) {
        trim(hour);
        // Full with this hour's rows alone (a client naming ever new models): the row of
        // everything over the cap, so memory stays bounded and nothing goes uncounted.
        static const std::string over = spend_dims("(over the row cap)", "", "", "", "");
        auto [at, made] = rows.try_emplace(rows_ >= max_rows_ ? over : s.dims);
        rows_ += made ? 1 : 0;
        it = at;
    }
    it->second.add(spend_counters::of(s));
}

// Before a row is added: hours past the retention go, then the oldest hours while the rows
// are at the cap (never the current one).
void memory_spend_log::trim(std::int64_t hour) {
    const auto oldest = hour - retention_ / 3600;
    while (!hours_.empty() && hours_.begin()->first != hour &&
           (hours_.begin()->first < oldest || rows_ >= max_rows_)) {
        rows_ -= hours_.begin()->second.size();
        hours_.erase(hours_.begin());
    }
}

spend_result memory_spend_log::query_now(const spend_query& q) const {
    const auto step = q.daily ? 86'400 : 3600;
    spend_result out;
    std::map<std::pair<std::int64_t, std::string>, spend_counters> rows;
    {
        const std::lock_guard lock(mu_);
        for (auto it = hours_.lower_bound(q.from / 3600); it != hours_.end(); ++it) {
            const auto start = it->first * 3600;
            if (start >= q.to)
                break;
            for (const auto& [dims, c] : it->second)
                rows[{start / step * step, dims}].add(c);
        }
    }
    auto names = std::make_shared<std::vector<std::string>>();
    names->reserve(rows.size());
    out.rows.reserve(rows.size());
    for (auto& [k, c] : rows) {
        names->push_back(k.second);
        out.rows.push_back({k.first, names->back(), c});
    }
    out.storage = std::move(names);
    return out;
}

boost::asio::awaitable<spend_result> memory_spend_log::query(spend_query q) {
    co_return query_now(q);
}

std::size_t memory_spend_log::rows() const {
    const std::lock_guard lock(mu_);
    return rows_;
}

}  // namespace ditto::store
