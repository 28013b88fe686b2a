#include "redis_governor.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "ditto/core/strings.hpp"
#include "redis_client.hpp"
#include "scripts.hpp"

namespace ditto::store::redis {
namespace {

namespace net = boost::asio;
using boost::system::error_code;

std::string limit_arg(const std::optional<std::uint32_t>& l) {
    return l ? std::to_string(*l) : "-1";
}
std::string amount_arg(const std::optional<std::uint64_t>& v) {
    return v ? std::to_string(*v) : "-1";
}

// One scope's eight admission arguments (lua/admit.lua): rpm, tpm, token budget, µUSD budget,
// tokens and µUSD to reserve ("-1" for none); the window and the expiry of a period's ledger
// ("0" for none).
struct scope_args {
    std::string id;
    std::string rpm = "-1", tpm = "-1", tokens = "-1", usd = "-1", reserve_tokens = "-1",
                reserve_usd = "-1", window = "0", expiry = "0";
};

// A period line's window as the script reads it: from second w on (w > 0), before second -w.
std::string window_arg(const budget_line& l) {
    if (l.valid_from != 0)
        return std::to_string(l.valid_from);
    if (l.valid_until != 0)
        return std::to_string(-l.valid_until);
    return "0";
}

std::vector<scope_args> scopes_of(const admission& a) {
    std::vector<scope_args> out;
    auto row = [&out](const std::string& id) -> scope_args& {
        for (auto& r : out) {
            if (r.id == id)
                return r;
        }
        out.push_back({id});
        return out.back();
    };
    if (a.rate != nullptr) {
        for (const auto& s : *a.rate) {
            auto& r = row(s.id);
            r.rpm = limit_arg(s.rpm);
            r.tpm = limit_arg(s.tpm);
        }
    }
    for (const auto& l : a.lines) {
        auto& r = row(l.scope_id);
        r.window = window_arg(l);
        if (l.expire_at != 0)
            r.expiry = std::to_string(l.expire_at);
        if (l.metric == budget_metric::tokens) {
            r.tokens = amount_arg(l.limit);
            r.reserve_tokens = std::to_string(l.amount);
        } else {
            r.usd = amount_arg(l.limit);
            r.reserve_usd = std::to_string(l.amount);
        }
    }
    return out;
}

std::int64_t unix_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class redis_governor final : public governor, public std::enable_shared_from_this<redis_governor> {
  public:
    redis_governor(std::shared_ptr<redis_client> c, std::string prefix, std::chrono::seconds keep,
                   std::chrono::seconds spend_keep)
        : c_(std::move(c)),
          p_(std::move(prefix)),
          keep_ms_(keep.count() * 1000),
          spend_keep_s_(spend_keep.count()) {}

    net::awaitable<admission_result> admit(admission a) override {
        const auto scopes = scopes_of(a);
        const auto sec = unix_seconds();
        auto cmd = admit_command(a, scopes, sec);
        auto r =
            co_await c_->script(v2_admit_script(), std::move(cmd.first), std::move(cmd.second));
        admission_result out;
        // Filled on an error too: the admission may have landed before its reply was lost,
        // and the caller rolls it back by this ticket (app/store_policy.cpp).
        out.ticket.id = std::move(a.id);
        out.ticket.second = sec;
        out.ticket.reserved = !a.lines.empty();
        out.ticket.rate.tokens = a.charge_tokens;
        for (const auto& s : scopes)
            out.ticket.scopes.push_back(s.id);
        if ((out.error = failure_of(r))) {
            out.error_in_budget = !a.lines.empty();
            co_return out;
        }
        decide(a, scopes, r.reply, out);
        if (!out.admitted)
            out.ticket = {};
        co_return out;
    }

    // Group commit (docs/redis.md, "Layout v2"): the settlements queued on this thread in one
    // event-loop turn go to Redis as one call, under the connection's command deadline.
    net::awaitable<error_code> settle(settle_request r) override {
        if (r.ticket.id.empty())
            co_return error_code{};  // admitted without the store (nothing to settle)
        auto w = std::make_shared<waiter>(co_await net::this_coro::executor);
        queue(std::move(r), w);
        if (!w->done) {
            error_code cancelled;  // the flush cancels the timer when the batch is answered
            co_await w->timer.async_wait(net::redirect_error(net::use_awaitable, cancelled));
        }
        co_return w->result;
    }

  private:
    using command = std::pair<std::vector<std::string>, std::vector<std::string>>;

    std::string bucket_key(std::int64_t sec) const { return p_ + ":res:" + std::to_string(sec); }

    // Built outside the coroutines: GCC 12 mishandles braced-list temporaries in their frames.
    command admit_command(const admission& a, const std::vector<scope_args>& scopes,
                          std::int64_t sec) const {
        command c;
        auto& [keys, argv] = c;
        keys.reserve(scopes.size() + 1);
        argv.reserve(3 + 8 * scopes.size());
        argv.push_back(a.id);
        argv.push_back(std::to_string(sec));
        argv.push_back(std::to_string(a.charge_tokens));
        for (const auto& s : scopes) {
            keys.push_back(scope_key(p_, s.id));
            for (const auto* v : {&s.rpm, &s.tpm, &s.tokens, &s.usd, &s.reserve_tokens,
                                  &s.reserve_usd, &s.window, &s.expiry})
                argv.push_back(*v);
        }
        keys.push_back(bucket_key(sec));
        return c;
    }

    // A settlement's caller, waiting for its batch's answer.
    struct waiter {
        explicit waiter(const net::any_io_executor& ex) : timer(ex) {
            timer.expires_at(net::steady_timer::time_point::max());
        }
        net::steady_timer timer;
        error_code result;
        bool done = false;
    };
    struct queued {
        settle_request request;
        std::shared_ptr<waiter> waits;
    };
    // The settlements waiting on one thread for the end of its event-loop turn.
    struct batch {
        std::vector<queued> items;
        bool flushing = false;
    };

    batch& this_thread_batch() const {
        thread_local std::vector<std::pair<const void*, std::shared_ptr<batch>>> mine;
        for (auto& [owner, b] : mine) {
            if (owner == this)
                return *b;
        }
        mine.emplace_back(this, std::make_shared<batch>());
        return *mine.back().second;
    }

    void queue(settle_request r, std::shared_ptr<waiter> w) {
        auto ex = w->timer.get_executor();
        auto& b = this_thread_batch();
        b.items.push_back({std::move(r), std::move(w)});
        if (b.flushing)
            return;
        b.flushing = true;
        // Posted: it runs after the handlers already queued, so a turn's settlements join.
        net::co_spawn(ex, flush(self(), &b), net::detached);
    }

    static net::awaitable<void> flush(std::shared_ptr<redis_governor> self, batch* b) {
        co_await net::post(net::use_awaitable);
        while (!b->items.empty()) {
            std::vector<queued> items;
            const auto n = std::min(b->items.size(), max_batch);
            items.assign(std::make_move_iterator(b->items.begin()),
                         std::make_move_iterator(b->items.begin() + static_cast<long>(n)));
            b->items.erase(b->items.begin(), b->items.begin() + static_cast<long>(n));
            error_code ec;
            try {
                auto cmd = self->settle_command(items);
                auto res = co_await self->c_->script(v2_settle_script(), std::move(cmd.first),
                                                     std::move(cmd.second));
                ec = failure_of(res);
            } catch (const std::exception&) {
                // No waiter may be left hanging: the batch fails as one (retried by the caller).
                ec = make_error_code(redis_errc::protocol_error);
            }
            for (auto& q : items) {
                q.waits->result = ec;
                q.waits->done = true;
                q.waits->timer.cancel();
            }
        }
        b->flushing = false;
    }

    std::shared_ptr<redis_governor> self() { return shared_from_this(); }

    static constexpr std::size_t max_batch = 64;

    // Settlements (lua/settle.lua): KEYS P:reap, P:audit, then every bucket and scope hash once,
    // named by index from ARGV.
    command settle_command(std::vector<queued>& items) const {
        command c;
        auto& [keys, argv] = c;
        keys = {p_ + ":reap", p_ + ":audit"};
        auto index = [&keys](std::string key) {
            for (std::size_t i = 2; i < keys.size(); ++i) {
                if (keys[i] == key)
                    return std::to_string(i + 1);
            }
            keys.push_back(std::move(key));
            return std::to_string(keys.size());
        };
        argv.push_back(std::to_string(keep_ms_));
        argv.push_back(std::to_string(spend_keep_s_));
        for (auto& q : items) {
            auto& r = q.request;
            const auto& t = r.ticket;
            argv.push_back(t.id);
            argv.push_back(std::to_string(t.second));
            argv.push_back(index(bucket_key(t.second)));
            argv.emplace_back(r.commit ? "c" : "r");
            argv.push_back(amount_arg(r.actual.tokens));
            argv.push_back(amount_arg(r.actual.usd_micros));
            argv.emplace_back(r.refund ? "1" : "0");
            const auto charge = static_cast<std::int64_t>(t.rate.tokens);
            std::int64_t delta = 0;
            if (r.refund)
                delta = -charge;
            else if (r.tokens)
                delta = static_cast<std::int64_t>(*r.tokens) - charge;
            argv.push_back(std::to_string(delta));
            if (r.record) {
                argv.push_back(std::move(r.record->kind));
                argv.push_back(std::move(r.record->payload_json));
            } else {
                argv.emplace_back();
                argv.emplace_back();
            }
            spend_args(p_, r.spend, keys, argv);
            argv.push_back(std::to_string(t.scopes.size()));
            for (const auto& scope : t.scopes)
                argv.push_back(index(scope_key(p_, scope)));
        }
        return c;
    }

    // The admit script's reply (lua/admit.lua): 0 admitted, {0, i, …} admitted with scopes
    // i, … skipped by their window, 1 a duplicate (admitted before), 2 a settlement came
    // first, -(i·1000 + k·100 + w) refused, or {code, attempted} for a budget refusal.
    static void decide(const admission& a, const std::vector<scope_args>& scopes,
                       const redis_reply& reply, admission_result& out) {
        std::int64_t code = 0;
        std::uint64_t attempted = 0;
        if (reply.is_array()) {
            code = element_int(reply, 0);
            attempted = element_u64(reply, 1);
        } else {
            code = reply.as_int().value_or(2);
        }
        if (code == 0 || code == 1) {
            out.admitted = true;
            for (std::size_t e = 1; code == 0 && reply.is_array() && e < reply.elements.size();
                 ++e) {
                const auto i = static_cast<std::size_t>(element_int(reply, e));
                for (std::size_t l = 0; i >= 1 && i <= scopes.size() && l < a.lines.size(); ++l) {
                    if (a.lines[l].scope_id == scopes[i - 1].id)
                        out.skipped_lines.push_back(l);
                }
            }
            return;
        }
        const auto refusal = -code;
        const auto scope = static_cast<std::size_t>(refusal / 1000);
        const auto kind = (refusal / 100) % 10;
        if (code > 0 || scope < 1 || scope > scopes.size() || kind < 1 || kind > 4) {
            out.error = make_error_code(redis_errc::protocol_error);
            return;
        }
        const auto& id = scopes[scope - 1].id;
        if (kind <= 2) {
            out.by_rate = true;
            out.retry_after_seconds =
                static_cast<std::uint32_t>(std::max<std::int64_t>(1, refusal % 100));
            for (std::size_t i = 0; a.rate != nullptr && i < a.rate->size(); ++i) {
                const auto& s = (*a.rate)[i];
                if (s.id != id)
                    continue;
                out.rate_scope = i;
                out.reason = kind == 1 ? "rpm>" + limit_arg(s.rpm) : "tpm>" + limit_arg(s.tpm);
            }
            return;
        }
        const auto metric = kind == 3 ? budget_metric::tokens : budget_metric::usd_micros;
        for (std::size_t i = 0; i < a.lines.size(); ++i) {
            const auto& l = a.lines[i];
            if (l.scope_id != id || l.metric != metric)
                continue;
            out.blocked_line = i;
            out.limit = l.limit.value_or(0);
            out.attempted = attempted;
        }
    }

    std::shared_ptr<redis_client> c_;
    std::string p_;
    std::int64_t keep_ms_;
    std::int64_t spend_keep_s_;
};

}  // namespace

std::string scope_key(const std::string& prefix, const std::string& scope_id) {
    return prefix + ":scope:" + core::percent_encode(scope_id, ":");
}

std::shared_ptr<governor> make_redis_governor(std::shared_ptr<redis_client> client,
                                              std::string prefix,
                                              std::chrono::seconds audit_retention,
                                              std::chrono::seconds spend_retention) {
    return std::make_shared<redis_governor>(std::move(client), std::move(prefix), audit_retention,
                                            spend_retention);
}

// Buckets by the settling replica's clock: a request near an hour's end may land in either
// hour, which moves it, never counts it twice (docs/governance.md, "Spend over time").
void spend_args(const std::string& prefix, const std::optional<spend_sample>& spend,
                std::vector<std::string>& keys, std::vector<std::string>& argv) {
    if (!spend) {
        argv.insert(argv.end(), {"0", "0", "", ""});
        return;
    }
    const auto now = unix_seconds();
    const auto index = [&keys](std::string key) {
        for (std::size_t i = 2; i < keys.size(); ++i) {
            if (keys[i] == key)
                return std::to_string(i + 1);
        }
        keys.push_back(std::move(key));
        return std::to_string(keys.size());
    };
    argv.push_back(index(prefix + ":spend:h:" + std::to_string(now / 3600)));
    argv.push_back(index(prefix + ":spend:d:" + std::to_string(now / 86'400)));
    argv.push_back(spend->dims);
    argv.push_back(std::to_string(spend->input_tokens) + " " +
                   std::to_string(spend->output_tokens) + " " +
                   std::to_string(spend->cached_tokens) + " " + std::to_string(spend->usd_micros));
}

}  // namespace ditto::store::redis
