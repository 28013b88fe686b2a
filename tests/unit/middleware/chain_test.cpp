#include "ditto/middleware/chain.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

namespace ditto::middleware {
namespace {

using journal = std::vector<std::string>;

class no_body final : public http::body_reader {
  public:
    std::optional<std::uint64_t> content_length() const override { return std::nullopt; }
    bool done() const override { return true; }
    boost::asio::awaitable<boost::system::error_code> read_all(std::string&,
                                                               std::uint64_t) override {
        co_return boost::system::error_code{};
    }
    boost::asio::awaitable<std::optional<std::string>> read_some(
        boost::system::error_code&) override {
        co_return std::nullopt;
    }
};

// Acts around the rest; its way out finishes at once or, with `waits`, in leave_async().
class around_step final : public around_middleware {
  public:
    around_step(journal& j, std::string name, bool waits = false)
        : j_(j), name_(std::move(name)), waits_(waits) {}
    step_result enter(proxy_context&, std::optional<http::response>&) override {
        j_.push_back(name_ + " in");
        return step_result::around;
    }
    leave_result leave(proxy_context&, http::response& res) override {
        j_.push_back(name_ + " out " + std::to_string(res.msg.result_int()));
        return waits_ ? leave_result::wait : leave_result::done;
    }
    boost::asio::awaitable<void> leave_async(proxy_context&, http::response& res) override {
        j_.push_back(name_ + " out, waited");
        res.msg.set("x-" + name_, "left");
        co_return;
    }

  private:
    journal& j_;
    std::string name_;
    bool waits_;
};

class refuse final : public sync_middleware {
  public:
    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override {
        out = http::make_response(ctx.req, http::status::unauthorized, "{}");
        return step_result::answered;
    }
};

// Waits (a coroutine), wrapping the rest as a step with a way out of its own does.
class wrap final : public middleware {
  public:
    explicit wrap(journal& j) : j_(j) {}
    boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn next) override {
        j_.push_back("wrap in");
        auto res = co_await next(ctx);
        j_.push_back("wrap out");
        co_return res;
    }

  private:
    journal& j_;
};

class answer final : public middleware {
  public:
    explicit answer(journal& j) : j_(j) {}
    boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn) override {
        j_.push_back("answer");
        co_return http::make_response(ctx.req, http::status::ok, "{}");
    }

  private:
    journal& j_;
};

// A request's context and the loop that runs what the test gives it.
struct fixture {
    boost::asio::io_context ioc;
    http::request req{http::bhttp::verb::post, "/v1/chat/completions", 11};
    no_body body;
    const http::request_info info;
    proxy_context ctx{req, body, info};

    http::response await(boost::asio::awaitable<http::response> a) {
        http::response out;
        boost::asio::co_spawn(ioc, std::move(a), [&](std::exception_ptr e, http::response r) {
            if (e)
                std::rethrow_exception(e);
            out = std::move(r);
        });
        ioc.run();
        return out;
    }
};

http::response run(const chain& c) {
    fixture f;
    return f.await(c.run(f.ctx));
}

TEST(Chain, StepsAroundTheRestLeaveInReverseOrderAcrossAWaitingStep) {
    journal j;
    chain c;
    c.add(std::make_shared<around_step>(j, "a"))
        .add(std::make_shared<wrap>(j))
        .add(std::make_shared<around_step>(j, "b", true))
        .add(std::make_shared<around_step>(j, "c"))
        .add(std::make_shared<answer>(j));
    const auto res = run(c);
    EXPECT_EQ(res.msg.result_int(), 200u);
    EXPECT_EQ(res.msg["x-b"], "left");
    EXPECT_EQ(j, (journal{"a in", "wrap in", "b in", "c in", "answer", "c out 200", "b out 200",
                          "b out, waited", "wrap out", "a out 200"}));
}

TEST(Chain, ARefusalStillTakesTheWayOutOfTheStepsBeforeIt) {
    journal j;
    chain c;
    c.add(std::make_shared<around_step>(j, "a"))
        .add(std::make_shared<refuse>())
        .add(std::make_shared<answer>(j));
    const auto res = run(c);
    EXPECT_EQ(res.msg.result_int(), 401u);
    EXPECT_EQ(j, (journal{"a in", "a out 401"}));
}

TEST(Chain, AnAroundStepCalledDirectlyDoesBothWays) {
    journal j;
    chain rest;
    rest.add(std::make_shared<answer>(j));
    around_step a(j, "a", true);
    fixture f;
    const auto out = f.await(a.handle(f.ctx, next_fn(rest, 0)));
    EXPECT_EQ(out.msg["x-a"], "left");
    EXPECT_EQ(j, (journal{"a in", "answer", "a out 200", "a out, waited"}));
}

}  // namespace
}  // namespace ditto::middleware
