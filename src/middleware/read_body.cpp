#include <boost/beast/http/error.hpp>

#include "ditto/core/saturating.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/middleware/builtin.hpp"

namespace ditto::middleware {
namespace {

using http::gateway_error;

// Released when the response has been written (it rides in response.holds).
class in_flight_permit {
  public:
    explicit in_flight_permit(std::shared_ptr<std::atomic<std::uint64_t>> c)
        : counter_(std::move(c)) {}
    ~in_flight_permit() { counter_->fetch_sub(1, std::memory_order_relaxed); }
    in_flight_permit(const in_flight_permit&) = delete;
    in_flight_permit& operator=(const in_flight_permit&) = delete;

  private:
    std::shared_ptr<std::atomic<std::uint64_t>> counter_;
};

class read_body final : public middleware {
  public:
    read_body(body_limits limits, std::shared_ptr<std::atomic<std::uint64_t>> in_flight)
        : limits_(limits), in_flight_(std::move(in_flight)) {}

    // A body that came whole with the head is read and scanned here, without a coroutine
    // frame (docs/architecture.md); one still on its way is read in handle().
    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override {
        if (!ctx.body.ready())
            return step_result::wait;
        if (const auto r = before_read(ctx, out); r != step_result::wait)
            return r;
        return after_read(ctx, ctx.body.read_now(ctx.raw_body, limits_.max_body_bytes), out);
    }

    boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn next) override {
        std::optional<http::response> out;
        auto r = before_read(ctx, out);
        if (r == step_result::wait) {
            const auto ec = co_await ctx.body.read_all(ctx.raw_body, limits_.max_body_bytes);
            r = after_read(ctx, ec, out);
        }
        if (r == step_result::answered)
            co_return std::move(*out);
        co_return co_await next(ctx);
    }

  private:
    // The in-flight permit and the declared length: `wait` to read the body, `next` for an
    // upload streamed to the upstream unread, `answered` for a refusal.
    step_result before_read(proxy_context& ctx, std::optional<http::response>& out) {
        if (in_flight_->fetch_add(1, std::memory_order_relaxed) >= limits_.max_in_flight) {
            in_flight_->fetch_sub(1, std::memory_order_relaxed);
            out = api_error(ctx.req, gateway_error::inflight_limit,
                            "too many in-flight proxy requests");
            return step_result::answered;
        }
        ctx.holds.push_back(std::make_shared<in_flight_permit>(in_flight_));
        // A count-tokens request is a lookup (docs/dialects.md): free, like a GET.
        ctx.metered = ctx.req.method() == http::bhttp::verb::post && !ctx.count_tokens;

        const auto declared = ctx.body.content_length();
        if (declared && *declared > limits_.max_body_bytes && is_streamable_upload(ctx)) {
            // Streamed to the upstream as it arrives; no JSON, no model (docs/proxy.md,
            // "Large uploads").
            if (ctx.client_request_id) {
                out = api_error(ctx.req, gateway_error::unsupported_idempotency,
                                "x-request-id is not supported for streamed uploads larger "
                                "than --proxy-max-body-bytes");
                return step_result::answered;
            }
            return step_result::next;
        }
        if (declared && *declared > limits_.max_body_bytes) {
            out = too_large(ctx);
            return step_result::answered;
        }
        return step_result::wait;
    }

    // The body read (`ec` its outcome): scanned as JSON when it says it is, and charged.
    step_result after_read(proxy_context& ctx, boost::system::error_code ec,
                           std::optional<http::response>& out) {
        if (ec == boost::beast::http::error::body_limit) {
            out = too_large(ctx);
            return step_result::answered;
        }
        if (ec) {
            // The same code as the server's own 400 for a malformed request: a bad chunk is one.
            out = api_error(ctx.req, gateway_error::bad_request,
                            "cannot read request body: " + ec.message());
            return step_result::answered;
        }
        ctx.body_read = true;

        auto ct = ctx.req.find(http::field::content_type);
        // A Gemini body is JSON whatever its content type says (it is translated after auth).
        const bool json_type =
            ctx.dialect == dialect::kind::gemini ||
            (ct != ctx.req.end() && core::iequals_prefix(ct->value(), "application/json"));
        if (json_type && !ctx.raw_body.empty()) {
            if (!core::scan_request_json(ctx.raw_body, ctx.fields)) {
                out = api_error(ctx.req, gateway_error::invalid_json,
                                "request body is not valid JSON");
                return step_result::answered;
            }
            ctx.body_is_json = true;
            if (const auto& bad = ctx.fields.bad_token_limit) {
                out = token_limit_refused(ctx, *bad);
                return step_result::answered;
            }
        }
        charge_request(ctx, limits_.default_max_output_tokens, ctx.raw_body.size());
        return step_result::next;
    }

    // Issue 19 item 6, in OpenAI's own messages and codes for these mistakes, with `param`.
    // The value is not echoed: it is the client's, and may be a megabyte of digits.
    static http::response token_limit_refused(const proxy_context& ctx,
                                              const core::token_limit_error& e) {
        using reason = core::token_limit_error::reason;
        const std::string name(e.field);
        auto code = gateway_error::invalid_type;
        std::string message = "Invalid type for '" + name + "': expected an integer, but got " +
                              std::string(e.got) + " instead.";
        if (e.why == reason::below_minimum) {
            code = gateway_error::integer_below_min_value;
            message = "Invalid '" + name + "': integer below minimum value. Expected a value >= 1.";
        } else if (e.why == reason::above_maximum) {
            code = gateway_error::integer_above_max_value;
            message = "Invalid '" + name + "': integer above maximum value. Expected a value <= " +
                      std::to_string(core::max_token_limit) + ".";
        }
        return api_error(ctx.req, code, message, e.field);
    }

    http::response too_large(proxy_context& ctx) const {
        auto r = api_error(ctx.req, gateway_error::request_too_large,
                           "request body exceeds the limit of " +
                               std::to_string(limits_.max_body_bytes) +
                               " bytes (--proxy-max-body-bytes)");
        r.msg.keep_alive(false);  // the rest of the body is not read
        return r;
    }

    body_limits limits_;
    std::shared_ptr<std::atomic<std::uint64_t>> in_flight_;
};

}  // namespace

// The charge (docs/governance.md, "Rate limits"): the input estimate plus the most output the
// request may produce, so a request without a limit cannot reserve nothing.
void charge_request(proxy_context& ctx, std::uint64_t default_max_output_tokens,
                    std::size_t body_bytes) {
    ctx.input_estimate = (body_bytes + 3) / 4;
    ctx.charge_tokens = 0;
    if (!ctx.metered || ctx.count_tokens || ctx.path == "/v1/responses/input_tokens" ||
        ctx.path == "/v1/responses/input_tokens/")
        return;
    const auto& f = ctx.fields;
    std::uint64_t output = default_max_output_tokens;
    if (f.max_completion_tokens) {
        output = *f.max_completion_tokens;
    } else if (f.max_tokens) {
        output = *f.max_tokens;
    } else if (f.max_output_tokens && ctx.path.starts_with("/v1/responses")) {
        output = *f.max_output_tokens;
    }
    ctx.charge_tokens = core::sat_add(ctx.input_estimate, output);
}

bool is_streamable_upload(const proxy_context& ctx) {
    if (ctx.req.method() != http::bhttp::verb::post)
        return false;
    const bool path_ok = ctx.path == "/v1/files" || ctx.path == "/v1/audio/transcriptions" ||
                         ctx.path == "/v1/audio/translations";
    auto ct = ctx.req.find(http::field::content_type);
    return path_ok && ct != ctx.req.end() &&
           core::iequals_prefix(ct->value(), "multipart/form-data");
}

std::shared_ptr<middleware> make_read_body(body_limits limits,
                                           std::shared_ptr<std::atomic<std::uint64_t>> in_flight) {
    return std::make_shared<read_body>(limits, std::move(in_flight));
}

}  // namespace ditto::middleware
