#include "ditto/cache/single_flight.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

namespace ditto::cache {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

struct waited {
    std::atomic<int> done{0};
    std::atomic<int> with_entry{0};
};

net::awaitable<void> wait_on(std::shared_ptr<flight> f, std::chrono::milliseconds bound,
                             std::shared_ptr<waited> w) {
    auto e = co_await f->wait(bound);
    if (e)
        w->with_entry.fetch_add(1);
    w->done.fetch_add(1);
}

// Two event loops on two threads, as two workers.
struct workers {
    net::io_context a, b;
    net::executor_work_guard<net::io_context::executor_type> ga = net::make_work_guard(a),
                                                             gb = net::make_work_guard(b);
    std::thread ta{[this] { a.run(); }}, tb{[this] { b.run(); }};
    ~workers() {
        ga.reset();
        gb.reset();
        ta.join();
        tb.join();
    }
};

bool eventually(const std::function<bool()>& cond) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!cond()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

TEST(SingleFlight, FirstLeadsOthersFollowAndGetTheLeadersEntry) {
    single_flight sf;
    auto t1 = sf.join("k");
    ASSERT_FALSE(t1.follow);
    auto w = std::make_shared<waited>();
    workers ws;
    for (int i = 0; i < 10; ++i) {
        auto t = sf.join("k");
        ASSERT_TRUE(t.follow);
        net::co_spawn(i % 2 ? ws.a : ws.b, wait_on(t.follow, 10s, w), net::detached);
    }
    EXPECT_EQ(sf.in_progress(), 1u);
    auto e = std::make_shared<entry>();
    e->body = "answer";
    t1.leader.finish(e);
    ASSERT_TRUE(eventually([&] { return w->done.load() == 10; }));
    EXPECT_EQ(w->with_entry.load(), 10);
    // The flight is over: the next miss leads a new one.
    EXPECT_EQ(sf.in_progress(), 0u);
    EXPECT_FALSE(sf.join("k").follow);
}

TEST(SingleFlight, ADroppedLeaderReleasesWaitersEmptyHanded) {
    single_flight sf;
    auto w = std::make_shared<waited>();
    workers ws;
    {
        auto leader = sf.join("k");
        auto t = sf.join("k");
        net::co_spawn(ws.a, wait_on(t.follow, 10s, w), net::detached);
    }  // the leader's request went away without an answer
    ASSERT_TRUE(eventually([&] { return w->done.load() == 1; }));
    EXPECT_EQ(w->with_entry.load(), 0);
    EXPECT_EQ(sf.in_progress(), 0u);
}

TEST(SingleFlight, WaitIsBounded) {
    single_flight sf;
    auto leader = sf.join("k");
    auto t = sf.join("k");
    auto w = std::make_shared<waited>();
    workers ws;
    const auto start = std::chrono::steady_clock::now();
    net::co_spawn(ws.b, wait_on(t.follow, 50ms, w), net::detached);
    ASSERT_TRUE(eventually([&] { return w->done.load() == 1; }));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
    EXPECT_EQ(w->with_entry.load(), 0);
    // A waiter that joins after the end gets the result without waiting.
    auto e = std::make_shared<entry>();
    auto late = sf.join("k");  // still the same flight: the leader has not finished
    ASSERT_TRUE(late.follow);
    leader.leader.finish(e);
    net::co_spawn(ws.a, wait_on(late.follow, 10s, w), net::detached);
    ASSERT_TRUE(eventually([&] { return w->done.load() == 2; }));
    EXPECT_EQ(w->with_entry.load(), 1);
}

}  // namespace
}  // namespace ditto::cache
