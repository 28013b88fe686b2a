#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ditto::core {

/// Byte range [begin, end) of a JSON value inside the scanned text.
struct json_span {
    std::size_t begin = 0;
    std::size_t end = 0;
};

/// The largest token limit a request may set (`max_tokens`, `max_completion_tokens`,
/// `max_output_tokens`): 2^24, above every model's context window (the largest are ~10M), so
/// no real request is refused, and far inside the u32 the original gateway saturates them at
/// (docs/security-governance.md).
inline constexpr std::uint64_t max_token_limit = 16'777'216;

/// A token-limit member whose value is neither null (unset, as OpenAI takes it) nor an
/// integer in [1, max_token_limit].
struct token_limit_error {
    enum class reason : std::uint8_t { not_an_integer, below_minimum, above_maximum };
    std::string_view field;  ///< "max_tokens", …: a literal, it outlives the scan
    reason why = reason::not_an_integer;
    std::string_view got;  ///< for not_an_integer: "a string", "a decimal number", …
};

/// The request fields the gateway routes, limits and charges by, read in one pass without
/// building a DOM (the hot path sees every request body).
struct request_fields {
    bool is_object = false;
    std::optional<std::string> model;  ///< unescaped top-level "model" string
    json_span model_span;              ///< the "model" string token, quotes included
    std::optional<bool> stream;
    std::optional<std::string> service_tier;
    std::optional<std::uint64_t> max_tokens;
    std::optional<std::uint64_t> max_completion_tokens;
    std::optional<std::uint64_t> max_output_tokens;
    /// The first malformed token-limit member (its value is then absent above): the request
    /// must be refused rather than charged as if it set no limit, since a lenient upstream may
    /// honour `"99999"` or `1e18`.
    std::optional<token_limit_error> bad_token_limit;
    std::optional<bool> include_usage;  ///< stream_options.include_usage
    std::optional<json_span> stream_options_span;
};

/// Validates `text` as one JSON value (RFC 8259; nesting at most 256 deep) and, when it is
/// an object, extracts the fields above from its top level. Returns false when invalid.
/// Pure function.
bool scan_request_json(std::string_view text, request_fields& out);

/// The token counts of a response's top-level `usage` (docs/governance.md, "Usage accounting"):
/// input is `input_tokens` or `prompt_tokens`, output `output_tokens` or `completion_tokens`; the
/// details objects give reasoning, cached and cache-creation counts. Anthropic's usage (cache reads
/// and writes beside input_tokens) and Gemini's `usageMetadata` are read into the same meaning:
/// input is the whole prompt, cached and creation included, output includes reasoning.
struct usage_fields {
    bool present = false;  ///< the body had a top-level `usage` object
    std::optional<std::uint64_t> input;
    std::optional<std::uint64_t> output;
    std::optional<std::uint64_t> total;
    std::optional<std::uint64_t> reasoning;
    std::optional<std::uint64_t> cached;
    std::optional<std::uint64_t> creation;
    /// `total_tokens`, else input + output, else nothing.
    std::optional<std::uint64_t> total_tokens() const;
};

/// Validates a response body as JSON and reads its top-level `usage`. False when invalid.
bool scan_usage_json(std::string_view text, usage_fields& out);

/// What the SSE relay reads from one event's (joined) data (docs/governance.md).
struct stream_event_fields {
    /// The top-level `usage` (or Gemini `usageMetadata`) object; else, for Responses API
    /// events (`response.completed`, `response.incomplete`, `response.failed`), the `usage`
    /// object of the top-level `response` object, and for Anthropic's message_start that of
    /// `message`. `"usage": null` counts as absent.
    usage_fields usage;
    bool usage_from_response = false;  ///< `usage` came from `response.usage`
    bool choices_empty = false;        ///< the top level has `"choices": []`
};

/// Validates one SSE event's data as JSON and reads the fields above in the same pass. False
/// (and `out` reset) when invalid. Pure function.
bool scan_stream_event_json(std::string_view text, stream_event_fields& out);

/// Appends `s` with `\n`, `\r`, `\t`, the other control bytes as `hex_prefix` and two hex
/// digits (`\u00` for JSON, `\x` for log text), `"` and `\` as `\"` and `\\` when
/// `escape_quotes`, and DEL as hex when `escape_del`. No quotes around it.
void append_escaped(std::string& out, std::string_view s, std::string_view hex_prefix,
                    bool escape_quotes, bool escape_del);

/// `s` as a JSON string literal (quotes and escapes).
std::string json_quote(std::string_view s);
/// The same literal appended to `out` (no temporary string: audit records are built this way).
void json_quote_into(std::string& out, std::string_view s);

}  // namespace ditto::core
