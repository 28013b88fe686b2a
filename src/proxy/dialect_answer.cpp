#include "dialect_answer.hpp"

#include <chrono>

#include "ditto/core/json_dom.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/proxy/proxy.hpp"

namespace ditto::proxy {
namespace {

// A translated buffered answer is read whole up to this (docs/dialects.md).
constexpr std::size_t max_translated_body = 8 * 1024 * 1024;

// Relays a chat-completions SSE stream as the client's dialect. Each upstream event is
// translated as soon as its terminator arrives, so nothing waits for the rest of the stream;
// only an event's unterminated tail is held. When the upstream fails mid-stream the closing
// events the dialect has for that (response.incomplete, Anthropic's `error`) go out first,
// then the failure, so the settlement still sees the stream as cut.
class translating_stream final : public http::body_stream {
  public:
    translating_stream(std::unique_ptr<http::body_stream> inner,
                       std::unique_ptr<dialect::stream_translator> t)
        : inner_(std::move(inner)), translator_(std::move(t)) {}

    boost::asio::awaitable<std::optional<std::string>> next(
        boost::system::error_code& ec) override {
        if (failed_) {
            ec = failed_;
            co_return std::nullopt;
        }
        if (ended_)
            co_return std::nullopt;
        std::string out;
        while (out.empty()) {
            auto piece = co_await inner_->next(ec);
            if (ec) {
                failed_ = ec;
                translator_->finish(false, out);
                if (out.empty())
                    co_return std::nullopt;
                ec = {};
                co_return out;
            }
            if (!piece) {
                if (!buf_.empty())
                    event(std::string_view(buf_), out);
                buf_.clear();
                translator_->finish(true, out);
                ended_ = true;
                break;
            }
            buf_ += *piece;
            drain(out);
        }
        if (out.empty())
            co_return std::nullopt;
        co_return out;
    }

  private:
    // Every complete event in buf_ (ended by a blank line, "\n\n" or "\r\n\r\n").
    void drain(std::string& out) {
        std::size_t begin = 0;
        for (;;) {
            const auto lf = buf_.find("\n\n", begin);
            const auto crlf = buf_.find("\r\n\r\n", begin);
            if (lf == std::string::npos && crlf == std::string::npos)
                break;
            const bool use_lf = crlf == std::string::npos || (lf != std::string::npos && lf < crlf);
            const auto end = use_lf ? lf : crlf;
            event(std::string_view(buf_).substr(begin, end - begin), out);
            begin = end + (use_lf ? 2 : 4);
        }
        buf_.erase(0, begin);
    }

    // One event: its `data:` lines joined with "\n" (SSE), `[DONE]` skipped, the rest parsed
    // and handed to the translator. An event that is not JSON is dropped: a chat stream has
    // nothing else the client's dialect could carry.
    void event(std::string_view ev, std::string& out) {
        data_.clear();
        std::size_t pos = 0;
        while (pos < ev.size()) {
            auto nl = ev.find('\n', pos);
            if (nl == std::string_view::npos)
                nl = ev.size();
            auto line = ev.substr(pos, nl - pos);
            if (!line.empty() && line.back() == '\r')
                line.remove_suffix(1);
            if (line.starts_with("data:")) {
                line.remove_prefix(5);
                if (!line.empty() && line.front() == ' ')
                    line.remove_prefix(1);
                if (!data_.empty())
                    data_ += '\n';
                data_ += line;
            }
            pos = nl + 1;
        }
        const auto data = core::trim(data_);
        if (data.empty() || data == "[DONE]")
            return;
        core::json_dom dom;
        if (dom.parse(data) && dom.root().is_object())
            translator_->chunk(dom.root(), out);
    }

    std::unique_ptr<http::body_stream> inner_;
    std::unique_ptr<dialect::stream_translator> translator_;
    std::string buf_;
    std::string data_;
    boost::system::error_code failed_;
    bool ended_ = false;
};

dialect::answer_context answer_context_of(const middleware::proxy_context& ctx) {
    dialect::answer_context ac;
    ac.request_id = ctx.request_id;
    ac.model = ctx.fields.model ? std::string_view(*ctx.fields.model) : ctx.path_model;
    ac.created = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    return ac;
}

}  // namespace

attempt_form form_for(const middleware::proxy_context& ctx, const upstream::backend& b) {
    using rm = config::backend_config::responses_mode;
    switch (ctx.dialect) {
        case dialect::kind::responses:
            return b.responses() == rm::translate ? attempt_form::translated : attempt_form::as_is;
        case dialect::kind::anthropic:
            return b.speaks_anthropic() ? attempt_form::as_is : attempt_form::translated;
        case dialect::kind::gemini:
            return attempt_form::translated;
        case dialect::kind::openai:
            break;
    }
    return attempt_form::as_is;
}

std::string_view shim_name(dialect::kind k) {
    switch (k) {
        case dialect::kind::responses:
            return "responses_via_chat_completions";
        case dialect::kind::anthropic:
            return "messages_via_chat_completions";
        case dialect::kind::gemini:
            return "generate_content_via_chat_completions";
        case dialect::kind::openai:
            break;
    }
    return {};
}

bool ensure_chat_body(middleware::proxy_context& ctx, dialect::refusal& why) {
    if (ctx.dialect == dialect::kind::gemini || ctx.chat_body)
        return true;
    auto chat = dialect::request_to_chat(ctx.dialect, ctx.raw_body, {}, why);
    if (!chat)
        return false;
    if (!core::scan_request_json(*chat, ctx.chat_fields)) {
        why.message = "the request could not be translated to chat completions";
        return false;
    }
    ctx.chat_body = std::move(*chat);
    return true;
}

boost::asio::awaitable<std::optional<http::response>> answer_in_dialect(
    const middleware::proxy_context& ctx, http::response res) {
    res.msg.set("x-ditto-shim", shim_name(ctx.dialect));
    const unsigned st = res.msg.result_int();
    if (res.stream && http::is_event_stream(res) && st / 100 == 2) {
        res.stream = std::make_unique<translating_stream>(
            std::move(res.stream),
            dialect::make_stream_translator(ctx.dialect, answer_context_of(ctx)));
        res.msg.erase(http::field::content_length);
        res.msg.set(http::field::content_type, dialect::event_stream_type);
        // The translator ends a cut stream in the dialect's own words; a chat-shaped cut
        // event after it would be noise the client cannot parse.
        res.cut_event = nullptr;
        co_return res;
    }
    if (res.stream) {
        // A body sent without a length (chunked JSON): read whole, then translated.
        std::string body;
        for (;;) {
            boost::system::error_code ec;
            auto piece = co_await res.stream->next(ec);
            if (ec || body.size() > max_translated_body)
                co_return std::nullopt;
            if (!piece)
                break;
            body += *piece;
        }
        res.stream.reset();
        res.msg.body() = std::move(body);
    }
    if (st >= 400) {
        res.msg.body() = dialect::error_from_openai(ctx.dialect, st, res.msg.body());
        res.msg.set(http::field::content_type, "application/json");
        res.msg.prepare_payload();
        co_return res;
    }
    auto translated =
        dialect::answer_from_chat(ctx.dialect, res.msg.body(), answer_context_of(ctx));
    if (!translated)
        co_return std::nullopt;
    res.msg.body() = std::move(*translated);
    res.msg.set(http::field::content_type, "application/json");
    res.msg.prepare_payload();
    co_return res;
}

}  // namespace ditto::proxy

namespace ditto::proxy {
namespace {

// docs/dialects.md: when every candidate would need the translation, a request that cannot
// be translated is refused here, before the rate limit, the cache and the budget count it;
// the translation made is the one the proxy sends. With a candidate that speaks the dialect,
// the request may be fine there, so the check waits for the attempt.
class translation_check final : public ::ditto::middleware::sync_middleware {
  public:
    explicit translation_check(std::shared_ptr<upstreams> ups) : ups_(std::move(ups)) {}

    ::ditto::middleware::step_result enter(::ditto::middleware::proxy_context& ctx,
                                           std::optional<http::response>& out) override {
        if ((ctx.dialect != dialect::kind::responses && ctx.dialect != dialect::kind::anthropic) ||
            ctx.count_tokens || !ctx.body_read || ctx.candidates.empty()) {
            return ::ditto::middleware::step_result::next;
        }
        for (const auto& name : ctx.candidates) {
            const auto* b = ups_->find(name);
            if (!b || form_for(ctx, *b) == attempt_form::as_is)
                return ::ditto::middleware::step_result::next;
        }
        dialect::refusal why;
        if (!ensure_chat_body(ctx, why)) {
            out = ::ditto::middleware::api_error(ctx.req, http::gateway_error::invalid_request,
                                                 why.message, why.param);
            return ::ditto::middleware::step_result::answered;
        }
        return ::ditto::middleware::step_result::next;
    }

  private:
    std::shared_ptr<upstreams> ups_;
};

}  // namespace

std::shared_ptr<middleware::middleware> make_translation_check(std::shared_ptr<upstreams> ups) {
    return std::make_shared<translation_check>(std::move(ups));
}

}  // namespace ditto::proxy
