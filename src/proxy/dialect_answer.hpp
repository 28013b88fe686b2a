#pragma once

// The way back of a translated attempt (docs/dialects.md): a chat-completions answer from
// the upstream becomes the client's dialect before any other step sees it, so the cache
// stores, the settlement reads usage from, and the client receives one and the same shape.

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string_view>

#include "ditto/http/message.hpp"
#include "ditto/middleware/chain.hpp"
#include "ditto/upstream/backend.hpp"

namespace ditto::proxy {

/// How one attempt reaches its backend: the request as the client sent it (the backend speaks
/// the dialect), or translated to chat completions (the answer translated back).
enum class attempt_form : std::uint8_t { as_is, translated };

/// The form of the first attempt on `b` (Responses `auto` may add a translated second).
attempt_form form_for(const middleware::proxy_context& ctx, const upstream::backend& b);

/// `x-ditto-shim` for a translated answer of `k`.
std::string_view shim_name(dialect::kind k);

/// Turns the upstream's chat answer `res` into `ctx.dialect`: a 2xx JSON body (buffered, or
/// read whole up to 8 MiB when it came chunked), a 2xx SSE stream (event by event), or an
/// error body (the dialect's error shape). nullopt when a 2xx answer is not a chat completion
/// (the caller answers 502 invalid_backend_response).
boost::asio::awaitable<std::optional<http::response>> answer_in_dialect(
    const middleware::proxy_context& ctx, http::response res);

/// The request as chat completions for a backend that does not speak the client's dialect,
/// made once per request (ctx.chat_body). Gemini's raw body already is one. False with `why`
/// set when the request cannot be translated.
bool ensure_chat_body(middleware::proxy_context& ctx, dialect::refusal& why);

}  // namespace ditto::proxy
