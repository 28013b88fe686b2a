#include "ditto/middleware/settlement.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

namespace ditto::middleware {
namespace {

struct journal {
    std::vector<std::string> calls;
};

// Records how it was settled, and sets the spend the way the budget action does.
class recording_action final : public settle_action {
  public:
    recording_action(journal& j, std::string name, bool fail = false)
        : j_(j), name_(std::move(name)), fail_(fail) {}
    boost::asio::awaitable<boost::system::error_code> settle(outcome& o) override {
        j_.calls.push_back(name_ + (o.success() ? ":ok" : ":failed") +
                           (o.completed ? ":complete" : ":incomplete") +
                           (o.spent_tokens ? ":spent=" + std::to_string(*o.spent_tokens) : ""));
        o.spent_tokens = 7;
        co_return fail_ ? make_error_code(boost::system::errc::io_error)
                        : boost::system::error_code{};
    }

  private:
    journal& j_;
    std::string name_;
    bool fail_;
};

// Settles at once (the memory store) or only by waiting (Redis), and says which way it went.
class either_way_action final : public settle_action {
  public:
    either_way_action(journal& j, std::string name, bool at_once)
        : j_(j), name_(std::move(name)), at_once_(at_once) {}
    boost::asio::awaitable<boost::system::error_code> settle(outcome&) override {
        j_.calls.push_back(name_ + ":waited");
        co_return boost::system::error_code{};
    }
    std::optional<boost::system::error_code> settle_now(outcome&) override {
        if (!at_once_)
            return std::nullopt;
        j_.calls.push_back(name_ + ":at-once");
        return boost::system::error_code{};
    }

  private:
    journal& j_;
    std::string name_;
    bool at_once_;
};

boost::system::error_code run_now(boost::asio::io_context& ioc, settlement& s) {
    boost::system::error_code out;
    boost::asio::co_spawn(ioc, s.run(),
                          [&](std::exception_ptr, boost::system::error_code ec) { out = ec; });
    ioc.restart();
    ioc.run();
    return out;
}

TEST(Settlement, RunsEveryActionOnceInOrder) {
    boost::asio::io_context ioc;
    journal j;
    settlement s;
    s.bind(ioc.get_executor());
    s.add(std::make_unique<recording_action>(j, "budget"));
    s.add(std::make_unique<recording_action>(j, "audit"));
    s.result().status = 200;
    EXPECT_FALSE(run_now(ioc, s));
    EXPECT_TRUE(s.done());
    // The audit (added last) sees what the budget spent.
    EXPECT_EQ(j.calls,
              (std::vector<std::string>{"budget:ok:complete", "audit:ok:complete:spent=7"}));
    EXPECT_FALSE(run_now(ioc, s));
    EXPECT_EQ(j.calls.size(), 2u);
}

// run_now() settles what can be settled at once; from the first action that must wait, run()
// goes on, in order, and nothing runs twice.
TEST(Settlement, RunNowStopsAtTheFirstActionThatMustWaitAndRunGoesOnFromThere) {
    boost::asio::io_context ioc;
    journal j;
    settlement s;
    s.bind(ioc.get_executor());
    s.add(std::make_unique<either_way_action>(j, "rate", true));
    s.add(std::make_unique<either_way_action>(j, "budget", false));
    s.add(std::make_unique<either_way_action>(j, "audit", true));
    s.result().status = 200;
    EXPECT_FALSE(s.run_now().has_value());
    EXPECT_FALSE(s.done());
    EXPECT_EQ(j.calls, (std::vector<std::string>{"rate:at-once"}));
    EXPECT_FALSE(run_now(ioc, s));
    EXPECT_TRUE(s.done());
    EXPECT_EQ(j.calls, (std::vector<std::string>{"rate:at-once", "budget:waited", "audit:waited"}));
    EXPECT_EQ(s.run_now(), boost::system::error_code{});
    EXPECT_EQ(j.calls.size(), 3u);
}

TEST(Settlement, RunNowSettlesEverythingWhenNothingWaits) {
    journal j;
    settlement s;
    s.add(std::make_unique<either_way_action>(j, "rate", true));
    s.add(std::make_unique<either_way_action>(j, "audit", true));
    const auto ec = s.run_now();
    ASSERT_TRUE(ec.has_value());
    EXPECT_FALSE(*ec);
    EXPECT_TRUE(s.done());
    EXPECT_EQ(j.calls, (std::vector<std::string>{"rate:at-once", "audit:at-once"}));
}

TEST(Settlement, ReportsTheFirstErrorButRunsEveryAction) {
    boost::asio::io_context ioc;
    journal j;
    settlement s;
    s.add(std::make_unique<recording_action>(j, "a", true));
    s.add(std::make_unique<recording_action>(j, "b"));
    s.result().status = 502;
    EXPECT_TRUE(run_now(ioc, s));
    EXPECT_EQ(j.calls.size(), 2u);
    EXPECT_EQ(j.calls[0], "a:failed:complete");
}

TEST(Settlement, ATornDownRequestIsSettledOnTheBackgroundExecutor) {
    boost::asio::io_context background;
    journal j;
    {
        settlement s;
        s.bind(background.get_executor());
        s.add(std::make_unique<recording_action>(j, "rate"));
        s.result().status = 200;  // a stream that had started
    }
    EXPECT_TRUE(j.calls.empty());  // not on the destroying thread
    background.run();
    EXPECT_EQ(j.calls, (std::vector<std::string>{"rate:ok:incomplete"}));
}

TEST(Settlement, AMovedSettlementRunsOnlyOnce) {
    boost::asio::io_context background;
    journal j;
    {
        settlement s;
        s.bind(background.get_executor());
        s.add(std::make_unique<recording_action>(j, "x"));
        settlement moved(std::move(s));
        EXPECT_TRUE(s.empty());
        EXPECT_FALSE(moved.empty());
    }
    background.run();
    EXPECT_EQ(j.calls.size(), 1u);
}

TEST(Settlement, NothingToSettleSpawnsNothing) {
    boost::asio::io_context background;
    {
        settlement s;
        s.bind(background.get_executor());
    }
    EXPECT_EQ(background.run(), 0u);
}

}  // namespace
}  // namespace ditto::middleware
