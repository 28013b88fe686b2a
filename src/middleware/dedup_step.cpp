// Retries with an x-request-id (docs/proxy.md, "Retries with x-request-id"): the first request
// with an id leads, and its answer is replayed to every retry of it, on any replica sharing the
// store, without a second upstream call or charge.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "ditto/cache/cache_key.hpp"
#include "ditto/cache/recording.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/log/log.hpp"
#include "ditto/middleware/builtin.hpp"
#include "ditto/store/dedup_store.hpp"

namespace ditto::middleware {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using http::gateway_error;
using store::dedup_lease;
using store::dedup_state;
using store::dedup_store;

bool safe_method(http::bhttp::verb m) {
    using http::bhttp::verb;
    return m == verb::get || m == verb::head || m == verb::options || m == verb::trace;
}

// The leader's lease, refreshed in the background while the answer is on its way, so that a
// long answer keeps it and a leader that died loses it within one lease.
struct lease_keeper {
    lease_keeper(net::any_io_executor ex, std::shared_ptr<dedup_store> s, dedup_lease l,
                 const dedup_options& o)
        : timer(std::move(ex)),
          store(std::move(s)),
          lease(std::move(l)),
          lease_for(o.lease),
          refresh_every(o.refresh_every),
          retention(o.retention) {}
    void stop() {
        stopped = true;
        timer.cancel();
    }
    net::steady_timer timer;
    std::shared_ptr<dedup_store> store;
    dedup_lease lease;
    // The three durations it needs, not the whole options (their header list and wait-bound
    // function would be copied per leader).
    std::chrono::milliseconds lease_for, refresh_every, retention;
    bool stopped = false;
};

net::awaitable<void> abandon_record(std::shared_ptr<dedup_store> s, dedup_lease l) {
    const auto err = co_await s->abandon(std::move(l));
    if (err)
        log::warn("proxy.dedup_abandon_failed", err.message());
}

// When the leader's frame ends without settling its record (an exception below it, or the
// frame destroyed): stops the refresh and deletes the record, so the next retry leads.
class keeper_guard {
  public:
    keeper_guard(net::any_io_executor ex, std::shared_ptr<lease_keeper> k)
        : ex_(std::move(ex)), k_(std::move(k)) {}
    keeper_guard(const keeper_guard&) = delete;
    keeper_guard& operator=(const keeper_guard&) = delete;
    ~keeper_guard() {
        if (!k_)
            return;
        k_->stop();
        net::co_spawn(ex_, abandon_record(k_->store, k_->lease), net::detached);
    }
    /// The record is settled, or a recorded stream holds the lease now (dedup_sink).
    void release() { k_.reset(); }

  private:
    net::any_io_executor ex_;
    std::shared_ptr<lease_keeper> k_;
};

net::awaitable<void> keep_lease(std::shared_ptr<lease_keeper> k) {
    while (!k->stopped) {
        k->timer.expires_after(k->refresh_every);
        boost::system::error_code ec;
        co_await k->timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        if (k->stopped)
            break;
        const auto err = co_await k->store->refresh(k->lease, k->lease_for);
        if (err)
            log::warn("proxy.dedup_refresh_failed", err.message(), {{"record", k->lease.id}});
    }
}

net::awaitable<void> store_record(std::shared_ptr<dedup_store> s, dedup_lease l, std::string record,
                                  std::chrono::milliseconds retention) {
    const auto err = co_await s->complete(std::move(l), std::move(record), retention);
    if (err)
        log::warn("proxy.dedup_store_failed", err.message());
}

// What a retry of an answer that could not be kept gets (docs/proxy.md).
cache::entry unavailable_record(const http::request& req) {
    auto res = api_error(req, gateway_error::request_id_replay_unavailable,
                         "the first answer to this x-request-id could not be kept for replay; "
                         "send the request with a new id");
    auto e = cache::answer_head(res);
    e.body = res.msg.body();
    return e;
}

// A streamed answer's record: the answer once it ended within the bound, else "unavailable"
// (too large, cut, or its client went away: the upstream was called either way).
class dedup_sink final : public cache::recording_sink {
  public:
    dedup_sink(net::any_io_executor ex, std::shared_ptr<lease_keeper> k, cache::entry unavailable)
        : ex_(std::move(ex)), keeper_(std::move(k)), unavailable_(std::move(unavailable)) {}
    ~dedup_sink() override {
        if (!done_) {
            keeper_->stop();
            net::co_spawn(ex_,
                          store_record(keeper_->store, keeper_->lease, cache::encode(unavailable_),
                                       keeper_->retention),
                          net::detached);
        }
    }
    net::awaitable<void> complete(cache::entry e) override { co_await finish(cache::encode(e)); }
    net::awaitable<void> abandon(bool /*overflow*/) override {
        co_await finish(cache::encode(unavailable_));
    }

  private:
    net::awaitable<void> finish(std::string record) {
        done_ = true;
        keeper_->stop();
        co_await store_record(keeper_->store, keeper_->lease, std::move(record),
                              keeper_->retention);
    }

    net::any_io_executor ex_;
    std::shared_ptr<lease_keeper> keeper_;
    cache::entry unavailable_;
    bool done_ = false;
};

class dedup_step final : public middleware {
  public:
    dedup_step(std::shared_ptr<dedup_store> shared, std::shared_ptr<dedup_store> local,
               dedup_options o)
        : shared_(std::move(shared)), local_(std::move(local)), o_(std::move(o)) {
        std::random_device rd;
        seed_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }

    step_result enter(proxy_context& ctx, std::optional<http::response>& /*out*/) override {
        // A streamed upload (never read whole) with an id was refused by read_body.
        if (!ctx.client_request_id || safe_method(ctx.req.method()) || !ctx.body_read)
            return step_result::next;
        // A blank x-request-id got a generated id (request_id.cpp): nobody can retry with it.
        const auto given = ctx.req.find("x-request-id");
        if (given == ctx.req.end() || core::trim(given->value()).empty())
            return step_result::next;
        return step_result::wait;
    }

    net::awaitable<http::response> handle(proxy_context& ctx, next_fn next) override {
        auto lease = lease_of(ctx);
        auto store = shared_ ? shared_ : local_;
        const auto give_up_at = std::chrono::steady_clock::now() + o_.wait_bound(ctx.candidates);
        net::steady_timer poll(co_await net::this_coro::executor);
        for (;;) {
            auto begun = co_await store->begin(lease, o_.lease);
            if (begun.error) {
                if (store == local_) {  // the memory store never fails; if it did: no record
                    log::warn("proxy.dedup_unavailable", begun.error.message(),
                              {{"request_id", ctx.request_id}});
                    co_return co_await next(ctx);
                }
                // docs/proxy.md: this replica's records while the shared store is down.
                log::warn("proxy.dedup_local", begun.error.message(),
                          {{"request_id", ctx.request_id}});
                store = local_;
                continue;
            }
            if (begun.state == dedup_state::acquired)
                break;
            if (begun.state == dedup_state::conflict) {
                co_return api_error(ctx.req, gateway_error::request_id_conflict,
                                    "x-request-id was already used for a different request");
            }
            if (begun.state == dedup_state::completed)
                co_return co_await replay(ctx, next, begun.record);
            if (std::chrono::steady_clock::now() + o_.poll_every > give_up_at) {
                auto res = api_error(ctx.req, gateway_error::request_id_in_flight,
                                     "a request with this x-request-id is still in flight");
                res.msg.set("retry-after", "1");
                co_return res;
            }
            poll.expires_after(o_.poll_every);
            boost::system::error_code ec;
            co_await poll.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
        co_return co_await lead(ctx, next, std::move(store), std::move(lease));
    }

  private:
    dedup_lease lease_of(const proxy_context& ctx) {
        dedup_lease l;
        // The key id percent-encoded: a '|' in it cannot make two keys' ids meet.
        l.id = "ditto-proxy-request-dedup-v1|" + core::percent_encode(ctx.key->id, "") + "|" +
               ctx.request_id;
        // The cache key's hash over what can change the answer: method, path and query, the
        // key, the headers the cache varies on, the body (docs/proxy.md). Trace headers differ
        // between retries and are not in it.
        const std::string target = ctx.query.empty() ? ctx.path : ctx.path + "?" + ctx.query;
        const auto key = cache::cache_key(ctx.req, target, "dedup|vk:" + ctx.key->id, "",
                                          ctx.raw_body, o_.key_headers);
        l.fingerprint = key.substr(key.size() - 64);
        l.token = std::to_string(seed_) + "-" +
                  std::to_string(seq_.fetch_add(1, std::memory_order_relaxed));
        return l;
    }

    // A replay is admitted as a cache hit is (admit_step.cpp): on its rate limits only, so
    // retries in a loop still count against rpm, and no budget is charged twice.
    net::awaitable<http::response> replay(proxy_context& ctx, next_fn next,
                                          const std::string& record) {
        auto e = cache::decode(record);
        if (!e) {
            co_return api_error(ctx.req, gateway_error::request_id_replay_unavailable,
                                "the first answer to this x-request-id cannot be read");
        }
        auto stored = std::make_shared<const cache::entry>(std::move(*e));
        ctx.cached_answer = [stored](proxy_context& c) { return replay_answer(c, stored); };
        co_return co_await next(ctx);
    }

    static http::response replay_answer(proxy_context& ctx,
                                        const std::shared_ptr<const cache::entry>& e) {
        ctx.settle.result().cache_hit = true;  // no upstream tokens (tpm is corrected to 0)
        if (e->backend.empty()) {
            // A gateway error kept for replay: sent as the gateway's errors are, in a message
            // with no x-ditto-* header, so that the dialect step translates it.
            std::string_view type = "application/json";
            for (const auto& [name, value] : e->headers) {
                if (name == "content-type")
                    type = value;
            }
            auto res =
                http::make_response(ctx.req, static_cast<http::status>(e->status), e->body, type);
            res.holds = std::move(ctx.holds);
            return res;
        }
        auto stored = e;
        if (stored->wire.empty()) {
            auto copy = *stored;
            copy.wire = cache::wire_headers(copy);
            stored = std::make_shared<const cache::entry>(std::move(copy));
        }
        auto res = cache::stored_answer(stored, ctx.req, std::move(ctx.holds));
        res.msg.insert("x-ditto-backend", stored->backend);
        res.msg.insert("x-ditto-request-dedup", "replay");
        res.msg.insert("x-ditto-request-id", ctx.request_id);
        res.msg.insert("x-request-id", ctx.request_id);
        return res;
    }

    net::awaitable<http::response> lead(proxy_context& ctx, next_fn next,
                                        std::shared_ptr<dedup_store> store, dedup_lease lease) {
        const auto ex = co_await net::this_coro::executor;
        auto keeper = std::make_shared<lease_keeper>(ex, std::move(store), std::move(lease), o_);
        net::co_spawn(ex, keep_lease(keeper), net::detached);
        keeper_guard guard(ex, keeper);

        auto res = co_await next(ctx);
        const auto status = res.msg.result_int();
        // Forgotten, so a retry goes upstream again: what a retry may well change (5xx, 429,
        // 408) and the gateway's own refusals (no backend answered; they carry no x-ditto-*
        // header, docs/proxy.md, "Errors").
        const bool from_backend = res.msg.find("x-ditto-backend") != res.msg.end();
        if (from_backend)
            res.msg.set("x-ditto-request-dedup", "leader");
        if (!from_backend || status >= 500 || status == 429 || status == 408) {
            guard.release();
            keeper->stop();
            co_await abandon_record(keeper->store, keeper->lease);
            co_return res;
        }
        auto head = cache::answer_head(res);
        head.meta.scope = "vk:" + ctx.key->id;
        head.meta.method = std::string(ctx.req.method_string());
        head.meta.path = ctx.path;
        head.meta.model = ctx.fields.model;
        if (res.stream) {
            guard.release();
            res.stream = cache::record(
                std::move(res.stream), std::move(head), o_.max_record_bytes,
                ctx.settle.result().usage_event_added,
                std::make_unique<dedup_sink>(ex, keeper, unavailable_record(ctx.req)));
            co_return res;
        }
        guard.release();
        keeper->stop();
        const auto body = cache::answer_body(res);
        if (body.size() > o_.max_record_bytes) {
            co_await store_record(keeper->store, keeper->lease,
                                  cache::encode(unavailable_record(ctx.req)), o_.retention);
            co_return res;
        }
        head.body = std::string(body);
        co_await store_record(keeper->store, keeper->lease, cache::encode(head), o_.retention);
        co_return res;
    }

    std::shared_ptr<dedup_store> shared_;
    std::shared_ptr<dedup_store> local_;
    dedup_options o_;
    std::uint64_t seed_ = 0;
    std::atomic<std::uint64_t> seq_{0};
};

}  // namespace

std::shared_ptr<middleware> make_dedup(std::shared_ptr<dedup_store> shared,
                                       std::shared_ptr<dedup_store> local, dedup_options o) {
    return std::make_shared<dedup_step>(std::move(shared), std::move(local), std::move(o));
}

}  // namespace ditto::middleware
