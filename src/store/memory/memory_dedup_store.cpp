#include "ditto/store/memory/memory_dedup_store.hpp"

namespace ditto::store {

// The work is done in plain functions: locks must not live in a coroutine frame (GCC 12).

memory_dedup_store::entry* memory_dedup_store::held(const dedup_lease& l, clock::time_point now) {
    auto it = records_.find(l.id);
    if (it == records_.end() || it->second.completed || it->second.token != l.token ||
        it->second.expires <= now) {
        return nullptr;
    }
    return &it->second;
}

dedup_begin_result memory_dedup_store::begin_at(const dedup_lease& l,
                                                std::chrono::milliseconds lease,
                                                clock::time_point now) {
    const std::lock_guard<std::mutex> lock(mu_);
    dedup_begin_result out;
    auto it = records_.find(l.id);
    if (it != records_.end() && it->second.expires > now) {
        const auto& r = it->second;
        if (r.fingerprint != l.fingerprint) {
            out.state = dedup_state::conflict;
        } else if (r.completed) {
            out.state = dedup_state::completed;
            out.record = r.answer;
        } else {
            out.state = dedup_state::in_flight;
        }
        return out;
    }
    if (it != records_.end())
        bytes_ -= it->second.answer.size() + it->first.size();
    auto& r = records_[l.id];
    r = entry{l.fingerprint, l.token, false, {}, now + lease, 0};
    bytes_ += l.id.size();
    out.state = dedup_state::acquired;
    return out;
}

void memory_dedup_store::refresh_at(const dedup_lease& l, std::chrono::milliseconds lease,
                                    clock::time_point now) {
    const std::lock_guard<std::mutex> lock(mu_);
    if (auto* r = held(l, now))
        r->expires = now + lease;
}

void memory_dedup_store::complete_at(const dedup_lease& l, std::string answer,
                                     std::chrono::milliseconds retention, clock::time_point now) {
    const std::lock_guard<std::mutex> lock(mu_);
    auto* r = held(l, now);
    if (!r)
        return;
    r->completed = true;
    r->token.clear();
    bytes_ += answer.size();
    r->answer = std::move(answer);
    r->expires = now + retention;
    r->seq = ++next_seq_;
    order_.emplace_back(l.id, r->seq);
    evict_over_bound(now);
}

void memory_dedup_store::abandon_at(const dedup_lease& l, clock::time_point now) {
    const std::lock_guard<std::mutex> lock(mu_);
    if (held(l, now)) {
        bytes_ -= l.id.size();
        records_.erase(l.id);
    }
}

// Oldest completions first; an `order_` entry whose record was replaced since names nothing.
void memory_dedup_store::evict_over_bound(clock::time_point now) {
    while (!order_.empty() && bytes_ > max_bytes_) {
        auto [id, seq] = std::move(order_.front());
        order_.pop_front();
        auto it = records_.find(id);
        if (it == records_.end() || !it->second.completed || it->second.seq != seq)
            continue;
        bytes_ -= it->second.answer.size() + it->first.size();
        records_.erase(it);
    }
    // Expired records go when met at the front, so the map never outgrows what was completed
    // within the retention.
    while (!order_.empty()) {
        auto it = records_.find(order_.front().first);
        const bool stale = it == records_.end() || it->second.seq != order_.front().second;
        if (!stale && it->second.expires > now)
            break;
        if (!stale) {
            bytes_ -= it->second.answer.size() + it->first.size();
            records_.erase(it);
        }
        order_.pop_front();
    }
}

std::uint64_t memory_dedup_store::bytes() {
    const std::lock_guard<std::mutex> lock(mu_);
    return bytes_;
}

boost::asio::awaitable<dedup_begin_result> memory_dedup_store::begin(
    dedup_lease l, std::chrono::milliseconds lease) {
    co_return begin_at(l, lease, clock::now());
}

boost::asio::awaitable<boost::system::error_code> memory_dedup_store::refresh(
    dedup_lease l, std::chrono::milliseconds lease) {
    refresh_at(l, lease, clock::now());
    co_return boost::system::error_code{};
}

boost::asio::awaitable<boost::system::error_code> memory_dedup_store::complete(
    dedup_lease l, std::string record, std::chrono::milliseconds retention) {
    complete_at(l, std::move(record), retention, clock::now());
    co_return boost::system::error_code{};
}

boost::asio::awaitable<boost::system::error_code> memory_dedup_store::abandon(dedup_lease l) {
    abandon_at(l, clock::now());
    co_return boost::system::error_code{};
}

}  // namespace ditto::store
