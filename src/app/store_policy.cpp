#include "store_policy.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>

#include "ditto/log/log.hpp"
#include "ditto/store/background_writes.hpp"
#include "ditto/store/memory/memory_rate_limiter.hpp"
#include "ditto/store/redis/redis_connection.hpp"

namespace ditto::app {
namespace {

namespace net = boost::asio;
using boost::system::error_code;

// Logs the shared store's comings and goings for the rate limits, once per change; true when
// it failed (`ec`) and the limits fall back to this replica.
bool shared_store_failed(std::atomic<bool>& degraded, const error_code& ec) {
    if (!ec) {
        if (degraded.exchange(false))
            log::info("store.rate_limit_recovered", "rate limits are shared again");
        return false;
    }
    if (!degraded.exchange(true)) {
        log::warn("store.rate_limit_fallback",
                  "shared store unavailable: rate limits are per replica until it is back",
                  {{"error", ec.message()}});
    }
    return true;
}

class fallback_limiter final : public store::rate_limiter {
  public:
    fallback_limiter(std::shared_ptr<store::rate_limiter> shared,
                     std::shared_ptr<store::rate_limiter> local)
        : shared_(std::move(shared)), local_(std::move(local)) {}

    net::awaitable<store::rate_decision> admit(std::vector<store::rate_scope> scopes,
                                               std::uint64_t tokens) override {
        auto d = co_await shared_->admit(scopes, tokens);
        if (!shared_store_failed(degraded_, d.error))
            co_return d;
        d = co_await local_->admit(std::move(scopes), tokens);
        d.charge.local = true;
        co_return d;
    }

    net::awaitable<void> refund(store::rate_charge charge) override {
        if (charge.local) {
            co_await local_->refund(std::move(charge));
        } else {
            co_await shared_->refund(std::move(charge));
        }
    }

    net::awaitable<void> settle_tokens(store::rate_charge charge, std::uint64_t actual) override {
        if (charge.local) {
            co_await local_->settle_tokens(std::move(charge), actual);
        } else {
            co_await shared_->settle_tokens(std::move(charge), actual);
        }
    }

  private:
    std::shared_ptr<store::rate_limiter> shared_;
    std::shared_ptr<store::rate_limiter> local_;
    std::atomic<bool> degraded_{false};
};

// Store writes that failed for an outage, retried with backoff on the background executor
// until they succeed. Bounded: beyond `max_pending` a write is dropped and logged.
class retry_queue final : public std::enable_shared_from_this<retry_queue> {
  public:
    using op = std::function<net::awaitable<error_code>()>;

    explicit retry_queue(net::any_io_executor bg) : bg_(std::move(bg)) {}

    void add(op o, std::string what, const error_code& ec) {
        if (pending_.fetch_add(1) >= max_pending) {
            pending_.fetch_sub(1);
            log::error("store.retry_dropped", "too many writes waiting for the store",
                       {{"what", what}, {"error", ec.message()}});
            return;
        }
        log::warn("store.retry", "store unavailable; the write will be retried",
                  {{"what", what}, {"error", ec.message()}});
        store::background_write counted;
        net::co_spawn(bg_,
                      run(shared_from_this(), std::move(o), std::move(what), std::move(counted)),
                      net::detached);
    }

  private:
    static constexpr std::uint64_t max_pending = 100'000;

    static net::awaitable<void> run(std::shared_ptr<retry_queue> self, op o, std::string what,
                                    [[maybe_unused]] store::background_write counted) {
        net::steady_timer timer(co_await net::this_coro::executor);
        auto delay = std::chrono::milliseconds(200);
        for (;;) {
            timer.expires_after(delay);
            error_code wait_ec;
            co_await timer.async_wait(net::redirect_error(net::use_awaitable, wait_ec));
            if (wait_ec)
                break;  // shutting down
            const error_code ec = co_await o();
            if (!ec) {
                log::info("store.retry_done", "write completed after a store outage",
                          {{"what", what}});
                break;
            }
            if (ec == net::error::operation_aborted)
                break;  // the store is sealed: the exit's grace is over
            delay = std::min(delay * 2, std::chrono::milliseconds(5000));
        }
        self->pending_.fetch_sub(1);
    }

    net::any_io_executor bg_;
    std::atomic<std::uint64_t> pending_{0};
};

class retrying_budgets final : public store::budget_store {
  public:
    retrying_budgets(std::shared_ptr<store::budget_store> inner, std::shared_ptr<retry_queue> q)
        : inner_(std::move(inner)), q_(std::move(q)) {}

    net::awaitable<store::reserve_result> reserve(store::reservation r) override {
        co_return co_await inner_->reserve(std::move(r));
    }

    // Both are idempotent by reservation id, so a retry never counts twice; the request's
    // answer does not wait for the store to come back.
    net::awaitable<error_code> commit(std::string id, store::actual_amounts actual) override {
        const error_code ec = co_await inner_->commit(id, actual);
        if (ec) {
            auto inner = inner_;
            q_->add([inner, id, actual] { return inner->commit(id, actual); },
                    "budget commit " + id, ec);
        }
        co_return error_code{};
    }

    net::awaitable<error_code> rollback(std::string id) override {
        const error_code ec = co_await inner_->rollback(id);
        if (ec) {
            auto inner = inner_;
            q_->add([inner, id] { return inner->rollback(id); }, "budget rollback " + id, ec);
        }
        co_return error_code{};
    }

    net::awaitable<std::vector<store::ledger_entry>> ledgers(store::budget_metric m) override {
        co_return co_await inner_->ledgers(m);
    }

    net::awaitable<store::reap_result> reap(std::chrono::milliseconds older_than, std::size_t limit,
                                            bool dry_run) override {
        co_return co_await inner_->reap(older_than, limit, dry_run);
    }

  private:
    std::shared_ptr<store::budget_store> inner_;
    std::shared_ptr<retry_queue> q_;
};

// An audit record that cannot be written for an outage is kept and written later; one the
// store refuses (it answered with an error) is reported (docs/governance.md, "Audit").
class retrying_audit final : public store::audit_log {
  public:
    retrying_audit(std::shared_ptr<store::audit_log> inner, std::shared_ptr<retry_queue> q)
        : inner_(std::move(inner)), q_(std::move(q)) {}

    net::awaitable<error_code> append(std::string kind, std::string payload_json) override {
        auto ec = co_await inner_->append(kind, payload_json);
        if (!ec || ec == store::redis::redis_errc::protocol_error)
            co_return ec;
        auto inner = inner_;
        q_->add([inner, kind, payload_json] { return inner->append(kind, payload_json); },
                "audit " + kind, ec);
        co_return error_code{};
    }

    net::awaitable<error_code> append_spent(std::string kind, std::string payload_json, bool vetted,
                                            store::spend_sample spend) override {
        auto ec = co_await inner_->append_spent(kind, payload_json, vetted, spend);
        if (!ec || ec == store::redis::redis_errc::protocol_error)
            co_return ec;
        // Retried as one: the store counts a spend-only write once (its marker).
        auto inner = inner_;
        std::string what = "audit spend";
        if (!kind.empty())
            what = "audit " + kind;
        q_->add([inner, kind, payload_json, vetted,
                 spend] { return inner->append_spent(kind, payload_json, vetted, spend); },
                std::move(what), ec);
        co_return error_code{};
    }

    net::awaitable<std::vector<store::audit_record>> list(store::audit_query q) override {
        co_return co_await inner_->list(q);
    }

  private:
    std::shared_ptr<store::audit_log> inner_;
    std::shared_ptr<retry_queue> q_;
};

}  // namespace

std::shared_ptr<store::rate_limiter> with_local_fallback(
    std::shared_ptr<store::rate_limiter> shared, std::shared_ptr<store::rate_limiter> local) {
    return std::make_shared<fallback_limiter>(std::move(shared), std::move(local));
}

void with_write_retry(store::store_set& s, net::any_io_executor background) {
    auto q = std::make_shared<retry_queue>(std::move(background));
    s.budgets = std::make_shared<retrying_budgets>(s.budgets, q);
    s.audit = std::make_shared<retrying_audit>(s.audit, q);
}

namespace {

// A governor on the shared store (layout v2: one call to admit, one to settle) behind the same
// outage policies as the separate parts above: rate limits fall back to this replica's limiter,
// budgets fail closed or open, settlements are retried until the store is back. An admission
// whose reply was lost may still have landed: it is rolled back through the retry queue (a
// late one then finds the settlement's marker and does nothing).
class governor_outages final : public store::governor {
  public:
    governor_outages(std::shared_ptr<store::governor> shared,
                     std::shared_ptr<store::audit_log> records, bool fail_open,
                     std::shared_ptr<retry_queue> q)
        : shared_(std::move(shared)),
          records_(std::move(records)),
          fail_open_(fail_open),
          q_(std::move(q)) {}

    net::awaitable<store::admission_result> admit(store::admission a) override {
        auto d = co_await shared_->admit(a);
        if (!shared_store_failed(degraded_, d.error))
            co_return d;
        if (!d.ticket.id.empty()) {
            store::settle_request undo;
            undo.ticket = d.ticket;
            undo.refund = true;
            retry(std::move(undo), d.error);
        }
        if (!a.lines.empty() && !fail_open_)
            co_return d;  // 503: budgets fail closed
        if (!a.lines.empty()) {
            log::warn("budget.fail_open", "store unavailable: admitted without a reservation",
                      {{"reservation_id", a.id}, {"error", d.error.message()}});
        }
        store::admission_result out;
        out.admitted = true;
        if (a.rate != nullptr && !a.rate->empty()) {
            auto l = local_.try_admit(*a.rate, a.charge_tokens);
            if (l && !l->admitted) {
                out.admitted = false;
                out.by_rate = true;
                out.rate_scope = l->blocked_scope;
                out.reason = l->reason;
                out.retry_after_seconds = l->retry_after_seconds;
            } else if (l) {
                out.ticket.rate = std::move(l->charge);
                out.ticket.rate.local = true;
            }
        }
        co_return out;
    }

    net::awaitable<error_code> settle(store::settle_request r) override {
        if (r.record) {
            auto stored =
                records_->stored_payload(std::move(r.record->payload_json), r.record->vetted);
            if (stored)
                r.record->payload_json = std::move(*stored);
            else
                r.record.reset();  // sampled out
        }
        if (r.ticket.rate.local) {
            if (r.refund)
                local_.try_refund(r.ticket.rate);
            else if (r.tokens)
                local_.try_settle_tokens(r.ticket.rate, *r.tokens);
        }
        if (r.ticket.id.empty()) {
            // Admitted without the shared store: only the record and the spend are left.
            if (r.spend) {
                store::settle_record rec;
                if (r.record)
                    rec = std::move(*r.record);
                co_await records_->append_spent(std::move(rec.kind), std::move(rec.payload_json),
                                                true, std::move(*r.spend));
            } else if (r.record) {
                co_await records_->append_redacted(std::move(r.record->kind),
                                                   std::move(r.record->payload_json));
            }
            co_return error_code{};
        }
        const auto ec = co_await shared_->settle(r);
        if (ec && ec != store::redis::redis_errc::protocol_error)
            retry(std::move(r), ec);
        co_return ec == store::redis::redis_errc::protocol_error ? ec : error_code{};
    }

  private:
    void retry(store::settle_request r, const error_code& ec) {
        auto shared = shared_;
        auto what = "settlement " + r.ticket.id;
        q_->add([shared, r] { return shared->settle(r); }, std::move(what), ec);
    }

    std::shared_ptr<store::governor> shared_;
    std::shared_ptr<store::audit_log> records_;
    bool fail_open_;
    std::shared_ptr<retry_queue> q_;
    store::memory_rate_limiter local_;
    std::atomic<bool> degraded_{false};
};

}  // namespace

std::shared_ptr<store::governor> with_governor_outages(std::shared_ptr<store::governor> shared,
                                                       std::shared_ptr<store::audit_log> records,
                                                       bool fail_open,
                                                       net::any_io_executor background) {
    return std::make_shared<governor_outages>(std::move(shared), std::move(records), fail_open,
                                              std::make_shared<retry_queue>(std::move(background)));
}

}  // namespace ditto::app
