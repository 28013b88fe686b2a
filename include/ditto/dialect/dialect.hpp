#pragma once

// The client dialects the gateway speaks over a chat-completions upstream (docs/dialects.md).
// Pure translations, no I/O: a request body in the client's dialect becomes a
// chat-completions body; a chat-completions answer (buffered JSON, or SSE chunk by chunk)
// becomes the client's dialect; an OpenAI-shaped error becomes the client's error shape.
// The proxy decides per backend whether to translate (a backend may speak the dialect
// natively); the governance chain sees one request either way.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ditto::core {
class json_node;
}  // namespace ditto::core

namespace ditto::dialect {

enum class kind : std::uint8_t {
    openai,     ///< chat completions and every other /v1/* endpoint: no translation
    responses,  ///< POST /v1/responses
    anthropic,  ///< POST /v1/messages
    gemini,     ///< POST /v1beta/models/{model}:generateContent | :streamGenerateContent
};

std::string_view name(kind k);

/// A dialect endpoint by its path (docs/dialects.md). `served` is false for a path in a
/// dialect's namespace the gateway does not serve (a 404 in that dialect's shape).
struct front_door {
    kind dialect = kind::openai;
    bool served = true;
    bool count_tokens = false;  ///< `/v1/messages/count_tokens`, Gemini `:countTokens`
    bool stream = false;        ///< Gemini `:streamGenerateContent`
    std::string model;          ///< Gemini: the `{model}` of the path, percent-decoded
};

/// Anthropic `/v1/messages[/count_tokens]`, Gemini `/v1beta/models/{model}:{method}` (and
/// `/v1/models/{model}:{method}`, method generateContent, streamGenerateContent or
/// countTokens), `/v1/responses`; nullopt for any other path. `path` has no query.
std::optional<front_door> match_front_door(std::string_view path);

/// Why a request cannot be translated: 400 invalid_request_error in the client's shape.
/// `param` names the field at fault in the client's own request (e.g. "tools[0].type").
struct refusal {
    std::string message;
    std::string param;
};

/// What a request translation needs beyond the body.
struct request_context {
    /// Gemini: the model and the stream flag come from the path.
    std::string_view model;
    bool stream = false;
};

/// Request: the client's JSON body → a chat-completions JSON body. A stream request always
/// asks for `stream_options.include_usage` (the answer translation needs the usage). nullopt
/// with `why` set when the request is malformed or uses a feature that cannot be translated
/// (never a silent drop).
std::optional<std::string> request_to_chat(kind k, std::string_view body, const request_context& rc,
                                           refusal& why);

/// What an answer translation needs beyond the body.
struct answer_context {
    std::string_view request_id;  ///< for ids the dialect requires (resp_…, msg_…)
    std::string_view model;       ///< the model the client asked for
    std::int64_t created = 0;     ///< unix seconds
};

/// Buffered answer: a chat.completion JSON object → the client's answer JSON. nullopt when
/// `chat` is not a chat completion (the caller answers 502 invalid_backend_response).
std::optional<std::string> answer_from_chat(kind k, std::string_view chat,
                                            const answer_context& ac);

/// Streamed answer: chat.completion.chunk events in, the client's SSE bytes out, event by
/// event (nothing is held back past the chunk that completes it).
class stream_translator {
  public:
    virtual ~stream_translator() = default;
    /// One chunk: the parsed `data:` JSON of one upstream SSE event (not `[DONE]`). Appends
    /// complete SSE events (`event: …\ndata: …\n\n`; Gemini's are `data: …\r\n\r\n`, as
    /// the real API sends them) to `out`.
    virtual void chunk(const core::json_node& chunk, std::string& out) = 0;
    /// The upstream stream ended: `complete` after `[DONE]` or a finish_reason, false when it
    /// was cut. Appends the closing events (Responses: response.completed or
    /// response.incomplete; Anthropic: message_delta + message_stop).
    virtual void finish(bool complete, std::string& out) = 0;
};

std::unique_ptr<stream_translator> make_stream_translator(kind k, const answer_context& ac);

/// An error answer (status ≥ 400) in OpenAI's shape `{"error":{"message","type","code",
/// "param"}}` → the client's error body (Anthropic `{"type":"error","error":{"type",
/// "message"}}`, Gemini `{"error":{"code","message","status"}}`). A body that is not the
/// OpenAI shape keeps its text as the message. openai/responses return `openai_json`.
std::string error_from_openai(kind k, unsigned status, std::string_view openai_json);

/// The SSE content type the dialect streams with (all: text/event-stream).
inline constexpr std::string_view event_stream_type = "text/event-stream";

}  // namespace ditto::dialect
