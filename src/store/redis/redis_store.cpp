#include "ditto/store/redis/redis_store.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <mutex>

#include "ditto/core/hash.hpp"
#include "redis_cache_store.hpp"
#include "redis_client.hpp"
#include "redis_dedup_store.hpp"
#include "redis_v2_store.hpp"
#include "scripts.hpp"

namespace ditto::store::redis {
namespace {

namespace net = boost::asio;
using boost::system::error_code;

// Builds a command outside the coroutine's frame: a braced list passed straight into a
// co_await'ed call puts an array temporary in the frame, which GCC 12 cannot compile.
template <class... A>
std::vector<std::string> cmd(A&&... a) {
    return std::vector<std::string>{std::string(std::forward<A>(a))...};
}

std::string limit_arg(const std::optional<std::uint32_t>& l) {
    return l ? std::to_string(*l) : "-1";
}

// ---- rate limits (docs/governance.md, docs/redis.md: per scope, Redis TIME, one call) ----

class redis_rate_limiter final : public rate_limiter {
  public:
    redis_rate_limiter(std::shared_ptr<redis_client> c, std::string prefix)
        : c_(std::move(c)), p_(std::move(prefix)) {}

    net::awaitable<rate_decision> admit(std::vector<rate_scope> scopes,
                                        std::uint64_t tokens) override {
        std::vector<std::string> argv{p_, std::to_string(tokens), std::to_string(scopes.size())};
        for (const auto& s : scopes) {
            argv.push_back(s.id);
            argv.push_back(limit_arg(s.rpm));
            argv.push_back(limit_arg(s.tpm));
        }
        auto r = co_await c_->script(rate_admit_script(), std::move(argv));
        rate_decision d;
        if ((d.error = failure_of(r)))
            co_return d;
        d.admitted = element_int(r.reply, 0) == 1;
        d.charge.minute = element_int(r.reply, 4);
        if (!d.admitted) {
            d.blocked_scope = static_cast<std::size_t>(element_int(r.reply, 1));
            if (r.reply.elements.size() > 2)
                d.reason = std::string(r.reply.elements[2].as_string().value_or(""));
            d.retry_after_seconds =
                static_cast<std::uint32_t>(std::max<std::int64_t>(1, element_int(r.reply, 3)));
            co_return d;
        }
        d.charge.tokens = tokens;
        for (auto& s : scopes)
            d.charge.scope_ids.push_back(std::move(s.id));
        co_return d;
    }

    net::awaitable<void> refund(rate_charge charge) override {
        const auto tokens = static_cast<std::int64_t>(charge.tokens);
        co_await adjust(std::move(charge), 1, tokens);
    }

    net::awaitable<void> settle_tokens(rate_charge charge, std::uint64_t actual) override {
        const auto back =
            static_cast<std::int64_t>(charge.tokens) - static_cast<std::int64_t>(actual);
        co_await adjust(std::move(charge), 0, back);
    }

  private:
    net::awaitable<void> adjust(rate_charge charge, int req, std::int64_t tok) {
        std::vector<std::string> argv{p_, std::to_string(charge.minute), std::to_string(req),
                                      std::to_string(tok)};
        for (auto& id : charge.scope_ids)
            argv.push_back(std::move(id));
        // Best effort: counters expire within three minutes anyway.
        co_await c_->script(rate_adjust_script(), std::move(argv));
    }

    std::shared_ptr<redis_client> c_;
    std::string p_;
};

// ---- budgets (docs/redis.md; all scopes in one call, unlike the original) ----

class redis_budget_store final : public budget_store {
  public:
    redis_budget_store(std::shared_ptr<redis_client> c, std::string prefix)
        : c_(std::move(c)), p_(std::move(prefix)) {}

    // Layout 1's script knows no budget periods: near a boundary the replica's clock, not
    // Redis TIME, picks the period (docs/redis.md, "Layout v2").
    net::awaitable<reserve_result> reserve(reservation r) override {
        reserve_result out;
        std::vector<std::size_t> index;
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        std::vector<std::string> argv{p_, r.id, r.key_id, ""};
        for (std::size_t i = 0; i < r.lines.size(); ++i) {
            auto& l = r.lines[i];
            if (!l.counts_at(now)) {
                out.skipped_lines.push_back(i);
                continue;
            }
            index.push_back(i);
            argv.emplace_back(l.metric == budget_metric::tokens ? "t" : "u");
            argv.push_back(std::move(l.scope_id));
            argv.push_back(l.limit ? std::to_string(*l.limit) : "-1");
            argv.push_back(std::to_string(l.amount));
        }
        argv[3] = std::to_string(index.size());
        auto res = co_await c_->script(budget_reserve_script(), std::move(argv));
        if ((out.error = failure_of(res)))
            co_return out;
        out.admitted = element_int(res.reply, 0) == 1;
        out.duplicate = element_int(res.reply, 1) == 1;
        if (!out.admitted) {
            const auto blocked = static_cast<std::size_t>(element_int(res.reply, 2));
            out.blocked_line = blocked < index.size() ? index[blocked] : blocked;
            out.limit = element_u64(res.reply, 3);
            out.attempted = element_u64(res.reply, 4);
        }
        co_return out;
    }

    net::awaitable<error_code> commit(std::string id, actual_amounts actual) override {
        co_return co_await settle(std::move(id), true, actual);
    }

    net::awaitable<error_code> rollback(std::string id) override {
        co_return co_await settle(std::move(id), false, {});
    }

    net::awaitable<std::vector<ledger_entry>> ledgers(budget_metric metric) override {
        // No `?:` in this coroutine: GCC 12 miscompiles it inside coroutines.
        std::string set = p_ + ":cost_keys", base = p_ + ":cost_ledger:";
        std::string spent = "spent_usd_micros", reserved = "reserved_usd_micros";
        if (metric == budget_metric::tokens) {
            set = p_ + ":budget_keys";
            base = p_ + ":budget_ledger:";
            spent = "spent_tokens";
            reserved = "reserved_tokens";
        }
        std::vector<ledger_entry> out;
        auto members = co_await c_->exec(cmd("SMEMBERS", set));
        if (failure_of(members) || !members.reply.is_array())
            co_return out;
        std::vector<std::vector<std::string>> cmds;
        for (const auto& m : members.reply.elements) {
            out.push_back({std::string(m.as_string().value_or("")), 0, 0, 0});
            cmds.push_back({"HMGET", base + out.back().scope_id, spent, reserved, "updated_at_ms"});
        }
        if (!cmds.empty()) {
            auto r = co_await c_->pipeline(std::move(cmds));
            for (std::size_t i = 0; !r.error && i < r.replies.size() && i < out.size(); ++i) {
                out[i].spent = element_u64(r.replies[i], 0);
                out[i].reserved = element_u64(r.replies[i], 1);
                out[i].updated_at_ms = static_cast<std::int64_t>(element_u64(r.replies[i], 2));
            }
        }
        std::sort(out.begin(), out.end(), [](const ledger_entry& a, const ledger_entry& b) {
            return a.scope_id < b.scope_id;
        });
        co_return out;
    }

    net::awaitable<reap_result> reap(std::chrono::milliseconds older_than, std::size_t limit,
                                     bool dry_run) override {
        auto r = co_await c_->script(
            budget_reap_script(), cmd(p_, std::to_string(older_than.count()), std::to_string(limit),
                                      std::string(dry_run ? "1" : "0")));
        reap_result out;
        if ((out.error = failure_of(r)))
            co_return out;
        out.scanned = element_u64(r.reply, 0);
        out.reaped = element_u64(r.reply, 1);
        out.released_tokens = element_u64(r.reply, 2);
        out.released_usd_micros = element_u64(r.reply, 3);
        out.cutoff_ms = static_cast<std::int64_t>(element_u64(r.reply, 4));
        co_return out;
    }

  private:
    net::awaitable<error_code> settle(std::string id, bool spend, actual_amounts a) {
        auto arg = [](const std::optional<std::uint64_t>& v) {
            return v ? std::to_string(*v) : std::string("-1");
        };
        auto r = co_await c_->script(budget_settle_script(),
                                     cmd(p_, std::move(id), std::string(spend ? "1" : "0"),
                                         arg(a.tokens), arg(a.usd_micros)));
        co_return failure_of(r);
    }

    std::shared_ptr<redis_client> c_;
    std::string p_;
};

// ---- audit (docs/redis.md, records as hashes: no JSON parsing needed to list them) ----

class redis_audit_log final : public audit_log {
  public:
    redis_audit_log(std::shared_ptr<redis_client> c, std::string prefix, std::chrono::seconds keep)
        : c_(std::move(c)), p_(std::move(prefix)), keep_(keep) {}

    net::awaitable<error_code> append(std::string kind, std::string payload_json) override {
        const auto ts = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
        // The same kind and payload give the same name, so a retried append is recognised.
        const std::string once = std::to_string(core::fnv1a64(payload_json)) + "-" +
                                 std::to_string(core::fnv1a64(kind)) + "-" +
                                 std::to_string(payload_json.size());
        auto r = co_await c_->script(audit_append_script(),
                                     cmd(p_, std::move(kind), std::move(payload_json),
                                         std::to_string(ts), std::to_string(keep_.count()), once));
        co_return failure_of(r);
    }

    net::awaitable<std::vector<audit_record>> list(audit_query q) override {
        std::vector<audit_record> out;
        const std::string max = q.before_ts_ms ? "(" + std::to_string(*q.before_ts_ms) : "+inf";
        const std::string min = q.since_ts_ms ? std::to_string(*q.since_ts_ms) : "-inf";
        auto ids = co_await c_->exec(cmd("ZREVRANGEBYSCORE", p_ + ":audit_by_ts", max, min, "LIMIT",
                                         "0", std::to_string(q.limit)));
        if (failure_of(ids) || !ids.reply.is_array() || ids.reply.elements.empty())
            co_return out;
        std::vector<std::vector<std::string>> cmds;
        for (const auto& id : ids.reply.elements) {
            cmds.push_back({"HMGET", p_ + ":audit:" + std::string(id.as_string().value_or("")),
                            "id", "ts_ms", "kind", "payload"});
        }
        auto r = co_await c_->pipeline(std::move(cmds));
        for (std::size_t i = 0; !r.error && i < r.replies.size(); ++i) {
            const auto& h = r.replies[i];
            if (!h.is_array() || h.elements.size() < 4 || h.elements[0].is_nil())
                continue;  // expired between the two calls
            out.push_back({element_u64(h, 0), static_cast<std::int64_t>(element_u64(h, 1)),
                           std::string(h.elements[2].as_string().value_or("")),
                           std::string(h.elements[3].as_string().value_or(""))});
        }
        co_return out;
    }

  private:
    std::shared_ptr<redis_client> c_;
    std::string p_;
    std::chrono::seconds keep_;
};

// ---- control plane (docs/redis.md: a change on one replica reaches every replica) ----

class redis_control_store final : public control_store,
                                  public std::enable_shared_from_this<redis_control_store> {
  public:
    redis_control_store(std::shared_ptr<redis_client> c, std::string prefix,
                        std::chrono::milliseconds poll)
        : c_(std::move(c)), p_(std::move(prefix)), poll_(poll) {}

    net::awaitable<control_load> load() override {
        // One transaction: keys, router and version of the same save (a save landing between
        // two plain reads would pair old keys with a new version, and a compare-and-set on
        // that version would then overwrite the newer keys).
        std::vector<std::vector<std::string>> cmds;
        cmds.push_back(cmd("MULTI"));
        cmds.push_back(cmd("HGETALL", p_ + ":virtual_keys"));
        cmds.push_back(cmd("GET", p_ + ":router_config"));
        cmds.push_back(cmd("GET", p_ + ":control_version"));
        cmds.push_back(cmd("EXEC"));
        auto piped = co_await c_->pipeline(std::move(cmds));
        control_load out;
        for (const auto& rep : piped.replies) {
            if (rep.is_error()) {
                // Said as Redis said it where it matters (MOVED: a Cluster named by redis://).
                out.error = failure_of(redis_result{{}, rep});
                co_return out;
            }
        }
        if (piped.error || piped.replies.size() != 5 || !piped.replies.back().is_array() ||
            piped.replies.back().elements.size() != 3) {
            out.error = piped.error ? piped.error : make_error_code(redis_errc::protocol_error);
            co_return out;
        }
        const std::vector<redis_reply> replies = std::move(piped.replies.back().elements);
        for (const auto& rep : replies) {
            if (rep.is_error()) {
                out.error = make_error_code(redis_errc::protocol_error);
                co_return out;
            }
        }
        const auto& hash = replies[0];
        if (hash.elements.empty() && replies[1].is_nil())
            co_return out;  // nothing saved yet
        control_state s;
        for (std::size_t i = 0; i + 1 < hash.elements.size(); i += 2) {
            s.keys.emplace_back(std::string(hash.elements[i].as_string().value_or("")),
                                std::string(hash.elements[i + 1].as_string().value_or("")));
        }
        std::sort(s.keys.begin(), s.keys.end());
        if (!replies[1].is_nil())
            s.router_json = std::string(replies[1].as_string().value_or(""));
        s.version = static_cast<std::uint64_t>(replies[2].as_int().value_or(0));
        out.state = std::move(s);
        co_return out;
    }

    // One script: atomic (readers never see keys of one version with the router of
    // another) and compare-and-set on the version, so concurrent admin writers on two
    // replicas cannot silently overwrite each other.
    net::awaitable<control_save> save(control_state next,
                                      std::optional<std::uint64_t> expected_version) override {
        std::vector<std::string> keys{p_ + ":control_version", p_ + ":virtual_keys",
                                      p_ + ":router_config"};
        std::vector<std::string> argv{expected_version ? std::to_string(*expected_version) : "",
                                      next.router_json ? "1" : "0", next.router_json.value_or("")};
        for (auto& [id, json] : next.keys) {
            argv.push_back(id);
            argv.push_back(std::move(json));
        }
        auto r = co_await c_->script(control_save_script(), std::move(keys), std::move(argv));
        control_save out;
        out.error = failure_of(r);
        if (out.error)
            co_return out;
        const auto v = r.reply.as_int();
        if (!v) {
            out.error = make_error_code(redis_errc::protocol_error);
            co_return out;
        }
        if (*v < 0) {
            out.error = control_conflict();
            out.version = static_cast<std::uint64_t>(-1 - *v);
            co_return out;
        }
        out.version = static_cast<std::uint64_t>(*v);
        // This replica sees its own change at once; the others through their poll.
        notify(out.version);
        co_return out;
    }

    void watch(std::function<void(std::uint64_t)> on_change) override {
        const std::lock_guard<std::mutex> lock(mu_);
        watchers_.push_back(std::move(on_change));
    }

    void start(net::any_io_executor ex) {
        net::co_spawn(ex, poll_loop(shared_from_this()), net::detached);
    }
    void stop() { stopped_ = true; }

  private:
    // The change feed: the version is read every `poll_` (one GET); any change — from any
    // replica, or a write made while this one was disconnected — calls the watchers.
    static net::awaitable<void> poll_loop(std::shared_ptr<redis_control_store> self) {
        net::steady_timer timer(co_await net::this_coro::executor);
        std::optional<long long> seen;
        while (!self->stopped_) {
            auto r = co_await self->c_->exec(cmd("GET", self->p_ + ":control_version"));
            if (!failure_of(r)) {
                const long long v = r.reply.as_int().value_or(0);
                if (seen && *seen != v)
                    self->notify(static_cast<std::uint64_t>(v));
                seen = v;
            }
            timer.expires_after(self->poll_);
            error_code ec;
            co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
            if (ec)
                co_return;
        }
    }

    void notify(std::uint64_t version) {
        std::vector<std::function<void(std::uint64_t)>> ws;
        {
            const std::lock_guard<std::mutex> lock(mu_);
            ws = watchers_;
        }
        for (auto& w : ws)
            w(version);
    }

    std::shared_ptr<redis_client> c_;
    std::string p_;
    std::chrono::milliseconds poll_;
    std::mutex mu_;
    std::vector<std::function<void(std::uint64_t)>> watchers_;
    std::atomic<bool> stopped_{false};
};

net::awaitable<std::optional<std::string>> health_of(std::shared_ptr<redis_client> c,
                                                     std::string prefix, int layout) {
    // Awaited into a variable, not in the condition, and one co_return: GCC 12 miscompiles
    // this coroutine otherwise (it traps at run time).
    std::vector<std::string> get{"GET", prefix + ":layout"};
    auto r = co_await c->exec(std::move(get));
    std::optional<std::string> problem;
    const std::string held(r.reply.as_string().value_or(""));
    if (failure_of(r))
        problem = "redis unreachable: " + c->url().redacted();
    else if (layout == 1 && !held.empty() && held != "1")
        // Moved to layout 2 by another replica (docs/redis.md, "Upgrading from layout 1"): this
        // one can no longer govern, and says so to its readiness probe.
        problem = "redis prefix '" + prefix + "' was moved to key layout " + held +
                  "; restart this replica with --redis-layout " + held;
    co_return problem;
}

// A start-up refusal (store_set::claim). Layout 1's scripts name no key (Redis Cluster routes
// by declared keys), and nothing on a cluster holds layout 1 to be moved: a cluster starts on
// layout 2.
net::awaitable<std::optional<std::string>> refuse_start(std::string why) {
    co_return std::optional<std::string>(std::move(why));
}

}  // namespace

store_set make_redis_store(redis_store_options o, net::any_io_executor background) {
    // In a Redis Cluster every governance key carries the hash tag {P}, so that an admission
    // and a settlement each stay one atomic script on one shard; cache entries and replay
    // records keep the plain prefix and spread (docs/redis.md, "Redis Cluster").
    const std::string gp = o.url.cluster() ? "{" + o.prefix + "}" : o.prefix;
    auto client = std::make_shared<redis_client>(o.url, o.connection, gp);
    auto control = std::make_shared<redis_control_store>(client, gp, o.control_poll);
    control->start(background);
    store_set s;
    s.name = "redis";
    s.limits = std::make_shared<redis_rate_limiter>(client, gp);
    s.budgets = std::make_shared<redis_budget_store>(client, gp);
    s.audit = std::make_shared<redis_audit_log>(client, gp, o.audit_retention);
    s.control = control;
    s.cache = make_redis_cache_store(client, o.prefix);
    s.dedup = make_redis_dedup_store(client, o.prefix);
    s.governance = make_composite_governor(s, false);
    if (o.layout == 2)
        use_layout_v2(s, client, gp, o.audit_retention, o.spend_retention);
    s.claim = layout_claim(client, gp, o.layout, o.migrate);
    if (o.url.cluster() && o.layout != 2) {
        s.claim = [] {
            return refuse_start(
                "a Redis Cluster (redis+cluster://) needs key layout 2, the default: drop "
                "--redis-layout 1");
        };
    }
    if (o.url.cluster() && o.prefix.find_first_of("{}") != std::string::npos) {
        // A brace would end or open the hash tag early: the keys would spread (CROSSSLOT).
        s.claim = [] {
            return refuse_start("with a Redis Cluster, --redis-prefix cannot hold '{' or '}'");
        };
    }
    s.health = [client, prefix = gp, layout = o.layout] {
        return health_of(client, prefix, layout);
    };
    s.close = [client, control] {
        control->stop();
        client->close_all();
    };
    s.seal = [client, control] {
        control->stop();
        client->seal();
    };
    return s;
}

}  // namespace ditto::store::redis
