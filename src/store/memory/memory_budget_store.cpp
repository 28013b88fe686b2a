#include "ditto/store/memory/memory_budget_store.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <ranges>
#include <unordered_set>

#include "ditto/core/saturating.hpp"
#include "ditto/store/period_scope.hpp"

namespace ditto::store {
namespace {

using core::sat_add;

// Ledger keys carry the metric so a scope's tokens and dollars are separate ledgers.
constexpr char tokens_prefix = 't';
constexpr char usd_prefix = 'u';

}  // namespace

// How long a settled-first marker is kept: the Redis store's `P:settled:<id>` lives as long.
constexpr std::int64_t settled_marker_ms = 86'400'000;

memory_budget_store::memory_budget_store(clock_fn now_ms) : now_(std::move(now_ms)) {
    if (!now_)
        now_ = system_ms;
}

std::int64_t memory_budget_store::system_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string memory_budget_store::ledger_key(const budget_line& l) {
    std::string k;
    k.reserve(l.scope_id.size() + 1);
    k += l.metric == budget_metric::tokens ? tokens_prefix : usd_prefix;
    k += l.scope_id;
    return k;
}

reserve_result memory_budget_store::reserve_now(const reservation& r) {
    reserve_result out;
    const std::int64_t now = now_();
    {
        // Claim the id first, so two concurrent reserves of one id cannot both charge.
        const std::array<std::string_view, 1> id{r.id};
        const auto lock = reservations_.lock(id);
        auto [it, inserted] = reservations_.map_of(r.id).try_emplace(r.id);
        if (!inserted) {
            out.admitted = true;
            out.duplicate = true;
            return out;
        }
        it->second.ts_ms = now;
    }

    // The lines of the period this clock is in (budget_line::valid_from); by original index.
    std::vector<budget_line> lines;
    std::vector<std::size_t> index;
    lines.reserve(r.lines.size());
    for (std::size_t i = 0; i < r.lines.size(); ++i) {
        if (r.lines[i].counts_at(now / 1000)) {
            lines.push_back(r.lines[i]);
            index.push_back(i);
        } else {
            out.skipped_lines.push_back(i);
        }
    }
    std::vector<std::string> keys;
    keys.reserve(lines.size());
    for (const budget_line& l : lines)
        keys.push_back(ledger_key(l));
    bool admitted = true;
    {
        const auto locks = ledgers_.lock(keys);
        // Check every line before charging any: all or nothing. A scope listed twice is
        // checked with both amounts.
        std::vector<ledger*> ls;
        ls.reserve(keys.size());
        for (std::size_t i = 0; i < keys.size(); ++i) {
            ls.push_back(&ledgers_.map_of(keys[i])[keys[i]]);
            // Set on creation, so that a ledger whose first touch is a refusal is dropped too.
            if (ls.back()->expire_at == 0)
                ls.back()->expire_at = lines[i].expire_at;
        }
        for (std::size_t i = 0; i < lines.size() && admitted; ++i) {
            const budget_line& l = lines[i];
            if (!l.limit)
                continue;
            std::uint64_t pending = 0;
            for (std::size_t j = 0; j < i; ++j) {
                if (ls[j] == ls[i])
                    pending = sat_add(pending, lines[j].amount);
            }
            const std::uint64_t attempted =
                sat_add(sat_add(sat_add(ls[i]->spent, ls[i]->reserved), pending), l.amount);
            if (attempted > *l.limit) {
                admitted = false;
                out.blocked_line = index[i];
                out.limit = *l.limit;
                out.attempted = attempted;
            }
        }
        if (admitted) {
            for (std::size_t i = 0; i < lines.size(); ++i) {
                ls[i]->reserved = sat_add(ls[i]->reserved, lines[i].amount);
                ls[i]->updated_at_ms = now;
            }
        }
    }

    const std::array<std::string_view, 1> id{r.id};
    const auto lock = reservations_.lock(id);
    auto& map = reservations_.map_of(r.id);
    if (!admitted) {
        map.erase(r.id);
        return out;
    }
    held& h = map[r.id];
    h.lines = std::move(lines);
    h.pending = false;
    out.admitted = true;
    return out;
}

void memory_budget_store::release(const std::vector<budget_line>& lines,
                                  const actual_amounts* actual) {
    std::vector<std::string> keys;
    keys.reserve(lines.size());
    for (const budget_line& l : lines)
        keys.push_back(ledger_key(l));
    const std::int64_t now = now_();
    const auto locks = ledgers_.lock(keys);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const budget_line& l = lines[i];
        auto& map = ledgers_.map_of(keys[i]);
        auto it = map.find(keys[i]);
        if (it == map.end())
            continue;
        ledger& led = it->second;
        led.reserved = led.reserved > l.amount ? led.reserved - l.amount : 0;
        if (actual) {
            const auto& a = l.metric == budget_metric::tokens ? actual->tokens : actual->usd_micros;
            led.spent = sat_add(led.spent, a ? *a : l.amount);
        }
        led.updated_at_ms = now;
    }
}

void memory_budget_store::settle_now(const std::string& id, const actual_amounts* actual) {
    std::vector<budget_line> lines;
    {
        const std::array<std::string_view, 1> ids{id};
        const auto lock = reservations_.lock(ids);
        auto& map = reservations_.map_of(id);
        auto it = map.find(id);
        if (it == map.end()) {
            // Settled before it was reserved (a lost reply, or the reaper came first): a
            // reservation of this id arriving later must not reserve for nobody.
            held& marker = map[id];
            marker.ts_ms = now_();
            marker.pending = false;
            marker.settled_first = true;
            return;
        }
        if (it->second.pending || it->second.settled_first)
            return;
        lines = std::move(it->second.lines);
        map.erase(it);
    }
    release(lines, actual);
}

std::vector<ledger_entry> memory_budget_store::ledgers_now(budget_metric metric) const {
    const char prefix = metric == budget_metric::tokens ? tokens_prefix : usd_prefix;
    std::vector<ledger_entry> out;
    ledgers_.for_each_shard([&](const auto& map) {
        for (const auto& [k, v] : map) {
            if (!k.empty() && k[0] == prefix)
                out.push_back({k.substr(1), v.spent, v.reserved, v.updated_at_ms});
        }
    });
    std::sort(out.begin(), out.end(),
              [](const ledger_entry& a, const ledger_entry& b) { return a.scope_id < b.scope_id; });
    return out;
}

reap_result memory_budget_store::reap_now(std::chrono::milliseconds older_than, std::size_t limit,
                                          bool dry_run) {
    reap_result out;
    out.cutoff_ms = now_() - older_than.count();
    const auto cutoff_ms = out.cutoff_ms;
    std::vector<std::vector<budget_line>> expired;
    reservations_.for_each_shard([&](auto& map) {
        for (auto it = map.begin(); it != map.end();) {
            if (it->second.settled_first) {
                // A marker, not a reservation: kept a day (far longer than a reply is late).
                if (!dry_run &&
                    out.cutoff_ms + older_than.count() - it->second.ts_ms >= settled_marker_ms) {
                    it = map.erase(it);
                } else {
                    ++it;
                }
                continue;
            }
            ++out.scanned;
            if (it->second.pending || it->second.ts_ms > cutoff_ms || out.reaped >= limit) {
                ++it;
                continue;
            }
            ++out.reaped;
            for (const budget_line& l : it->second.lines) {
                auto& r = l.metric == budget_metric::tokens ? out.released_tokens
                                                            : out.released_usd_micros;
                r = sat_add(r, l.amount);
            }
            if (dry_run) {
                ++it;
                continue;
            }
            expired.push_back(std::move(it->second.lines));
            it = map.erase(it);
        }
    });
    for (const auto& lines : expired)
        release(lines, nullptr);
    if (!dry_run) {
        // Past periods' ledgers, once their retention has passed (the Redis store's EXPIREAT).
        const auto now_s = (cutoff_ms + older_than.count()) / 1000;
        ledgers_.for_each_shard([now_s](auto& map) {
            std::erase_if(map, [now_s](const auto& kv) {
                return kv.second.expire_at != 0 && kv.second.expire_at <= now_s &&
                       kv.second.reserved == 0;
            });
        });
    }
    return out;
}

void memory_budget_store::retain_only(const std::vector<std::string>& live_scope_ids) {
    const std::unordered_set<std::string_view> live(live_scope_ids.begin(), live_scope_ids.end());
    ledgers_.for_each_shard([&live](auto& map) {
        std::erase_if(map, [&live](const auto& kv) {
            auto scope = std::string_view(kv.first).substr(1);
            if (const auto p = split_period_scope(scope))
                scope = p->scope;
            return kv.second.reserved == 0 && !live.contains(scope);
        });
    });
}

std::size_t memory_budget_store::open_reservations() const {
    std::size_t n = 0;
    reservations_.for_each_shard([&n](const auto& map) {
        for (const auto& [id, h] : map)
            n += !h.settled_first;
    });
    return n;
}

boost::asio::awaitable<reserve_result> memory_budget_store::reserve(reservation r) {
    co_return reserve_now(r);
}

boost::asio::awaitable<boost::system::error_code> memory_budget_store::commit(
    std::string id, actual_amounts actual) {
    settle_now(id, &actual);
    co_return boost::system::error_code{};
}

boost::asio::awaitable<boost::system::error_code> memory_budget_store::rollback(std::string id) {
    settle_now(id, nullptr);
    co_return boost::system::error_code{};
}

boost::asio::awaitable<std::vector<ledger_entry>> memory_budget_store::ledgers(
    budget_metric metric) {
    co_return ledgers_now(metric);
}

boost::asio::awaitable<reap_result> memory_budget_store::reap(std::chrono::milliseconds older_than,
                                                              std::size_t limit, bool dry_run) {
    co_return reap_now(older_than, limit, dry_run);
}

}  // namespace ditto::store
