// The x-request-id step's lease (src/middleware/dedup_step.cpp, docs/proxy.md "Retries with
// x-request-id") on one loop, with leases of milliseconds instead of 30 s: a leader whose answer
// outlasts the lease keeps it by refreshing, and a leader that throws deletes its record. The
// gateway-level cases are tests/integration/dedup_test.cpp.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "ditto/cache/recording.hpp"
#include "ditto/middleware/builtin.hpp"
#include "ditto/store/memory/memory_dedup_store.hpp"

namespace ditto::middleware {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

class no_body final : public http::body_reader {
  public:
    std::optional<std::uint64_t> content_length() const override { return std::nullopt; }
    bool done() const override { return true; }
    net::awaitable<boost::system::error_code> read_all(std::string&, std::uint64_t) override {
        co_return boost::system::error_code{};
    }
    net::awaitable<std::optional<std::string>> read_some(boost::system::error_code&) override {
        co_return std::nullopt;
    }
};

// The rest of the chain as the admission step ends it: a replay is served from
// `cached_answer`; otherwise the "upstream" answers after `delay` (or throws, once).
class upstream final : public middleware {
  public:
    explicit upstream(std::chrono::milliseconds delay, bool throw_first = false)
        : delay_(delay), throw_next_(throw_first) {}
    net::awaitable<http::response> handle(proxy_context& ctx, next_fn) override {
        if (ctx.cached_answer)
            co_return ctx.cached_answer(ctx);
        ++calls;
        if (throw_next_) {
            throw_next_ = false;
            throw std::runtime_error("the upstream exchange failed unexpectedly");
        }
        net::steady_timer t(co_await net::this_coro::executor);
        t.expires_after(delay_);
        co_await t.async_wait(net::use_awaitable);
        auto res = http::make_response(ctx.req, http::status::ok,
                                       R"({"call":)" + std::to_string(calls) + "}");
        res.msg.set("x-ditto-backend", "b");
        co_return res;
    }
    int calls = 0;

  private:
    std::chrono::milliseconds delay_;
    bool throw_next_;
};

// One POST with `x-request-id: r-1` from key k-1, and what came of it.
struct request {
    explicit request(const config::virtual_key_config& key) {
        req.set("x-request-id", "r-1");
        ctx.client_request_id = true;
        ctx.request_id = "r-1";
        ctx.body_read = true;
        ctx.raw_body = "{}";
        ctx.path = "/v1/chat/completions";
        ctx.candidates = {"b"};
        ctx.key = &key;
    }
    http::request req{http::bhttp::verb::post, "/v1/chat/completions", 11};
    no_body body;
    const http::request_info info;
    proxy_context ctx{req, body, info};
    std::optional<http::response> res;
    bool threw = false;
};

net::awaitable<void> send(const chain& c, request& r, std::chrono::milliseconds after) {
    net::steady_timer t(co_await net::this_coro::executor);
    t.expires_after(after);
    co_await t.async_wait(net::use_awaitable);
    r.res = co_await c.run(r.ctx);
}

void spawn(net::io_context& ioc, const chain& c, request& r, std::chrono::milliseconds after) {
    net::co_spawn(ioc, send(c, r, after), [&r](std::exception_ptr e) { r.threw = e != nullptr; });
}

dedup_options options(std::chrono::milliseconds lease, std::chrono::milliseconds refresh,
                      std::chrono::milliseconds wait) {
    dedup_options o;
    o.lease = lease;
    o.refresh_every = refresh;
    o.poll_every = 10ms;
    o.wait_bound = [wait](const std::vector<std::string>&) { return wait; };
    return o;
}

std::string dedup_header(const request& r) {
    return r.res ? std::string(r.res->msg["x-ditto-request-dedup"]) : "<no answer>";
}

TEST(DedupStep, ALeaderWhoseAnswerOutlastsTheLeaseKeepsItByRefreshing) {
    // Lease 200 ms refreshed every 50 ms; the answer takes 600 ms; the retry comes at 400 ms.
    const config::virtual_key_config key{"k-1", "t"};
    auto up = std::make_shared<upstream>(600ms);
    chain c;
    c.add(make_dedup(nullptr, std::make_shared<store::memory_dedup_store>(),
                     options(200ms, 50ms, 2000ms)))
        .add(up);
    net::io_context ioc;
    request first(key), retry(key);
    spawn(ioc, c, first, 0ms);
    spawn(ioc, c, retry, 400ms);
    ioc.run();
    ASSERT_TRUE(first.res && retry.res);
    EXPECT_EQ(dedup_header(first), "leader");
    EXPECT_EQ(dedup_header(retry), "replay");
    EXPECT_EQ(cache::answer_body(*retry.res), cache::answer_body(*first.res));
    EXPECT_EQ(up->calls, 1);  // without the refresh the lease lapsed at 200 ms: 2 calls
}

TEST(DedupStep, ALeaderThatThrowsDeletesItsRecordSoTheRetryLeads) {
    // A lease far longer than the test, and a retry that would wait only 50 ms for it.
    const config::virtual_key_config key{"k-1", "t"};
    auto up = std::make_shared<upstream>(1ms, true);
    chain c;
    c.add(make_dedup(nullptr, std::make_shared<store::memory_dedup_store>(),
                     options(60'000ms, 20'000ms, 50ms)))
        .add(up);
    net::io_context ioc;
    request first(key);
    spawn(ioc, c, first, 0ms);
    ioc.run();  // the failed leader, then its record's deletion
    ASSERT_TRUE(first.threw);
    request retry(key);
    spawn(ioc, c, retry, 0ms);
    ioc.restart();
    ioc.run();
    ASSERT_TRUE(retry.res);
    EXPECT_EQ(retry.res->msg.result_int(), 200u);  // not 409 request_id_in_flight
    EXPECT_EQ(dedup_header(retry), "leader");
    EXPECT_EQ(up->calls, 2);
}

}  // namespace
}  // namespace ditto::middleware
