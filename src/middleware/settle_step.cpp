#include <boost/beast/http/error.hpp>

#include "ditto/core/sse_usage.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/log/log.hpp"
#include "ditto/middleware/builtin.hpp"

namespace ditto::middleware {
namespace {

using http::status;

// Relays a streamed answer and settles the request when the body ends: with the usage the
// stream reported (SPEC §3.6, §0.5), or — cut short — with what was seen. If the server
// drops the stream early (client gone), the settlement's destructor finishes the job.
class settling_stream final : public http::body_stream {
  public:
    settling_stream(std::unique_ptr<http::body_stream> inner, settlement s, bool sse, bool strip)
        : inner_(std::move(inner)), settle_(std::move(s)), sse_(sse), scanner_(strip) {}

    boost::asio::awaitable<std::optional<std::string>> next(
        boost::system::error_code& ec) override {
        if (finished_)
            co_return std::nullopt;
        for (;;) {
            auto piece = co_await inner_->next(ec);
            if (ec) {
                // The upstream failed mid-body: the client sees the abort; charge what
                // was seen (the outcome stays "incomplete").
                co_await finish(false);
                co_return std::nullopt;
            }
            if (!piece) {
                std::string tail;
                if (sse_)
                    scanner_.finish(tail);
                co_await finish(true);
                if (tail.empty())
                    co_return std::nullopt;
                co_return tail;
            }
            if (!sse_)
                co_return piece;
            std::string out;
            scanner_.feed(*piece, out);
            if (scanner_.usage().present)
                settle_.result().usage = scanner_.usage();
            if (!out.empty())
                co_return out;
            // The whole piece is held (an unfinished event that may be stripped): read on.
        }
    }

  private:
    boost::asio::awaitable<void> finish(bool completed) {
        finished_ = true;
        auto& o = settle_.result();
        o.completed = completed;
        if (sse_ && scanner_.usage().present)
            o.usage = scanner_.usage();
        const auto ec = co_await settle_.run();
        if (ec) {
            log::error("proxy.settle_error", "settling a streamed request failed",
                       {{"error", ec.message()}});
        }
    }

    std::unique_ptr<http::body_stream> inner_;
    settlement settle_;
    bool sse_;
    core::sse_usage_scanner scanner_;
    bool finished_ = false;
};

class settle_step final : public middleware {
  public:
    explicit settle_step(boost::asio::any_io_executor background)
        : background_(std::move(background)) {}

    boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn next) override {
        ctx.settle.bind(background_);
        auto res = co_await next(ctx);
        if (ctx.settle.empty() || ctx.settle.done())
            co_return res;
        auto& o = ctx.settle.result();
        o.status = res.msg.result_int();
        if (res.stream) {
            o.streamed = true;
            const bool sse = http::is_event_stream(res);
            // Removing an event would break a declared Content-Length.
            const bool strip = sse && ctx.strip_usage_chunk &&
                               res.msg.find(http::field::content_length) == res.msg.end();
            res.stream = std::make_unique<settling_stream>(std::move(res.stream),
                                                           std::move(ctx.settle), sse, strip);
            co_return res;
        }
        if (const auto ec = co_await ctx.settle.run()) {
            // SPEC §3.5/§3.10: a store that cannot record the request fails it, even though
            // the upstream answered.
            log::error("proxy.settle_error", "settling a request failed",
                       {{"request_id", ctx.request_id}, {"error", ec.message()}});
            auto err = api_error(ctx.req, status::internal_server_error, "api_error",
                                 "storage_error", "storage error: " + ec.message());
            err.holds = std::move(res.holds);
            co_return err;
        }
        co_return res;
    }

  private:
    boost::asio::any_io_executor background_;
};

}  // namespace

std::shared_ptr<middleware> make_settle(boost::asio::any_io_executor background) {
    return std::make_shared<settle_step>(std::move(background));
}

}  // namespace ditto::middleware
