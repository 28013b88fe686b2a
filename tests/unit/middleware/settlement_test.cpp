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
