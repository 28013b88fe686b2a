// The admission step (docs/governance.md, "Rate limits" and "Budgets"): every rate limit and
// budget of the key's scopes in one store operation, and one settlement on the way out
// (include/ditto/store/governor.hpp).

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <random>

#include "ditto/core/json_writer.hpp"
#include "ditto/core/rfc3339.hpp"
#include "ditto/cost/pricing.hpp"
#include "ditto/log/log.hpp"
#include "ditto/middleware/budget_periods.hpp"
#include "ditto/middleware/builtin.hpp"
#include "ditto/middleware/keys.hpp"
#include "ditto/store/audit_log.hpp"
#include "ditto/store/governor.hpp"
#include "ditto/store/period_scope.hpp"

namespace ditto::middleware {
namespace {

using http::gateway_error;
using store::budget_metric;

std::string hex64(std::uint64_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4)
        s[static_cast<std::size_t>(i)] = digits[v & 0xf];
    return s;
}

// On the way out. Rate limits: a request that did not succeed gives its place back (same
// minute); one that did is charged what the upstream reported instead of the estimate, or, for a
// stream cut short without usage, its input estimate. A cache hit keeps its place in rpm (it was
// served) but costs no tokens; so does a free request (a GET), whatever usage its answer shows (a
// stored response's, already paid for). Budgets: a success commits the actual amounts — the
// upstream's `usage`, else the charge for a complete answer, else (a stream cut short) the input
// estimate, never zero — anything else rolls back. The settlement waits in the outcome for the
// proxy's audit record, so that both go to the store in one operation (settlement.hpp).
class governed_settle final : public settle_action {
  public:
    struct params {
        std::shared_ptr<store::governor> governor;
        std::shared_ptr<const cost::pricing_table> pricing;
        store::admission_ticket ticket;
        std::uint64_t charge_tokens = 0;
        std::uint64_t input_estimate = 0;
        bool metered = true;
        bool has_cost = false;
        std::uint64_t charge_cost = 0;
        std::string service_tier;
    };
    explicit governed_settle(params p) : p_(std::move(p)) {}

    boost::asio::awaitable<boost::system::error_code> settle(outcome& o) override {
        co_return *settle_now(o);
    }

    std::optional<boost::system::error_code> settle_now(outcome& o) override {
        store::settle_request r;
        r.ticket = std::move(p_.ticket);
        if (!o.success()) {
            r.refund = true;
        } else if (p_.metered) {
            if (o.cache_hit) {
                r.tokens = 0;
            } else if (auto total = o.usage.total_tokens()) {
                r.tokens = *total;
            } else if (!o.completed) {
                r.tokens = p_.input_estimate;
            }
        }
        if (r.ticket.reserved && o.success()) {
            r.commit = true;
            r.actual = spent(o);
        }
        o.pending = pending_settlement{p_.governor, std::move(r)};
        return boost::system::error_code{};
    }

  private:
    // What a success spent, also recorded in the outcome for the audit.
    store::actual_amounts spent(outcome& o) const {
        store::actual_amounts actual;
        if (auto total = o.usage.total_tokens()) {
            actual.tokens = *total;
        } else {
            actual.tokens = o.completed ? p_.charge_tokens : p_.input_estimate;
        }
        if (p_.has_cost)
            actual.usd_micros = actual_cost(o);
        o.spent_tokens = actual.tokens;
        o.spent_cost_usd_micros = actual.usd_micros;
        return actual;
    }

    // The price of what the upstream reported, for the model it was sent (after model_map);
    // it needs both counts. Otherwise the admission estimate, or for a stream cut short
    // without usage, the price of its input estimate.
    std::uint64_t actual_cost(const outcome& o) const {
        const auto& u = o.usage;
        if (u.input && u.output && p_.pricing) {
            cost::token_counts c{*u.input, u.cached.value_or(0), u.creation.value_or(0), *u.output};
            if (auto v = p_.pricing->estimate_usd_micros(o.upstream_model, c, p_.service_tier))
                return *v;
        }
        if (!o.completed && p_.pricing) {
            cost::token_counts c{p_.input_estimate, 0, 0, 0};
            if (auto v = p_.pricing->estimate_usd_micros(o.upstream_model, c, p_.service_tier))
                return std::min(*v, p_.charge_cost);
        }
        return p_.charge_cost;
    }

    params p_;
};

boost::asio::awaitable<void> append_detached(std::shared_ptr<store::audit_log> audit,
                                             std::string payload) {
    if (auto ec = co_await audit->append("proxy.blocked", std::move(payload))) {
        log::error("audit.error", "cannot write audit record",
                   {{"kind", "proxy.blocked"}, {"error", ec.message()}});
    }
}

// Served after the admission: a cache hit (cache_step.cpp) waits for its rate limits.
std::optional<http::response> cached(proxy_context& ctx) {
    if (!ctx.cached_answer)
        return std::nullopt;
    return ctx.cached_answer(ctx);
}

class admit_step final : public middleware {
  public:
    admit_step(budget_options options, std::shared_ptr<store::governor> governor,
               std::shared_ptr<store::audit_log> audit, std::shared_ptr<metrics::counters> counters)
        : o_(std::move(options)),
          governor_(std::move(governor)),
          audit_(std::move(audit)),
          counters_(std::move(counters)),
          nonce_(hex64(std::random_device{}() ^
                       (static_cast<std::uint64_t>(std::random_device{}()) << 32))) {}

    // The memory store decides at once: an admitted request goes on without a coroutine frame
    // (docs/architecture.md). Anything else (a budget refusal, whose audit record is awaited; a
    // store that must be waited for) is decided in handle().
    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override {
        store::admission a;
        std::vector<store::rate_scope> rates;  // a model_limits entry's; pointed to by `a`
        std::uint64_t charge_cost = 0;
        const auto pre = prepare(ctx, a, rates, charge_cost, out);
        if (pre == step_result::next && (out = cached(ctx)))
            return step_result::answered;
        if (pre != step_result::wait)
            return pre;
        auto d = governor_->try_admit(a);
        if (!d || d->error || (!d->admitted && !d->by_rate))
            return step_result::wait;
        if (!d->admitted) {
            out = rate_refusal(ctx, a, *d);
            return step_result::answered;
        }
        admitted(ctx, *d, a, charge_cost);
        if ((out = cached(ctx)))
            return step_result::answered;
        return step_result::next;
    }

    boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn next) override {
        store::admission a;
        std::vector<store::rate_scope> rates;
        std::uint64_t charge_cost = 0;
        std::optional<http::response> out;
        const auto pre = prepare(ctx, a, rates, charge_cost, out);
        if (pre == step_result::next)
            out = cached(ctx);
        if (out)
            co_return std::move(*out);
        if (pre == step_result::next)
            co_return co_await next(ctx);

        auto d = co_await governor_->admit(a);
        if (d.error) {
            if (!d.error_in_budget) {
                co_return api_error(ctx.req, gateway_error::store_unavailable,
                                    "store unavailable for the rate limit: " + d.error.message());
            }
            // The audit record goes without making the caller wait on a store that just failed
            // (docs/redis.md: the 503 comes within one command deadline).
            const auto ex = co_await boost::asio::this_coro::executor;
            boost::asio::co_spawn(
                ex,
                append_detached(audit_, blocked_record(ctx, a.lines.front(), "storage_error", 0, 0,
                                                       charge_cost)),
                boost::asio::detached);
            co_return api_error(ctx.req, gateway_error::store_unavailable,
                                "store unavailable for the budget: " + d.error.message());
        }
        if (!d.admitted && d.by_rate)
            co_return rate_refusal(ctx, a, d);
        if (!d.admitted) {
            counters_->budget_exceeded.add();
            ctx.blocked = metrics::blocked_by::budget;
            const auto& line = a.lines[d.blocked_line];
            const bool tokens = line.metric == budget_metric::tokens;
            co_await blocked(ctx, line, tokens ? "budget_exceeded" : "cost_budget_exceeded",
                             d.limit, d.attempted, charge_cost);
            co_return budget_refusal(ctx, line, d);
        }
        admitted(ctx, d, a, charge_cost);
        out = cached(ctx);
        if (out)
            co_return std::move(*out);
        co_return co_await next(ctx);
    }

  private:
    // The admission the request needs: `wait` when there is one to make, `next` when there is
    // none (no limits and no budget), `answered` when the request cannot be priced. A cache hit
    // and a free request reserve no budget (docs/governance.md).
    step_result prepare(proxy_context& ctx, store::admission& a,
                        std::vector<store::rate_scope>& rates, std::uint64_t& charge_cost,
                        std::optional<http::response>& out) {
        const auto& scopes = ctx.keys->scopes(*ctx.key);
        if (!scopes.rate.empty())
            a.rate = &scopes.rate;
        // A model_limits entry adds its scope to the key's, in the same admission; matched on
        // the model as the router and the guardrails see it.
        const auto* model = scopes.models.empty() ? nullptr : scopes.model(routed_model(ctx));
        if (model != nullptr && model->rate) {
            rates = scopes.rate;
            rates.push_back(*model->rate);
            a.rate = &rates;
        }
        a.charge_tokens = ctx.charge_tokens;
        if (ctx.metered && !ctx.cached_answer) {
            if (const auto pre = budget_lines(ctx, a, model, charge_cost, out);
                pre != step_result::next)
                return pre;
        }
        if (a.rate == nullptr && a.lines.empty())
            return step_result::next;
        a.key_id = ctx.key->id;
        a.id = ctx.request_id + "#" + nonce_ + "-" +
               std::to_string(seq_.fetch_add(1, std::memory_order_relaxed));
        return step_result::wait;
    }

    step_result budget_lines(proxy_context& ctx, store::admission& a,
                             const key_snapshot::model_scope* model, std::uint64_t& charge_cost,
                             std::optional<http::response>& out) const {
        const bool priced = ctx.cost == proxy_context::cost_policy::token_based;
        std::int64_t now = 0;  // the calendar second, read once and only for a period budget
        const auto& all = ctx.keys->scopes(*ctx.key).all;
        for (std::size_t i = 0; i < all.size() + (model != nullptr ? 1 : 0); ++i) {
            const auto& s = i < all.size() ? all[i] : model->scope;
            if (!s.budget)
                continue;
            const bool tokens = s.budget->total_tokens.has_value();
            const bool usd = priced && s.budget->total_usd_micros;
            if (!tokens && !usd)
                continue;
            if (s.zone != nullptr && now == 0)
                now = calendar_now_ms() / 1000;
            const auto& zone = s.zone != nullptr ? *s.zone : *core::time_zone::utc();
            for (auto& l : ledgers_for(s.id, *s.budget, zone, now)) {
                const auto line = [&l](budget_metric m, std::optional<std::uint64_t> limit,
                                       std::uint64_t amount) {
                    store::budget_line bl{l.scope_id, m, limit, amount};
                    bl.valid_from = l.valid_from;
                    bl.valid_until = l.valid_until;
                    bl.expire_at = l.expire_at;
                    return bl;
                };
                if (tokens) {
                    a.lines.push_back(
                        line(budget_metric::tokens, s.budget->total_tokens, ctx.charge_tokens));
                }
                if (usd)
                    a.lines.push_back(
                        line(budget_metric::usd_micros, s.budget->total_usd_micros, 0));
            }
        }
        if (a.lines.empty() || !priced)
            return step_result::next;
        if (!ctx.fields.model || ctx.fields.model->empty()) {
            out = api_error(ctx.req, gateway_error::invalid_request, "missing field `model`");
            return step_result::answered;
        }
        const auto est = admission_cost(ctx);
        if (!est) {
            out = api_error(ctx.req, gateway_error::pricing_not_configured,
                            "pricing not configured for cost budgets");
            return step_result::answered;
        }
        charge_cost = *est;
        for (auto& l : a.lines) {
            if (l.metric == budget_metric::usd_micros)
                l.amount = charge_cost;
        }
        return step_result::next;
    }

    http::response rate_refusal(proxy_context& ctx, const store::admission& a,
                                const store::admission_result& d) {
        counters_->rate_limited.add();
        ctx.blocked = metrics::blocked_by::rate_limited;
        std::string msg = "rate limit exceeded: " + d.reason;
        if (a.rate != nullptr && d.rate_scope < a.rate->size())
            msg += model_note((*a.rate)[d.rate_scope].id);
        auto res = api_error(ctx.req, gateway_error::rate_limited, msg);
        res.msg.set(http::field::retry_after, std::to_string(d.retry_after_seconds));
        return res;
    }

    // A refusal by a model_limits entry says which: " model_limits=gpt-4o*".
    static std::string model_note(std::string_view scope_id) {
        static constexpr std::string_view tag = "#model:";
        const auto at = scope_id.find(tag);
        if (at == std::string_view::npos)
            return "";
        return " model_limits=" + std::string(scope_id.substr(at + tag.size()));
    }

    // 402 with the limit and what the request would have brought the ledger to; a period's
    // budget also says when it resets, in the message and as Retry-After.
    static http::response budget_refusal(const proxy_context& ctx, const store::budget_line& line,
                                         const store::admission_result& d) {
        const bool tokens = line.metric == budget_metric::tokens;
        std::string msg =
            tokens ? "budget exceeded: limit=" + std::to_string(d.limit) +
                         " attempted=" + std::to_string(d.attempted)
                   : "cost budget exceeded: limit_usd_micros=" + std::to_string(d.limit) +
                         " attempted_usd_micros=" + std::to_string(d.attempted);
        std::optional<store::period_scope> period;
        if (line.expire_at != 0)
            period = store::split_period_scope(line.scope_id);
        msg += model_note(period ? period->scope : std::string_view(line.scope_id));
        if (period)
            msg += " resets_at=" + core::format_rfc3339_utc(period->end * 1000);
        auto res = api_error(
            ctx.req, tokens ? gateway_error::budget_exceeded : gateway_error::cost_budget_exceeded,
            msg);
        if (period) {
            const auto wait = period->end - calendar_now_ms() / 1000;
            res.msg.set(http::field::retry_after, std::to_string(std::max<std::int64_t>(1, wait)));
        }
        return res;
    }

    // An admitted request is settled with its answer.
    void admitted(proxy_context& ctx, store::admission_result& d, const store::admission& a,
                  std::uint64_t charge_cost) {
        // The period ledgers it counts in, for its audit record (both periods' were named near
        // a boundary; the store's clock skipped one).
        for (std::size_t i = 0; d.ticket.reserved && i < a.lines.size(); ++i) {
            const auto& id = a.lines[i].scope_id;
            if (a.lines[i].expire_at == 0 ||  // a lifetime budget's line
                std::find(d.skipped_lines.begin(), d.skipped_lines.end(), i) !=
                    d.skipped_lines.end())
                continue;
            auto& list = ctx.settle.result().budget_ledgers;
            if (std::find(list.begin(), list.end(), id) == list.end())
                list.push_back(id);
        }
        governed_settle::params p;
        p.governor = governor_;
        p.pricing = o_.pricing;
        p.ticket = std::move(d.ticket);
        p.charge_tokens = ctx.charge_tokens;
        p.input_estimate = ctx.input_estimate;
        p.metered = ctx.metered;
        p.has_cost = ctx.cost == proxy_context::cost_policy::token_based;
        p.charge_cost = charge_cost;
        if (ctx.fields.service_tier)
            p.service_tier = *ctx.fields.service_tier;
        ctx.settle.result().charge_cost_usd_micros = charge_cost;
        ctx.settle.add(std::make_unique<governed_settle>(std::move(p)));
    }

    // The admission estimate (docs/governance.md, "Costs"): the request model's price for input
    // estimate + max output, raised to the dearest model_map target among the candidates (exact
    // entry, else `*`). Unpriced only when none of them has a price.
    std::optional<std::uint64_t> admission_cost(const proxy_context& ctx) const {
        if (!o_.pricing)
            return std::nullopt;
        const cost::token_counts c{ctx.input_estimate, 0, 0,
                                   ctx.charge_tokens - ctx.input_estimate};
        // Not `?:` with "": its common type is std::string, a temporary the view would outlive.
        std::string_view tier;
        if (ctx.fields.service_tier)
            tier = *ctx.fields.service_tier;
        const std::string& model = *ctx.fields.model;
        auto best = o_.pricing->estimate_usd_micros(model, c, tier);
        for (const auto& name : ctx.candidates) {
            auto mm = o_.model_maps.find(name);
            if (mm == o_.model_maps.end())
                continue;
            auto target = mm->second.find(model);
            if (target == mm->second.end())
                target = mm->second.find("*");
            if (target == mm->second.end())
                continue;
            if (auto v = o_.pricing->estimate_usd_micros(target->second, c, tier))
                best = best ? std::max(*best, *v) : *v;
        }
        return best;
    }

    // A refused reservation leaves an audit record (docs/governance.md, "Budgets").
    boost::asio::awaitable<void> blocked(const proxy_context& ctx, const store::budget_line& line,
                                         std::string_view reason, std::uint64_t limit,
                                         std::uint64_t attempted, std::uint64_t charge_cost) {
        auto payload = blocked_record(ctx, line, reason, limit, attempted, charge_cost);
        if (auto ec = co_await audit_->append("proxy.blocked", std::move(payload))) {
            log::error("audit.error", "cannot write audit record",
                       {{"kind", "proxy.blocked"}, {"error", ec.message()}});
        }
    }

    static std::string blocked_record(const proxy_context& ctx, const store::budget_line& line,
                                      std::string_view reason, std::uint64_t limit,
                                      std::uint64_t attempted, std::uint64_t charge_cost) {
        core::json_object_writer w;
        w.str("request_id", ctx.request_id)
            .str("virtual_key_id", ctx.key->id)
            .str("budget_scope", line.scope_id)
            .str("reason", reason)
            .num("limit", limit)
            .num("attempted", attempted)
            .num("charge_tokens", ctx.charge_tokens)
            .num("charge_cost_usd_micros", charge_cost)
            .str("path", ctx.path)
            .str_or_null("model", ctx.fields.model);
        return w.finish();
    }

    budget_options o_;
    std::shared_ptr<store::governor> governor_;
    std::shared_ptr<store::audit_log> audit_;
    std::shared_ptr<metrics::counters> counters_;
    std::string nonce_;
    std::atomic<std::uint64_t> seq_{0};
};

}  // namespace

std::shared_ptr<middleware> make_admit(budget_options options,
                                       std::shared_ptr<store::governor> governor,
                                       std::shared_ptr<store::audit_log> audit,
                                       std::shared_ptr<metrics::counters> counters) {
    return std::make_shared<admit_step>(std::move(options), std::move(governor), std::move(audit),
                                        std::move(counters));
}

}  // namespace ditto::middleware
