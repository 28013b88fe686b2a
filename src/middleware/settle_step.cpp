#include <boost/beast/http/error.hpp>
#include <charconv>

#include "ditto/core/json_scan.hpp"
#include "ditto/core/sse_usage.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/log/log.hpp"
#include "ditto/middleware/builtin.hpp"

namespace ditto::middleware {
namespace {

// Says why a JSON answer's usage is not read: it stays at the estimate (docs/governance.md).
void log_usage_skipped(const std::string& request_id, std::uint64_t limit) {
    log::debug("proxy.usage_skipped",
               "JSON answer larger than --proxy-usage-max-body-bytes: settled at the estimate",
               {{"request_id", request_id}, {"limit", std::to_string(limit)}});
}

// What a relayed body is read for: SSE usage events, or a JSON answer's `usage`.
struct usage_reading {
    bool sse = false;
    bool strip = false;          ///< SSE: remove the usage event the client did not ask for
    std::uint64_t json_cap = 0;  ///< JSON: read a body up to this many bytes; 0: not at all
    std::string request_id;      ///< for the log
};

// Relays a streamed answer and settles the request when the body ends: with the usage the
// stream reported (docs/governance.md, "Usage accounting"), or — cut short — with what was seen. If
// the server drops the stream early (client gone), the settlement's destructor finishes the job.
//
// A JSON answer relayed rather than buffered (chunked, or longer than the buffer limit) is
// passed on piece by piece as well; a copy of it up to the usage cap is scanned for `usage`
// once it is complete (issue 20: it used to settle at the estimate, default output
// included). Over the cap the copy is dropped and the estimate stands.
class settling_stream final : public http::body_stream {
  public:
    settling_stream(std::unique_ptr<http::body_stream> inner, settlement s, usage_reading how)
        : inner_(std::move(inner)),
          settle_(std::move(s)),
          how_(std::move(how)),
          scanner_(how_.strip),
          reading_json_(!how_.sse && how_.json_cap > 0) {}

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
                if (how_.sse)
                    scanner_.finish(tail);
                if (reading_json_)
                    read_json_usage();
                co_await finish(true);
                if (tail.empty())
                    co_return std::nullopt;
                co_return tail;
            }
            if (!how_.sse) {
                if (reading_json_)
                    keep(*piece);
                co_return piece;
            }
            if (!how_.strip) {
                // Nothing is removed: the piece goes on as it came, uncopied.
                scanner_.observe(*piece);
                if (scanner_.usage().present)
                    settle_.result().usage = scanner_.usage();
                if (!piece->empty())
                    co_return piece;
                continue;
            }
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
    void keep(const std::string& piece) {
        if (json_.size() + piece.size() > how_.json_cap) {
            reading_json_ = false;
            std::string().swap(json_);
            log_usage_skipped(how_.request_id, how_.json_cap);
            return;
        }
        json_ += piece;
    }

    void read_json_usage() {
        core::usage_fields u;
        if (core::scan_usage_json(json_, u) && u.present)
            settle_.result().usage = u;
        std::string().swap(json_);
    }

    boost::asio::awaitable<void> finish(bool completed) {
        finished_ = true;
        auto& o = settle_.result();
        o.completed = completed;
        if (how_.sse && scanner_.usage().present)
            o.usage = scanner_.usage();
        // if/else, not ?: — GCC 12 miscompiles co_await inside a conditional operator.
        boost::system::error_code ec;
        if (auto now = settle_.run_now())
            ec = *now;
        else
            ec = co_await settle_.run();
        if (ec) {
            log::error("proxy.settle_error", "settling a streamed request failed",
                       {{"error", ec.message()}});
        }
    }

    std::unique_ptr<http::body_stream> inner_;
    settlement settle_;
    usage_reading how_;
    core::sse_usage_scanner scanner_;
    bool reading_json_;
    std::string json_;  ///< the JSON answer so far, while reading_json_
    bool finished_ = false;
};

// docs/governance.md, "Usage accounting": a 2xx JSON answer from the upstream to a metered request
// is read for `usage` (a free request's usage is not its to pay, chain.hpp `metered`). The proxy
// reads a buffered one; a relayed one is read here, as it passes.
bool reads_json_usage(const proxy_context& ctx, const outcome& o, const http::response& res,
                      std::uint64_t usage_max) {
    if (usage_max == 0 || !ctx.metered || !o.from_upstream || !o.success())
        return false;
    const auto ct = res.msg.find(http::field::content_type);
    return ct != res.msg.end() && core::iequals_prefix(ct->value(), "application/json");
}

// The declared Content-Length of a relayed answer, when there is a valid one.
std::optional<std::uint64_t> declared_length(const http::response& res) {
    const auto it = res.msg.find(http::field::content_length);
    if (it == res.msg.end())
        return std::nullopt;
    const auto v = it->value();
    std::uint64_t n = 0;
    const auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (err != std::errc{} || end != v.data() + v.size())
        return std::nullopt;
    return n;
}

// Around the rest of the chain: binds the settlement on the way in and runs it on the way out,
// without a coroutine frame when every action settles at once (the memory store).
class settle_step final : public around_middleware {
  public:
    settle_step(boost::asio::any_io_executor background, std::uint64_t usage_max)
        : background_(std::move(background)), usage_max_(usage_max) {}

    step_result enter(proxy_context& ctx, std::optional<http::response>& /*out*/) override {
        ctx.settle.bind(background_);
        return step_result::around;
    }

    leave_result leave(proxy_context& ctx, http::response& res) override {
        if (ctx.settle.empty() || ctx.settle.done())
            return leave_result::done;
        auto& o = ctx.settle.result();
        o.status = res.msg.result_int();
        if (res.stream) {
            o.streamed = true;
            usage_reading how;
            how.sse = http::is_event_stream(res);
            // Removing an event would break a declared Content-Length.
            how.strip = how.sse && o.usage_event_added &&
                        res.msg.find(http::field::content_length) == res.msg.end();
            if (!how.sse && reads_json_usage(ctx, o, res, usage_max_)) {
                // A length known to be over the cap is not copied at all.
                const auto length = declared_length(res);
                if (length && *length > usage_max_) {
                    log_usage_skipped(ctx.request_id, usage_max_);
                } else {
                    how.json_cap = usage_max_;
                }
            }
            how.request_id = ctx.request_id;
            res.stream = std::make_unique<settling_stream>(std::move(res.stream),
                                                           std::move(ctx.settle), std::move(how));
            return leave_result::done;
        }
        const auto ec = ctx.settle.run_now();
        if (!ec)
            return leave_result::wait;
        failed(ctx, res, *ec);
        return leave_result::done;
    }

    boost::asio::awaitable<void> leave_async(proxy_context& ctx, http::response& res) override {
        failed(ctx, res, co_await ctx.settle.run());
    }

  private:
    // A store that cannot record the request fails it (docs/governance.md, "Audit"), even
    // though the upstream answered.
    static void failed(proxy_context& ctx, http::response& res, boost::system::error_code ec) {
        if (!ec)
            return;
        log::error("proxy.settle_error", "settling a request failed",
                   {{"request_id", ctx.request_id}, {"error", ec.message()}});
        auto err = api_error(ctx.req, http::gateway_error::storage_error,
                             "storage error: " + ec.message());
        err.holds = std::move(res.holds);
        res = std::move(err);
    }

    boost::asio::any_io_executor background_;
    std::uint64_t usage_max_;
};

}  // namespace

std::shared_ptr<middleware> make_settle(boost::asio::any_io_executor background,
                                        std::uint64_t usage_max_body_bytes) {
    return std::make_shared<settle_step>(std::move(background), usage_max_body_bytes);
}

}  // namespace ditto::middleware
