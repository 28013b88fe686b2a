#include <algorithm>
#include <charconv>
#include <cstdint>

#include "ditto/log/log.hpp"
#include "ditto/middleware/builtin.hpp"

namespace ditto::middleware {
namespace {

using clock = std::chrono::steady_clock;

// Counts a relayed stream's bytes and how it ended (completed, failed, or dropped by the
// client: destroyed before its end).
class observed_stream final : public http::body_stream {
  public:
    observed_stream(std::unique_ptr<http::body_stream> inner,
                    std::shared_ptr<metrics::prometheus> p, unsigned shard, std::string backend,
                    std::string path)
        : inner_(std::move(inner)),
          p_(std::move(p)),
          shard_(shard),
          backend_(std::move(backend)),
          path_(std::move(path)) {
        p_->stream_opened(shard_, backend_, path_);
    }
    ~observed_stream() override { close(metrics::stream_end::aborted); }

    boost::asio::awaitable<std::optional<std::string>> next(
        boost::system::error_code& ec) override {
        auto piece = co_await inner_->next(ec);
        if (ec)
            close(metrics::stream_end::error);
        else if (!piece)
            close(metrics::stream_end::completed);
        else
            bytes_ += piece->size();
        co_return piece;
    }

  private:
    void close(metrics::stream_end end) {
        if (closed_)
            return;
        closed_ = true;
        p_->stream_closed(shard_, backend_, path_, bytes_, end);
    }

    std::unique_ptr<http::body_stream> inner_;
    std::shared_ptr<metrics::prometheus> p_;
    unsigned shard_;
    std::string backend_, path_;
    std::uint64_t bytes_ = 0;
    bool closed_ = false;
};

// Milliseconds with three decimals ("0.092"), from whole microseconds: integer formatting,
// not printf's floating point (it ran twice per request).
std::string millis(clock::duration d) {
    const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(
        0, (std::chrono::duration_cast<std::chrono::nanoseconds>(d).count() + 500) / 1000));
    char buf[32];
    auto* end = std::to_chars(buf, buf + 24, us / 1000).ptr;
    const auto frac = us % 1000;
    *end++ = '.';
    *end++ = static_cast<char>('0' + frac / 100);
    *end++ = static_cast<char>('0' + frac / 10 % 10);
    *end++ = static_cast<char>('0' + frac % 10);
    return std::string(buf, end);
}

// The access log line (plain) or `proxy.response` / `proxy.blocked` / `proxy.error` event
// (JSON), at info: one per request.
void log_response(const proxy_context& ctx, unsigned status, clock::duration total,
                  clock::duration overhead) {
    const char* event = ctx.blocked != metrics::blocked_by::none ? "proxy.blocked"
                        : (ctx.backend.empty() && status >= 500) ? "proxy.error"
                                                                 : "proxy.response";
    log::info(event, "",
              {{"request_id", ctx.request_id},
               {"method", std::string(ctx.req.method_string())},
               {"path", ctx.path},
               {"status", std::to_string(status)},
               {"virtual_key_id", ctx.key ? ctx.key->id : ""},
               {"model", ctx.fields.model.value_or("")},
               {"backend", ctx.backend},
               {"cache", ctx.cache == metrics::cache_outcome::miss           ? "miss"
                         : ctx.cache == metrics::cache_outcome::not_eligible ? ""
                                                                             : "hit"},
               {"duration_ms", millis(total)},
               {"overhead_ms", millis(overhead)}});
}

// Around the rest of the chain, without a frame of its own: the clock starts on the way in,
// the answer is measured and recorded on the way out.
class observe_step final : public around_middleware {
  public:
    explicit observe_step(std::shared_ptr<metrics::prometheus> p) : p_(std::move(p)) {}

    step_result enter(proxy_context& ctx, std::optional<http::response>& /*out*/) override {
        ctx.observed_from = clock::now();
        return step_result::around;
    }

    leave_result leave(proxy_context& ctx, http::response& res) override {
        const auto total = clock::now() - ctx.observed_from;
        const auto overhead = std::max(clock::duration::zero(), total - ctx.upstream_time);
        // Ours (as LiteLLM and TensorZero report theirs): what the gateway itself cost.
        res.msg.set("x-ditto-overhead-ms", millis(overhead));
        const unsigned status = res.msg.result_int();
        if (p_) {
            metrics::request_record r;
            r.authenticated = ctx.key != nullptr;
            r.key_id = ctx.key ? std::string_view(ctx.key->id) : std::string_view("public");
            const auto model = ctx.fields.model.value_or("");
            r.model = model;
            r.path = ctx.path;
            r.status = status;
            r.blocked = ctx.blocked;
            r.cache = ctx.cache;
            r.backend = ctx.backend;
            r.duration_seconds = std::chrono::duration<double>(total).count();
            r.overhead_seconds = std::chrono::duration<double>(overhead).count();
            r.attempts = ctx.attempts;
            p_->record(ctx.info.worker, r);
            if (res.stream) {
                res.stream = std::make_unique<observed_stream>(
                    std::move(res.stream), p_, ctx.info.worker, ctx.backend, ctx.path);
            }
        }
        if (log::enabled(log::level::info))
            log_response(ctx, status, total, overhead);
        return leave_result::done;
    }

  private:
    std::shared_ptr<metrics::prometheus> p_;
};

}  // namespace

std::shared_ptr<middleware> make_observe(std::shared_ptr<metrics::prometheus> p) {
    return std::make_shared<observe_step>(std::move(p));
}

}  // namespace ditto::middleware
