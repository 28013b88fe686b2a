// The governor made of the three store parts (include/ditto/store/governor.hpp): the memory
// store's, which decide without waiting, and a shared store's behind its outage policies
// (app/store_policy.hpp).

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "ditto/log/log.hpp"
#include "ditto/store/governor.hpp"
#include "ditto/store/store.hpp"

namespace ditto::store {
namespace {

namespace net = boost::asio;
using boost::system::error_code;

// Detached from the request: a store that has just failed must not hold the answer.
net::awaitable<void> rollback_detached(std::shared_ptr<budget_store> budgets, std::string id) {
    if (auto ec = co_await budgets->rollback(id)) {
        log::warn("budget.rollback_failed", "cannot roll back a reservation yet",
                  {{"reservation_id", id}, {"error", ec.message()}});
    }
}

class composite_governor final : public governor {
  public:
    composite_governor(std::shared_ptr<rate_limiter> limits, std::shared_ptr<budget_store> budgets,
                       std::shared_ptr<audit_log> audit, bool fail_open)
        : limits_(std::move(limits)),
          budgets_(std::move(budgets)),
          audit_(std::move(audit)),
          fail_open_(fail_open) {}

    // All or nothing, or nullopt with nothing charged: a refused reservation (its audit record
    // is awaited by the caller) is decided again by admit().
    std::optional<admission_result> try_admit(const admission& a) override {
        admission_result out;
        out.ticket.id = a.id;
        if (a.rate != nullptr && !a.rate->empty()) {
            auto d = limits_->try_admit(*a.rate, a.charge_tokens);
            if (!d)
                return std::nullopt;
            if (!take_rate(std::move(*d), out))
                return out;
        }
        if (!a.lines.empty()) {
            const reservation r{a.id, a.key_id, a.lines};
            const auto b = budgets_->try_reserve(r);
            if (!b || b->error || !b->admitted) {
                if (!out.ticket.rate.scope_ids.empty() && !limits_->try_refund(out.ticket.rate))
                    return out_of_step(out);
                return std::nullopt;
            }
            out.ticket.reserved = true;
            out.skipped_lines = b->skipped_lines;
        }
        out.admitted = true;
        return out;
    }

    net::awaitable<admission_result> admit(admission a) override {
        admission_result out;
        out.ticket.id = a.id;
        if (a.rate != nullptr && !a.rate->empty()) {
            auto d = co_await limits_->admit(*a.rate, a.charge_tokens);
            if (!take_rate(std::move(d), out))
                co_return out;
        }
        if (!a.lines.empty()) {
            // Named, not a braced temporary in the co_await: GCC 12 destroys such a temporary
            // twice (a heap corruption seen at thread exit).
            reservation r{a.id, a.key_id, std::move(a.lines)};
            const auto b = co_await budgets_->reserve(std::move(r));
            if (b.error && fail_open_) {
                // A store outage is a policy, not an accident (docs/redis.md, "Failure modes").
                log::warn("budget.fail_open", "store unavailable: admitted without a reservation",
                          {{"reservation_id", a.id}, {"error", b.error.message()}});
                out.admitted = true;
                co_return out;
            }
            if (b.error || !b.admitted) {
                if (!out.ticket.rate.scope_ids.empty())
                    co_await limits_->refund(out.ticket.rate);
                out.ticket.rate = {};
                if (b.error) {
                    // The reserve may still run (written before the reply was lost): roll it
                    // back without making the caller wait (the 503 comes within one command
                    // deadline, docs/redis.md).
                    const auto ex = co_await net::this_coro::executor;
                    net::co_spawn(ex, rollback_detached(budgets_, a.id), net::detached);
                    out.error = b.error;
                    out.error_in_budget = true;
                    co_return out;
                }
                out.blocked_line = b.blocked_line;
                out.limit = b.limit;
                out.attempted = b.attempted;
                co_return out;
            }
            out.ticket.reserved = true;
            out.skipped_lines = b.skipped_lines;
        }
        out.admitted = true;
        co_return out;
    }

    // Every part or none: the memory store's parts all settle without waiting, a shared
    // store's none, so a part that must wait is the first one asked.
    std::optional<error_code> try_settle(const settle_request& r) override {
        if ((r.record || r.spend) && !audit_->appends_now())
            return std::nullopt;
        const auto& charge = r.ticket.rate;
        if (!charge.scope_ids.empty()) {
            bool done = true;
            if (r.refund)
                done = limits_->try_refund(charge);
            else if (r.tokens)
                done = limits_->try_settle_tokens(charge, *r.tokens);
            if (!done)
                return std::nullopt;
        }
        error_code first;
        if (r.ticket.reserved) {
            std::optional<error_code> ec;
            if (r.commit)
                ec = budgets_->try_commit(r.ticket.id, r.actual);
            else
                ec = budgets_->try_rollback(r.ticket.id);
            if (!ec)
                return std::nullopt;
            first = *ec;
        }
        if (r.spend) {
            // The record (if kept) and the spend in one append (audit_log::append_spent).
            auto ec = r.record ? audit_->append_spent_sync(r.record->kind, r.record->payload_json,
                                                           r.record->vetted, *r.spend)
                               : audit_->append_spent_sync({}, {}, true, *r.spend);
            if (!first)
                first = ec;
        } else if (r.record) {
            auto ec = r.record->vetted
                          ? audit_->append_redacted_sync(r.record->kind, r.record->payload_json)
                          : audit_->append_sync(r.record->kind, r.record->payload_json);
            if (!first)
                first = ec;
        }
        return first;
    }

    net::awaitable<error_code> settle(settle_request r) override {
        if (!r.ticket.rate.scope_ids.empty()) {
            if (r.refund)
                co_await limits_->refund(r.ticket.rate);
            else if (r.tokens)
                co_await limits_->settle_tokens(r.ticket.rate, *r.tokens);
        }
        error_code first;
        if (r.ticket.reserved) {
            if (r.commit)
                first = co_await budgets_->commit(r.ticket.id, r.actual);
            else
                first = co_await budgets_->rollback(r.ticket.id);
        }
        if (r.spend) {
            settle_record rec;
            if (r.record)
                rec = std::move(*r.record);
            const auto ec =
                co_await audit_->append_spent(std::move(rec.kind), std::move(rec.payload_json),
                                              rec.vetted || !r.record, *r.spend);
            if (!first)
                first = ec;
        } else if (r.record) {
            error_code ec;
            if (r.record->vetted)
                ec = co_await audit_->append_redacted(std::move(r.record->kind),
                                                      std::move(r.record->payload_json));
            else
                ec = co_await audit_->append(std::move(r.record->kind),
                                             std::move(r.record->payload_json));
            if (!first)
                first = ec;
        }
        co_return first;
    }

  private:
    // The rate part's decision into `out`; true when admitted.
    static bool take_rate(rate_decision d, admission_result& out) {
        if (d.error) {
            out.error = d.error;
            return false;
        }
        if (!d.admitted) {
            out.by_rate = true;
            out.rate_scope = d.blocked_scope;
            out.reason = std::move(d.reason);
            out.retry_after_seconds = d.retry_after_seconds;
            return false;
        }
        out.ticket.rate = std::move(d.charge);
        return true;
    }

    // A rate part that decided at once but cannot refund at once: never the case for the
    // memory store; reported as an error rather than leaving a charge behind silently.
    static admission_result out_of_step(admission_result out) {
        out.error =
            boost::system::errc::make_error_code(boost::system::errc::operation_not_supported);
        out.ticket = {};
        return out;
    }

    std::shared_ptr<rate_limiter> limits_;
    std::shared_ptr<budget_store> budgets_;
    std::shared_ptr<audit_log> audit_;
    bool fail_open_;
};

}  // namespace

std::shared_ptr<governor> make_composite_governor(const store_set& s, bool fail_open) {
    return std::make_shared<composite_governor>(s.limits, s.budgets, s.audit, fail_open);
}

}  // namespace ditto::store
