// Layout v2's ledgers, reaper and audit log (docs/redis.md, "Layout v2"): read from the scope
// hashes, the reservation buckets and the audit stream that lua/admit.lua and lua/settle.lua
// write.

#include "redis_v2_store.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <random>

#include "ditto/core/hash.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/log/log.hpp"
#include "redis_client.hpp"
#include "redis_governor.hpp"
#include "scripts.hpp"

namespace ditto::store::redis {
namespace {

namespace net = boost::asio;
using boost::system::error_code;

std::vector<std::string> words(std::string_view s) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < s.size()) {
        const auto j = std::min(s.find(' ', i), s.size());
        if (j > i)
            out.emplace_back(s.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

std::int64_t to_i64(std::string_view s) {
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

error_code unsupported() {
    return boost::system::errc::make_error_code(boost::system::errc::operation_not_supported);
}

// What a bucket read found: the scope keys its entries name, and the open reservations.
struct bucket_scan {
    std::vector<std::string> scope_keys;
    std::uint64_t open = 0;
    std::uint64_t tokens = 0;
    std::uint64_t usd = 0;

    void add(const redis_reply& hash) {
        for (std::size_t i = 1; i < hash.elements.size(); i += 2) {
            const auto v = hash.elements[i].as_string().value_or("");
            if (v == "x" || v == "r")
                continue;  // a settlement's marker, a reservation already released
            const auto w = words(v);
            if (w.empty() || (w.size() - 1) % 3 != 0)
                continue;
            const auto n = (w.size() - 1) / 3;
            ++open;
            for (std::size_t j = 0; j < n; ++j) {
                // '-' no line, '~' a scope its window skipped (lua/admit.lua): to_i64 gives 0
                tokens +=
                    static_cast<std::uint64_t>(std::max<std::int64_t>(0, to_i64(w[1 + 2 * j])));
                usd += static_cast<std::uint64_t>(std::max<std::int64_t>(0, to_i64(w[2 + 2 * j])));
                const auto& key = w[1 + 2 * n + j];
                if (std::find(scope_keys.begin(), scope_keys.end(), key) == scope_keys.end())
                    scope_keys.push_back(key);
            }
        }
    }
};

class v2_budget_store final : public budget_store {
  public:
    v2_budget_store(std::shared_ptr<redis_client> c, std::string prefix)
        : c_(std::move(c)), p_(std::move(prefix)) {}

    // Layout v2 reserves and settles through the governor (redis_governor.cpp) only.
    net::awaitable<reserve_result> reserve(reservation) override {
        reserve_result r;
        r.error = unsupported();
        co_return r;
    }
    net::awaitable<error_code> commit(std::string, actual_amounts) override {
        co_return unsupported();
    }
    net::awaitable<error_code> rollback(std::string) override { co_return unsupported(); }

    // Every scope hash that has a line of `metric` (the admin listing: a SCAN, not the hot path).
    net::awaitable<std::vector<ledger_entry>> ledgers(budget_metric metric) override {
        std::string spent = "su", reserved = "ru";
        if (metric == budget_metric::tokens) {
            spent = "st";
            reserved = "rt";
        }
        std::vector<std::string> keys;
        std::string cursor = "0";
        const std::string prefix = p_ + ":scope:";
        for (int round = 0; round < 100'000; ++round) {
            auto r = co_await c_->exec(scan(cursor, prefix + "*"));
            if (failure_of(r) || !r.reply.is_array() || r.reply.elements.size() != 2)
                break;
            cursor = std::string(r.reply.elements[0].as_string().value_or("0"));
            for (const auto& k : r.reply.elements[1].elements)
                keys.emplace_back(k.as_string().value_or(""));
            if (cursor == "0")
                break;
        }
        std::vector<std::vector<std::string>> cmds;
        for (const auto& k : keys)
            cmds.push_back(hmget(k, spent, reserved));
        std::vector<ledger_entry> out;
        if (!cmds.empty()) {
            auto r = co_await c_->pipeline(std::move(cmds));
            for (std::size_t i = 0; !r.error && i < r.replies.size() && i < keys.size(); ++i) {
                const auto& h = r.replies[i];
                if (!h.is_array() || h.elements.size() < 3 ||
                    (h.elements[0].is_nil() && h.elements[1].is_nil()))
                    continue;  // rate limits only
                out.push_back({core::percent_decode(keys[i].substr(prefix.size())),
                               element_u64(h, 0), element_u64(h, 1),
                               static_cast<std::int64_t>(element_u64(h, 2))});
            }
        }
        std::sort(out.begin(), out.end(), [](const ledger_entry& a, const ledger_entry& b) {
            return a.scope_id < b.scope_id;
        });
        co_return out;
    }

    // Two phases (lua/reap.lua): read the buckets from the watermark to TIME − lease to learn
    // the scope hashes their entries name, then release them in one call that declares every
    // key. A round that finds the watermark moved (another replica reaped) reads again.
    net::awaitable<reap_result> reap(std::chrono::milliseconds older_than, std::size_t limit,
                                     bool dry_run) override {
        reap_result out;
        const auto lease = std::chrono::ceil<std::chrono::seconds>(older_than).count();
        std::int64_t dry_first = -1;
        for (int round = 0; round < 64 && out.reaped < limit; ++round) {
            auto head = co_await c_->pipeline(time_and_watermark());
            if (head.error || head.replies.size() != 2 || !head.replies[0].is_array()) {
                out.error = head.error ? head.error : make_error_code(redis_errc::protocol_error);
                co_return out;
            }
            const auto now = to_i64(head.replies[0].elements[0].as_string().value_or("0"));
            const auto last = now - lease;
            out.cutoff_ms = (last + 1) * 1000 - 1;
            const std::string read(head.replies[1].as_string().value_or(""));
            // Unset only before the first admission of this layout: start 300 s back, the
            // oldest second an admission accepts.
            std::int64_t first = read.empty() ? now - 300 : to_i64(read);
            if (dry_run && dry_first >= 0)
                first = dry_first;
            if (first > last)
                break;
            const auto b = std::min<std::int64_t>(600, last - first + 1);
            std::vector<std::vector<std::string>> reads;
            for (std::int64_t s = first; s < first + b; ++s)
                reads.push_back(hgetall(s));
            auto buckets = co_await c_->pipeline(std::move(reads));
            if (buckets.error) {
                out.error = buckets.error;
                co_return out;
            }
            bucket_scan found;
            for (const auto& h : buckets.replies)
                found.add(h);
            out.scanned += found.open;
            if (dry_run) {
                out.reaped += found.open;
                out.released_tokens += found.tokens;
                out.released_usd_micros += found.usd;
                dry_first = first + b;
                continue;
            }
            auto res = co_await c_->script(v2_reap_script(), reap_keys(first, b, found),
                                           reap_args(read, first, b, lease));
            if ((out.error = failure_of(res)))
                co_return out;
            const auto status = element_int(res.reply, 0);
            if (status != 1)
                continue;  // another reaper was first, or an admission landed: read again
            out.reaped += element_u64(res.reply, 2);
            out.released_tokens += element_u64(res.reply, 3);
            out.released_usd_micros += element_u64(res.reply, 4);
            const auto moved = to_i64(res.reply.elements.size() > 5
                                          ? res.reply.elements[5].as_string().value_or("0")
                                          : "0");
            if (moved <= first)
                break;  // seconds younger than 301 s stay (tombstoned) until they close
        }
        co_return out;
    }

  private:
    static std::vector<std::string> scan(const std::string& cursor, const std::string& match) {
        return {"SCAN", cursor, "MATCH", match, "COUNT", "1000"};
    }
    static std::vector<std::string> hmget(const std::string& key, const std::string& spent,
                                          const std::string& reserved) {
        return {"HMGET", key, spent, reserved, "up"};
    }
    std::vector<std::vector<std::string>> time_and_watermark() const {
        return {{"TIME"}, {"GET", p_ + ":reap"}};
    }
    std::vector<std::string> hgetall(std::int64_t sec) const {
        return {"HGETALL", p_ + ":res:" + std::to_string(sec)};
    }
    std::vector<std::string> reap_keys(std::int64_t first, std::int64_t b,
                                       const bucket_scan& found) const {
        std::vector<std::string> keys{p_ + ":reap"};
        for (std::int64_t s = first; s < first + b; ++s)
            keys.push_back(p_ + ":res:" + std::to_string(s));
        keys.insert(keys.end(), found.scope_keys.begin(), found.scope_keys.end());
        return keys;
    }
    static std::vector<std::string> reap_args(const std::string& read, std::int64_t first,
                                              std::int64_t b, std::int64_t lease) {
        return {read, std::to_string(first), std::to_string(b), std::to_string(lease)};
    }

    std::shared_ptr<redis_client> c_;
    std::string p_;
};

// Records are entries of the stream P:audit, appended by lua/settle.lua: with a governed
// request's settlement, or alone here (refusals, the Admin API's records).
class v2_audit_log final : public audit_log {
  public:
    /// `older`: layout 1's records on the same prefix (a migrated prefix keeps them until their
    /// retention ends), listed after the stream's, which are all younger.
    v2_audit_log(std::shared_ptr<redis_client> c, std::string prefix, std::chrono::seconds keep,
                 std::chrono::seconds spend_keep, std::shared_ptr<audit_log> older)
        : c_(std::move(c)),
          p_(std::move(prefix)),
          keep_ms_(keep.count() * 1000),
          spend_keep_s_(spend_keep.count()),
          older_(std::move(older)),
          once_(p_ + ":once:" + std::to_string(std::random_device{}()) +
                std::to_string(std::random_device{}()) + "-") {}

    // An audit-only settlement ('a'), with a marker named by the record so that a retried
    // append is stored once.
    net::awaitable<error_code> append(std::string kind, std::string payload_json) override {
        const std::string once = record_marker(kind, payload_json);
        auto cmd = command(once, std::move(kind), std::move(payload_json), std::nullopt);
        auto r =
            co_await c_->script(v2_settle_script(), std::move(cmd.first), std::move(cmd.second));
        co_return failure_of(r);
    }

    // The record (none for an empty kind) and the spend in one audit-only settlement. A
    // spend-only write is marked by its request id: retried, it counts once.
    net::awaitable<error_code> append_spent(std::string kind, std::string payload_json,
                                            bool /*vetted*/, spend_sample spend) override {
        std::string once = once_ + "s-" + std::to_string(spend.write_id);
        if (!kind.empty())
            once = record_marker(kind, payload_json);
        auto cmd = command(once, std::move(kind), std::move(payload_json), std::move(spend));
        auto r =
            co_await c_->script(v2_settle_script(), std::move(cmd.first), std::move(cmd.second));
        co_return failure_of(r);
    }

    net::awaitable<std::vector<audit_record>> list(audit_query q) override {
        auto out = co_await list_stream(q);
        if (older_ && out.size() < q.limit) {
            q.limit -= out.size();
            auto old = co_await older_->list(q);
            for (auto& rec : old)
                out.push_back(std::move(rec));
        }
        co_return out;
    }

  private:
    net::awaitable<std::vector<audit_record>> list_stream(const audit_query& q) {
        std::vector<audit_record> out;
        auto r = co_await c_->exec(range(q));
        if (failure_of(r) || !r.reply.is_array())
            co_return out;
        for (const auto& e : r.reply.elements) {
            if (!e.is_array() || e.elements.size() != 2)
                continue;
            const auto id = e.elements[0].as_string().value_or("0-0");
            const auto dash = id.find('-');
            const auto ms = to_i64(id.substr(0, dash));
            const auto seq = dash == std::string_view::npos ? 0 : to_i64(id.substr(dash + 1));
            audit_record rec;
            rec.ts_ms = ms;
            // Unique and increasing while a millisecond holds fewer than 1000 records.
            rec.id = static_cast<std::uint64_t>(ms) * 1000 +
                     static_cast<std::uint64_t>(std::min<std::int64_t>(seq, 999));
            const auto& f = e.elements[1].elements;
            for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
                const auto name = f[i].as_string().value_or("");
                if (name == "kind")
                    rec.kind = std::string(f[i + 1].as_string().value_or(""));
                else if (name == "payload")
                    rec.payload_json = std::string(f[i + 1].as_string().value_or(""));
            }
            out.push_back(std::move(rec));
        }
        co_return out;
    }

    // The marker of a record, named by this process and the record: a retry (from this
    // process) finds it, and another replica's record with the same text — request ids are
    // `ditto-<ms>-<seq>` in every replica, so two replicas can write the same one — does not.
    std::string record_marker(const std::string& kind, const std::string& payload) const {
        return once_ + std::to_string(core::fnv1a64(payload)) + "-" +
               std::to_string(core::fnv1a64(kind)) + "-" + std::to_string(payload.size());
    }

    // An audit-only settlement (lua/settle.lua): KEYS reap, audit, the marker (3), the spend
    // buckets; one item, flag 'a'.
    std::pair<std::vector<std::string>, std::vector<std::string>> command(
        const std::string& once, std::string kind, std::string payload,
        const std::optional<spend_sample>& spend) const {
        std::pair<std::vector<std::string>, std::vector<std::string>> c;
        auto& [keys, argv] = c;
        keys = {p_ + ":reap", p_ + ":audit", once};
        argv = {std::to_string(keep_ms_),
                std::to_string(spend_keep_s_),
                "",
                "0",
                "3",
                "a",
                "-1",
                "-1",
                "0",
                "0",
                std::move(kind),
                std::move(payload)};
        spend_args(p_, spend, keys, argv);
        argv.emplace_back("0");
        return c;
    }
    std::vector<std::string> range(const audit_query& q) const {
        std::string end = "+", start = "-";
        if (q.before_ts_ms)
            end = "(" + std::to_string(*q.before_ts_ms) + "-0";
        if (q.since_ts_ms)
            start = std::to_string(*q.since_ts_ms);
        return {"XREVRANGE", p_ + ":audit", end, start, "COUNT", std::to_string(q.limit)};
    }

    std::shared_ptr<redis_client> c_;
    std::string p_;
    std::int64_t keep_ms_;
    std::int64_t spend_keep_s_;
    std::shared_ptr<audit_log> older_;
    std::string once_;  ///< `P:once:<this process's nonce>-`
};

// The spend buckets lua/settle.lua writes: P:spend:h:<hour> and P:spend:d:<day>, a row
// "<requests> <input> <output> <cached> <uUSD>" per dims. A query reads each bucket of its range
// whole, in one pipeline (docs/governance.md, "Spend over time").
class v2_spend_log final : public spend_log {
  public:
    v2_spend_log(std::shared_ptr<redis_client> c, std::string prefix)
        : c_(std::move(c)), p_(std::move(prefix)) {}

    net::awaitable<spend_result> query(spend_query q) override {
        spend_result out;
        const std::int64_t step = q.daily ? 86'400 : 3600;
        std::vector<std::int64_t> starts;
        std::vector<std::vector<std::string>> reads;
        for (std::int64_t t = q.from / step * step; t < q.to; t += step) {
            starts.push_back(t);
            reads.push_back(bucket_read(q.daily, t / step));
        }
        if (reads.empty())
            co_return out;
        auto read = co_await c_->pipeline(std::move(reads));
        if ((out.error = read.error))
            co_return out;
        // The rows' names point into the replies, kept with the result.
        auto replies = std::make_shared<std::vector<redis_reply>>(std::move(read.replies));
        const auto& r = *replies;
        out.storage = replies;
        std::size_t total = 0;
        for (const auto& h : r)
            total += h.elements.size() / 2;
        out.rows.reserve(total);
        for (std::size_t i = 0; i < r.size() && i < starts.size(); ++i) {
            const auto& h = r[i];
            for (std::size_t j = 0; j + 1 < h.elements.size(); j += 2) {
                spend_row row{starts[i], h.elements[j].as_string().value_or(""), {}};
                // "<requests> <input> <output> <cached> <uUSD>", read in place: a 90-day query
                // reads a hundred thousand of them.
                const auto v = h.elements[j + 1].as_string().value_or("");
                std::uint64_t* const fields[] = {&row.c.requests, &row.c.input_tokens,
                                                 &row.c.output_tokens, &row.c.cached_tokens,
                                                 &row.c.usd_micros};
                const char* at = v.data();
                const char* const end = v.data() + v.size();
                for (auto* f : fields) {
                    while (at < end && *at == ' ')
                        ++at;
                    at = std::from_chars(at, end, *f).ptr;
                }
                out.rows.push_back(std::move(row));
            }
        }
        co_return out;
    }

  private:
    std::vector<std::string> bucket_read(bool daily, std::int64_t n) const {
        return {"HGETALL", p_ + (daily ? ":spend:d:" : ":spend:h:") + std::to_string(n)};
    }

    std::shared_ptr<redis_client> c_;
    std::string p_;
};

// Layout 1 -> 2 (lua/migrate.lua): one atomic call; a replica that finds the prefix migrated
// by another in between finds P:layout set and does nothing.
net::awaitable<std::optional<std::string>> migrate_prefix(std::shared_ptr<redis_client> c,
                                                          std::string p) {
    std::vector<std::string> argv{p};
    auto r = co_await c->script(v2_migrate_script(), std::move(argv));
    std::optional<std::string> problem;
    if (const auto err = failure_of(r)) {
        problem = "cannot move Redis prefix '" + p +
                  "' to key layout 2: " + (r.reply.is_error() ? r.reply.str : err.message());
        co_return problem;
    }
    const auto ledgers = element_int(r.reply, 0);
    if (ledgers >= 0) {
        log::info("store.migrated", "Redis prefix moved from key layout 1 to 2",
                  {{"prefix", p},
                   {"ledgers", std::to_string(ledgers)},
                   {"reservations", std::to_string(element_int(r.reply, 1))}});
    }
    co_return problem;
}

// The layout a prefix holds (docs/redis.md, "Layout v2"): `P:layout` says 2 once a replica of
// layout 2 claimed it; layout 1 keys without it are the old layout, which layout 2 reads only
// after moving it (--redis-migrate). Either layout refuses a prefix that holds the other.
net::awaitable<std::optional<std::string>> claim_layout(std::shared_ptr<redis_client> c,
                                                        std::string p, int layout, bool migrate) {
    std::vector<std::vector<std::string>> cmds;
    cmds.push_back({"GET", p + ":layout"});
    cmds.push_back({"EXISTS", p + ":budget_keys", p + ":cost_keys", p + ":audit_seq",
                    p + ":reservations_by_ts"});
    cmds.push_back({"TIME"});
    auto r = co_await c->pipeline(std::move(cmds));
    std::optional<std::string> problem;
    if (r.error || r.replies.size() != 3) {
        problem = "cannot read the key layout: " +
                  (r.error ? r.error.message() : std::string("unexpected reply"));
        co_return problem;
    }
    for (const auto& rep : r.replies) {
        if (rep.is_error()) {
            // A plain redis:// URL that names a node of a Redis Cluster gets MOVED here.
            problem = "Redis refused to read the key layout: " + rep.str +
                      (rep.str.starts_with("MOVED") || rep.str.starts_with("CROSSSLOT")
                           ? " (this Redis is a Redis Cluster: use a redis+cluster:// URL)"
                           : "");
            co_return problem;
        }
    }
    const std::string held(r.replies[0].as_string().value_or(""));
    const bool old_keys = r.replies[1].as_int().value_or(0) > 0;
    const std::string mine = std::to_string(layout);
    if (layout == 1) {
        if (!held.empty() && held != "1")
            problem = "Redis prefix '" + p + "' holds key layout " + held +
                      "; start this replica with --redis-layout " + held;
        co_return problem;
    }
    if (held.empty() && old_keys && !migrate) {
        problem = "Redis prefix '" + p +
                  "' holds key layout 1 (replicas of --redis-layout 1, or of a release before "
                  "layout 2). Stop them and start one replica with --redis-migrate to move it "
                  "(docs/redis.md, \"Upgrading from layout 1\"), or keep --redis-layout 1";
        co_return problem;
    }
    if (held.empty() && old_keys) {
        problem = co_await migrate_prefix(c, p);
        co_return problem;
    }
    if (!held.empty() && held != mine) {
        problem = "Redis prefix '" + p + "' holds key layout " + held +
                  "; start this replica with --redis-layout " + held;
        co_return problem;
    }
    const auto now = to_i64(
        r.replies[2].elements.empty() ? "0" : r.replies[2].elements[0].as_string().value_or("0"));
    std::vector<std::vector<std::string>> claim;
    claim.push_back({"SET", p + ":layout", mine, "NX"});
    // The reaper's watermark starts at the oldest second an admission accepts.
    claim.push_back({"SET", p + ":reap", std::to_string(now - 300), "NX"});
    auto w = co_await c->pipeline(std::move(claim));
    if (w.error)
        problem = "cannot claim the key layout: " + w.error.message();
    co_return problem;
}

}  // namespace

std::function<net::awaitable<std::optional<std::string>>()> layout_claim(
    std::shared_ptr<redis_client> client, std::string prefix, int layout, bool migrate) {
    return [client = std::move(client), prefix = std::move(prefix), layout, migrate] {
        return claim_layout(client, prefix, layout, migrate);
    };
}

void use_layout_v2(store_set& s, std::shared_ptr<redis_client> client, const std::string& prefix,
                   std::chrono::seconds audit_retention, std::chrono::seconds spend_retention) {
    s.budgets = std::make_shared<v2_budget_store>(client, prefix);
    s.audit =
        std::make_shared<v2_audit_log>(client, prefix, audit_retention, spend_retention, s.audit);
    s.spend = std::make_shared<v2_spend_log>(client, prefix);
    s.governance = make_redis_governor(std::move(client), prefix, audit_retention, spend_retention);
}

}  // namespace ditto::store::redis
