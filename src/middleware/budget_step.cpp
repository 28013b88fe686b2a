#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <random>

#include "ditto/core/json_writer.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/cost/pricing.hpp"
#include "ditto/log/log.hpp"
#include "ditto/middleware/builtin.hpp"
#include "ditto/store/audit_log.hpp"
#include "ditto/store/budget_store.hpp"

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

// On the way out (docs/governance.md, "Budgets"): commit the actual amounts of a success, roll back
// anything else. Actual tokens are the upstream's `usage`, else the charge for a complete
// answer, else — a stream cut short — the input estimate (never zero).
class budget_settle final : public settle_action {
  public:
    struct params {
        std::shared_ptr<store::budget_store> budgets;
        std::shared_ptr<const cost::pricing_table> pricing;
        std::string id;
        std::uint64_t charge_tokens = 0;
        std::uint64_t input_estimate = 0;
        bool has_cost = false;
        std::uint64_t charge_cost = 0;
        std::string service_tier;
    };
    explicit budget_settle(params p) : p_(std::move(p)) {}

    boost::asio::awaitable<boost::system::error_code> settle(outcome& o) override {
        if (!o.success()) {
            co_return co_await p_.budgets->rollback(std::move(p_.id));
        }
        const auto actual = spent(o);
        co_return co_await p_.budgets->commit(std::move(p_.id), actual);
    }

    std::optional<boost::system::error_code> settle_now(outcome& o) override {
        if (!o.success())
            return p_.budgets->try_rollback(p_.id);
        return p_.budgets->try_commit(p_.id, spent(o));
    }

  private:
    // What a success spent, also recorded in the outcome for the audit (settle() may run after
    // a settle_now() that could not: the same values twice).
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

// Detached from the request (co_spawn'ed with their arguments by value): a store that has just
// failed must not hold the answer. Failures are logged; the retry queue, when there is one,
// has already taken the write.
boost::asio::awaitable<void> rollback_detached(std::shared_ptr<store::budget_store> budgets,
                                               std::string id) {
    if (auto ec = co_await budgets->rollback(id)) {
        log::warn("budget.rollback_failed", "cannot roll back a reservation yet",
                  {{"reservation_id", id}, {"error", ec.message()}});
    }
}

boost::asio::awaitable<void> append_detached(std::shared_ptr<store::audit_log> audit,
                                             std::string payload) {
    if (auto ec = co_await audit->append("proxy.blocked", std::move(payload))) {
        log::error("audit.error", "cannot write audit record",
                   {{"kind", "proxy.blocked"}, {"error", ec.message()}});
    }
}

class budget_step final : public middleware {
  public:
    budget_step(budget_options options, std::shared_ptr<store::budget_store> budgets,
                std::shared_ptr<store::audit_log> audit,
                std::shared_ptr<metrics::counters> counters)
        : o_(std::move(options)),
          budgets_(std::move(budgets)),
          audit_(std::move(audit)),
          counters_(std::move(counters)),
          nonce_(hex64(std::random_device{}() ^
                       (static_cast<std::uint64_t>(std::random_device{}()) << 32))) {}

    // The memory store reserves at once: an admitted request goes on without a coroutine
    // frame (docs/architecture.md). Anything else (a refusal, whose audit record is awaited;
    // a store that must be waited for) is decided again in handle().
    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override {
        store::reservation r;
        std::uint64_t charge_cost = 0;
        if (const auto pre = prepare(ctx, r, charge_cost, out); pre != step_result::wait)
            return pre;
        const auto d = budgets_->try_reserve(r);
        if (!d || d->error || !d->admitted)
            return step_result::wait;
        admitted(ctx, std::move(r), charge_cost);
        return step_result::next;
    }

    boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn next) override {
        store::reservation r;
        std::uint64_t charge_cost = 0;
        std::optional<http::response> out;
        const auto pre = prepare(ctx, r, charge_cost, out);
        if (pre == step_result::answered)
            co_return std::move(*out);
        if (pre == step_result::next)
            co_return co_await next(ctx);

        const auto d = co_await budgets_->reserve(r);
        if (d.error) {
            // A store outage is a policy, not an accident (docs/redis.md, "Failure modes").
            if (o_.fail_open) {
                log::warn("budget.fail_open", "store unavailable: admitted without a reservation",
                          {{"request_id", ctx.request_id}, {"error", d.error.message()}});
                co_return co_await next(ctx);
            }
            // The reserve may still run (it was written before the reply was lost): roll it
            // back, and write the audit record, without making the caller wait on a store
            // that just failed (docs/redis.md: the 503 comes within one command deadline).
            // Both go through the write-retry queue when the store is Redis.
            const auto ex = co_await boost::asio::this_coro::executor;
            boost::asio::co_spawn(ex, rollback_detached(budgets_, r.id), boost::asio::detached);
            boost::asio::co_spawn(
                ex,
                append_detached(audit_, blocked_record(ctx, r.lines.front(), "storage_error", 0, 0,
                                                       charge_cost)),
                boost::asio::detached);
            co_return api_error(ctx.req, gateway_error::store_unavailable,
                                "store unavailable for the budget: " + d.error.message());
        }
        if (!d.admitted) {
            counters_->budget_exceeded.add();
            ctx.blocked = metrics::blocked_by::budget;
            const auto& line = r.lines[d.blocked_line];
            if (line.metric == budget_metric::tokens) {
                co_await blocked(ctx, line, "budget_exceeded", d.limit, d.attempted, charge_cost);
                co_return api_error(ctx.req, gateway_error::budget_exceeded,
                                    "budget exceeded: limit=" + std::to_string(d.limit) +
                                        " attempted=" + std::to_string(d.attempted));
            }
            co_await blocked(ctx, line, "cost_budget_exceeded", d.limit, d.attempted, charge_cost);
            co_return api_error(
                ctx.req, gateway_error::cost_budget_exceeded,
                "cost budget exceeded: limit_usd_micros=" + std::to_string(d.limit) +
                    " attempted_usd_micros=" + std::to_string(d.attempted));
        }
        admitted(ctx, std::move(r), charge_cost);
        co_return co_await next(ctx);
    }

  private:
    // The reservation the request needs: `wait` when there is one to make, `next` when there
    // is none (a free request, no budget), `answered` when the request cannot be priced.
    step_result prepare(proxy_context& ctx, store::reservation& r, std::uint64_t& charge_cost,
                        std::optional<http::response>& out) {
        if (!ctx.metered)
            return step_result::next;  // free (docs/governance.md): nothing reserved or settled
        const bool priced = ctx.cost == proxy_context::cost_policy::token_based;
        r.key_id = ctx.key->id;
        for (const auto& s : ctx.keys->scopes(*ctx.key).all) {
            if (!s.budget)
                continue;
            if (s.budget->total_tokens) {
                r.lines.push_back(
                    {s.id, budget_metric::tokens, s.budget->total_tokens, ctx.charge_tokens});
            }
            if (priced && s.budget->total_usd_micros)
                r.lines.push_back({s.id, budget_metric::usd_micros, s.budget->total_usd_micros, 0});
        }
        if (r.lines.empty())
            return step_result::next;
        if (priced) {
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
            for (auto& l : r.lines) {
                if (l.metric == budget_metric::usd_micros)
                    l.amount = charge_cost;
            }
        }
        r.id = ctx.request_id + "#" + nonce_ + "-" +
               std::to_string(seq_.fetch_add(1, std::memory_order_relaxed));
        return step_result::wait;
    }

    // An admitted reservation is settled with the answer.
    void admitted(proxy_context& ctx, store::reservation r, std::uint64_t charge_cost) {
        budget_settle::params p;
        p.budgets = budgets_;
        p.pricing = o_.pricing;
        p.id = std::move(r.id);
        p.charge_tokens = ctx.charge_tokens;
        p.input_estimate = ctx.input_estimate;
        p.has_cost = ctx.cost == proxy_context::cost_policy::token_based;
        p.charge_cost = charge_cost;
        if (ctx.fields.service_tier)
            p.service_tier = *ctx.fields.service_tier;
        ctx.settle.result().charge_cost_usd_micros = charge_cost;
        ctx.settle.add(std::make_unique<budget_settle>(std::move(p)));
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
    std::shared_ptr<store::budget_store> budgets_;
    std::shared_ptr<store::audit_log> audit_;
    std::shared_ptr<metrics::counters> counters_;
    std::string nonce_;
    std::atomic<std::uint64_t> seq_{0};
};

// The USD endpoint policy (docs/governance.md, "Costs"), before the guardrails: with a USD budget
// in force, only the token-priced endpoints (and free ones) are allowed.
class cost_policy_step final : public sync_middleware {
  public:
    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override {
        if (!ctx.keys->scopes(*ctx.key).cost_budget)
            return step_result::next;
        using cp = proxy_context::cost_policy;
        if (!ctx.metered || ctx.path == "/v1/files") {
            ctx.cost = cp::free;
            return step_result::next;
        }
        static constexpr std::string_view token_based[] = {"/v1/chat/completions",
                                                           "/v1/completions", "/v1/embeddings",
                                                           "/v1/moderations", "/v1/rerank"};
        // The dialect front doors are chat completions underneath (docs/dialects.md).
        bool ok = ctx.path.starts_with("/v1/responses") || ctx.dialect != dialect::kind::openai;
        for (auto p : token_based)
            ok = ok || ctx.path == p;
        if (!ok) {
            out = api_error(ctx.req, gateway_error::cost_budget_unsupported_endpoint,
                            "cost budgets support only token-priced endpoints, not " + ctx.path);
            return step_result::answered;
        }
        ctx.cost = cp::token_based;
        return step_result::next;
    }
};

}  // namespace

std::shared_ptr<middleware> make_budget(budget_options options,
                                        std::shared_ptr<store::budget_store> budgets,
                                        std::shared_ptr<store::audit_log> audit,
                                        std::shared_ptr<metrics::counters> counters) {
    return std::make_shared<budget_step>(std::move(options), std::move(budgets), std::move(audit),
                                         std::move(counters));
}

std::shared_ptr<middleware> make_cost_policy() {
    return std::make_shared<cost_policy_step>();
}

}  // namespace ditto::middleware
