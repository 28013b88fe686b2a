#include "ditto/middleware/builtin.hpp"

namespace ditto::middleware {
namespace {

// docs/dialects.md: every error the gateway makes itself (401, 429, 402, 413, 400 …) is built
// in OpenAI's shape by whichever step refuses; here, outside all of them, it is rewritten in
// the client's dialect. An answer that came from a backend (it carries x-ditto-backend) is
// left alone: the proxy has already put a translated one in the dialect, and a native one is
// in it by nature.
class dialect_errors final : public around_middleware {
  public:
    step_result enter(proxy_context& /*ctx*/, std::optional<http::response>& /*out*/) override {
        return step_result::around;
    }

    leave_result leave(proxy_context& ctx, http::response& res) override {
        if (ctx.dialect != dialect::kind::anthropic && ctx.dialect != dialect::kind::gemini)
            return leave_result::done;
        const unsigned st = res.msg.result_int();
        if (st < 400 || res.stream || res.msg.body().empty() ||
            res.msg.find("x-ditto-backend") != res.msg.end()) {
            return leave_result::done;
        }
        res.msg.body() = dialect::error_from_openai(ctx.dialect, st, res.msg.body());
        res.msg.prepare_payload();
        return leave_result::done;
    }
};

// Gemini carries its model and stream flag in the path and everything else in a shape no
// step reads, so it is governed and sent as the chat request it translates to (the proxy
// translates the answer back). After auth, so a wrong key is told so first; a request that
// cannot be translated is a 400 before anything is counted.
class gemini_request final : public sync_middleware {
  public:
    explicit gemini_request(std::uint64_t default_max_output)
        : default_max_output_(default_max_output) {}

    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override {
        if (ctx.dialect != dialect::kind::gemini || ctx.count_tokens || !ctx.body_read)
            return step_result::next;
        dialect::refusal why;
        auto chat = dialect::request_to_chat(ctx.dialect, ctx.raw_body,
                                             {ctx.path_model, ctx.path_stream}, why);
        if (!chat) {
            out = api_error(ctx.req, http::gateway_error::invalid_request, why.message, why.param);
            return step_result::answered;
        }
        const auto client_bytes = ctx.raw_body.size();
        ctx.raw_body = std::move(*chat);
        core::request_fields fields;
        if (!core::scan_request_json(ctx.raw_body, fields)) {
            out = api_error(ctx.req, http::gateway_error::translation_error,
                            "the translated request is not valid JSON");
            return step_result::answered;
        }
        ctx.fields = std::move(fields);
        ctx.body_is_json = true;
        if (ctx.fields.bad_token_limit) {
            out = api_error(ctx.req, http::gateway_error::invalid_request,
                            "generationConfig.maxOutputTokens must be an integer in [1, " +
                                std::to_string(core::max_token_limit) + "]",
                            "generationConfig.maxOutputTokens");
            return step_result::answered;
        }
        charge_request(ctx, default_max_output_, client_bytes);
        return step_result::next;
    }

  private:
    std::uint64_t default_max_output_;
};

}  // namespace

std::shared_ptr<middleware> make_gemini_request(std::uint64_t default_max_output_tokens) {
    return std::make_shared<gemini_request>(default_max_output_tokens);
}

std::shared_ptr<middleware> make_dialect_errors() {
    return std::make_shared<dialect_errors>();
}

}  // namespace ditto::middleware
