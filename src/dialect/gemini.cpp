// Gemini generateContent ⇄ chat completions (docs/dialects.md).
//
// Request fields that are not translated one to one (a refused field answers 400 with its
// path as `param`; nothing is dropped silently):
//   Refused
//   - cachedContent: names a cache stored at Google; the upstream has no copy, so dropping it
//     would silently lose the cached prompt prefix.
//   - unknown top-level, generationConfig, toolConfig and functionDeclarations fields: the
//     real API rejects unknown names too, and a newer feature must not be dropped unnoticed.
//   - parts: executableCode / codeExecutionResult (code execution runs at Google),
//     inlineData / fileData that are not image/* (chat carries images only), fileData with
//     a non-http(s) URI (gs:// is unreachable for the upstream), videoMetadata, any media
//     or functionResponse in a model turn, functionCall in a user turn, functionResponse
//     with `parts` (chat tool messages are text), a functionResponse with no id and no
//     earlier functionCall of its name (chat needs the tool_call_id).
//   - tools other than functionDeclarations (googleSearch, codeExecution, urlContext, …):
//     they run inside Google's service.
//   - generationConfig: responseMimeType other than text/plain and application/json
//     (text/x.enum), responseSchema without application/json, responseModalities other
//     than TEXT, responseLogprobs true (the answer translation carries no logprobs),
//     speechConfig, imageConfig.
//   - toolConfig.functionCallingConfig.allowedFunctionNames with mode AUTO or NONE (Gemini
//     only defines it for ANY and VALIDATED).
//   Ignored
//   - safetySettings: chat has no per-request safety thresholds; the upstream applies its
//     own moderation. Refusing would break the many clients that always send them.
//   - labels: billing metadata for Google Cloud; it does not change the answer.
//   - model in the body: the path names the model.
//   - generationConfig.topK (chat has none), thinkingConfig (no portable chat field;
//     reasoning the upstream returns is still shown as thought parts), mediaResolution
//     and enableEnhancedCivicAnswers (hints without a chat equivalent),
//     responseLogprobs false / logprobs.
//   - toolConfig.retrievalConfig: only used by the refused Google search and maps tools.
//   - functionResponse willContinue / scheduling, functionCall partialArgs / willContinue:
//     Live API streaming controls; the history carries the finished call and result.
//   - functionDeclarations[].response / responseJsonSchema / behavior: chat declares no
//     return schema; behavior is for the Live API.
//   - parts with thought:true (the model's earlier reasoning: chat has no input field for
//     it), thoughtSignature, partMetadata, mediaResolution.
//   Approximated
//   - systemInstruction parts are joined with "\n" into one system message.
//   - model turns: text parts joined with "" into the assistant content (the SDK's `text`
//     joins them the same way).
//   - functionCallingConfig mode VALIDATED → "auto" (chat cannot promise schema-valid calls);
//     ANY/VALIDATED with several allowedFunctionNames → only those tools are declared.
//   - Gemini's OpenAPI-subset schemas (responseSchema, parameters) have their `type` values
//     lower-cased ("STRING" → "string"); `nullable` and `propertyOrdering` are passed as is.
// Field names are accepted in proto3 JSON's two spellings: lowerCamelCase and the proto
// field name (system_instruction, inline_data, …), as the real API accepts both.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ditto/core/json_builder.hpp"
#include "ditto/core/json_dom.hpp"
#include "ditto/core/strings.hpp"
#include "translators.hpp"

namespace ditto::dialect::gemini {
namespace {

using core::json_builder;
using core::json_dom;
using core::json_node;

/// `key` spells the field `camel` either as lowerCamelCase or as its snake_case proto name.
bool same_field(std::string_view key, std::string_view camel) {
    if (key == camel)
        return true;
    std::size_t j = 0;
    for (char c : camel) {
        if (c >= 'A' && c <= 'Z') {
            if (j + 1 >= key.size() || key[j] != '_' || key[j + 1] != c - 'A' + 'a')
                return false;
            j += 2;
        } else {
            if (j >= key.size() || key[j] != c)
                return false;
            ++j;
        }
    }
    return j == key.size();
}

/// The member `camel` (either spelling; the last one, as json_node::find). proto3 JSON reads
/// null as "not set", so a null member counts as absent.
const json_node* field(const json_node& obj, std::string_view camel) {
    if (!obj.is_object())
        return nullptr;
    const json_node* found = nullptr;
    for (const auto& m : obj)
        if (same_field(m.key(), camel))
            found = &m;
    return found != nullptr && !found->is_null() ? found : nullptr;
}

std::string_view string_field(const json_node& obj, std::string_view camel) {
    const json_node* n = field(obj, camel);
    return n != nullptr && n->is_string() ? n->str() : std::string_view{};
}

/// A parsed value as compact JSON text (tool arguments and results travel as text in chat).
std::string to_json_text(const json_node& n) {
    json_builder b;
    b.node(n);
    return b.take();
}

std::string lower(std::string_view s) {
    return core::to_lower(s);
}

void write_schema(json_builder& b, const json_node& n);

/// A name → schema map (`properties`, `$defs`, …): the names are not keywords.
void write_schema_map(json_builder& b, const json_node& n) {
    if (!n.is_object()) {
        write_schema(b, n);
        return;
    }
    b.begin_object();
    for (const auto& m : n) {
        b.key(m.key());
        write_schema(b, m);
    }
    b.end_object();
}

/// Gemini's schemas use OpenAPI's upper-case type names ("OBJECT"); JSON Schema (what chat
/// upstreams validate) only knows lower case. Values under enum/const/default/example are
/// data, not schema, and stay as written.
void write_schema(json_builder& b, const json_node& n) {
    if (n.is_array()) {
        b.begin_array();
        for (const auto& e : n)
            write_schema(b, e);
        b.end_array();
        return;
    }
    if (!n.is_object()) {
        b.node(n);
        return;
    }
    b.begin_object();
    for (const auto& m : n) {
        const std::string_view k = m.key();
        b.key(k);
        if (k == "type" && m.is_string()) {
            b.string(lower(m.str()));
        } else if (k == "type" && m.is_array()) {
            b.begin_array();
            for (const auto& t : m) {
                if (t.is_string())
                    b.string(lower(t.str()));
                else
                    b.node(t);
            }
            b.end_array();
        } else if (k == "enum" || k == "const" || k == "default" || k == "example" ||
                   k == "examples") {
            b.node(m);
        } else if (k == "properties" || k == "$defs" || k == "definitions" ||
                   k == "patternProperties") {
            write_schema_map(b, m);
        } else {
            write_schema(b, m);
        }
    }
    b.end_object();
}

std::string index_path(std::string_view base, std::size_t i) {
    std::string p(base);
    p += '[';
    p += std::to_string(i);
    p += ']';
    return p;
}

/// One request translation; each step returns false with `why` set on refusal.
class request_translation {
  public:
    request_translation(const request_context& rc, refusal& why) : rc_(rc), why_(why) {}

    std::optional<std::string> run(std::string_view body) {
        json_dom dom;
        if (!dom.parse(body))
            return fail("", "the request body is not valid JSON: " + dom.error());
        const json_node& root = dom.root();
        if (!root.is_object())
            return fail("", "the request body must be a JSON object");
        if (!check_top_level(root))
            return std::nullopt;
        if (rc_.model.empty())
            return fail("model", "the model is named in the path: /v1beta/models/{model}");

        out_.begin_object();
        out_.member("model", rc_.model);
        out_.key("messages").begin_array();
        if (!system_instruction(root) || !contents(root))
            return std::nullopt;
        out_.end_array();
        if (const json_node* gc = field(root, "generationConfig"); gc && !generation_config(*gc))
            return std::nullopt;
        if (!tools_and_choice(root))
            return std::nullopt;
        if (rc_.stream) {
            out_.member("stream", true);
            out_.key("stream_options").begin_object().member("include_usage", true).end_object();
        }
        out_.end_object();
        return out_.take();
    }

  private:
    std::nullopt_t fail(std::string param, std::string message) {
        why_.param = std::move(param);
        why_.message = std::move(message);
        return std::nullopt;
    }
    bool refuse(std::string param, std::string message) {
        fail(std::move(param), std::move(message));
        return false;
    }

    bool check_top_level(const json_node& root) {
        for (const auto& m : root) {
            const std::string_view k = m.key();
            if (same_field(k, "contents") || same_field(k, "systemInstruction") ||
                same_field(k, "generationConfig") || same_field(k, "tools") ||
                same_field(k, "toolConfig") || same_field(k, "safetySettings") ||
                same_field(k, "labels") || k == "model")
                continue;
            if (same_field(k, "cachedContent") && m.is_null())
                continue;
            if (same_field(k, "cachedContent"))
                return refuse("cachedContent",
                              "cachedContent refers to a cache stored at Google; send the full "
                              "contents instead");
            return refuse(std::string(k), "unknown or unsupported field: " + std::string(k));
        }
        return true;
    }

    bool system_instruction(const json_node& root) {
        const json_node* si = field(root, "systemInstruction");
        if (si == nullptr)
            return true;
        std::string text;
        if (si->is_string()) {
            text = si->str();
        } else if (si->is_object()) {
            const json_node* parts = field(*si, "parts");
            if (parts != nullptr && !parts->is_array())
                return refuse("systemInstruction.parts", "parts must be an array");
            if (parts != nullptr) {
                std::size_t j = 0;
                for (const auto& p : *parts) {
                    const json_node* t = field(p, "text");
                    if (t == nullptr || !t->is_string())
                        return refuse(index_path("systemInstruction.parts", j),
                                      "a system instruction holds text parts only");
                    if (!text.empty())
                        text += '\n';
                    text += t->str();
                    ++j;
                }
            }
        } else {
            return refuse("systemInstruction", "systemInstruction must be a Content or a string");
        }
        if (text.empty())
            return true;
        out_.begin_object().member("role", "system").member("content", text).end_object();
        return true;
    }

    bool contents(const json_node& root) {
        const json_node* cs = field(root, "contents");
        if (cs == nullptr || !cs->is_array() || cs->empty())
            return refuse("contents", "contents must be a non-empty array");
        std::size_t i = 0;
        for (const auto& c : *cs) {
            const std::string at = index_path("contents", i);
            if (!c.is_object())
                return refuse(at, "each content must be an object");
            const json_node* role = field(c, "role");
            if (role != nullptr && !role->is_string())
                return refuse(at + ".role", "role must be \"user\" or \"model\"");
            const std::string_view r = role != nullptr ? role->str() : std::string_view{};
            const json_node* parts = field(c, "parts");
            if (parts == nullptr || !parts->is_array() || parts->empty())
                return refuse(at + ".parts", "parts must be a non-empty array");
            bool ok = false;
            if (r == "model")
                ok = model_turn(i, *parts);
            // An unset role is a user turn (single-turn requests leave it out); "function" is
            // the older API's role for the turn that carries functionResponse parts.
            else if (r.empty() || r == "user" || r == "function")
                ok = user_turn(i, *parts);
            else
                return refuse(at + ".role", "role must be \"user\" or \"model\"");
            if (!ok)
                return false;
            ++i;
        }
        return true;
    }

    enum class part_kind : std::uint8_t {
        none,
        thought,
        text,
        inline_data,
        file_data,
        function_call,
        function_response
    };

    /// What one part holds (a part is a oneof: exactly one data field), or a refusal.
    bool classify(const json_node& p, const std::string& at, part_kind& kind) {
        if (!p.is_object())
            return refuse(at, "each part must be an object");
        kind = part_kind::none;
        int data_fields = 0;
        bool thought = false;
        for (const auto& m : p) {
            const std::string_view k = m.key();
            if (m.is_null())
                continue;
            if (same_field(k, "text")) {
                kind = part_kind::text;
            } else if (same_field(k, "inlineData")) {
                kind = part_kind::inline_data;
            } else if (same_field(k, "fileData")) {
                kind = part_kind::file_data;
            } else if (same_field(k, "functionCall")) {
                kind = part_kind::function_call;
            } else if (same_field(k, "functionResponse")) {
                kind = part_kind::function_response;
            } else if (same_field(k, "executableCode") || same_field(k, "codeExecutionResult")) {
                return refuse(at + "." + std::string(k),
                              "code execution runs at Google and cannot be translated");
            } else if (same_field(k, "videoMetadata")) {
                return refuse(at + "." + std::string(k), "video input cannot be translated");
            } else if (same_field(k, "thought")) {
                thought = m.is_boolean() && m.boolean();
                continue;
            } else if (same_field(k, "thoughtSignature") || same_field(k, "partMetadata") ||
                       same_field(k, "mediaResolution")) {
                continue;  // Gemini-only metadata with no meaning to another model
            } else {
                return refuse(at + "." + std::string(k), "unsupported part field");
            }
            ++data_fields;
        }
        if (data_fields != 1)
            return refuse(at,
                          "a part holds exactly one of text, inlineData, fileData, "
                          "functionCall, functionResponse");
        if (kind == part_kind::text && !field(p, "text")->is_string())
            return refuse(at + ".text", "text must be a string");
        if (thought && kind == part_kind::text)  // the flag marks reasoning text only
            kind = part_kind::thought;
        return true;
    }

    /// inlineData or fileData of an image → one chat image_url content part.
    bool image_part(const json_node& p, part_kind kind, const std::string& at, json_builder& b) {
        const bool inline_data = kind == part_kind::inline_data;
        const std::string where = at + (inline_data ? ".inlineData" : ".fileData");
        const json_node& d = *field(p, inline_data ? "inlineData" : "fileData");
        if (!d.is_object())
            return refuse(where, "must be an object");
        const std::string mime = lower(string_field(d, "mimeType"));
        if (!mime.starts_with("image/"))
            return refuse(where + ".mimeType",
                          "only image/* media can be translated (chat carries images only)");
        std::string url;
        if (inline_data) {
            const json_node* data = field(d, "data");
            if (data == nullptr || !data->is_string() || data->str().empty())
                return refuse(where + ".data", "data must be a base64 string");
            url = "data:" + mime + ";base64,";
            url += data->str();
        } else {
            const std::string_view uri = string_field(d, "fileUri");
            if (!core::iequals_prefix(uri, "https://") && !core::iequals_prefix(uri, "http://"))
                return refuse(where + ".fileUri",
                              "only http(s) file URIs can be passed on (the upstream cannot "
                              "read gs:// or other schemes)");
            url = uri;
        }
        b.begin_object()
            .member("type", "image_url")
            .key("image_url")
            .begin_object()
            .member("url", url)
            .end_object()
            .end_object();
        return true;
    }

    bool user_turn(std::size_t i, const json_node& parts) {
        const std::string at = index_path("contents", i);
        // functionResponse parts become tool messages, written at once: chat wants them right
        // after the assistant message with the calls, so the user's other parts follow them.
        json_builder content;
        content.begin_array();
        std::size_t n_parts = 0;
        bool has_image = false;
        std::string_view first_text;
        std::size_t j = 0;
        for (const auto& p : parts) {
            const std::string pat = index_path(at + ".parts", j++);
            part_kind kind{};
            if (!classify(p, pat, kind))
                return false;
            switch (kind) {
                case part_kind::thought:
                case part_kind::none:
                    break;  // reasoning is not sent back to chat models
                case part_kind::text:
                    if (n_parts == 0)
                        first_text = field(p, "text")->str();
                    content.begin_object()
                        .member("type", "text")
                        .member("text", field(p, "text")->str())
                        .end_object();
                    ++n_parts;
                    break;
                case part_kind::inline_data:
                case part_kind::file_data:
                    if (!image_part(p, kind, pat, content))
                        return false;
                    has_image = true;
                    ++n_parts;
                    break;
                case part_kind::function_call:
                    return refuse(pat + ".functionCall", "functionCall belongs in a model turn");
                case part_kind::function_response:
                    if (!function_response(p, pat))
                        return false;
                    break;
            }
        }
        content.end_array();
        if (n_parts == 0)
            return true;
        // One text part stays a plain string (what every chat upstream accepts); several
        // parts keep their boundaries as a content array.
        out_.begin_object().member("role", "user").key("content");
        if (n_parts == 1 && !has_image)
            out_.string(first_text);
        else
            out_.raw(content.str());
        out_.end_object();
        return true;
    }

    bool function_response(const json_node& p, const std::string& pat) {
        const std::string where = pat + ".functionResponse";
        const json_node& fr = *field(p, "functionResponse");
        if (!fr.is_object())
            return refuse(where, "functionResponse must be an object");
        const std::string_view name = string_field(fr, "name");
        if (name.empty())
            return refuse(where + ".name", "functionResponse needs the function name");
        if (const json_node* fp = field(fr, "parts"); fp != nullptr && !fp->empty())
            return refuse(where + ".parts", "chat tool results are text; parts cannot be sent");
        const json_node* response = field(fr, "response");
        if (response != nullptr && !response->is_object())
            return refuse(where + ".response", "response must be an object");
        std::string id(string_field(fr, "id"));
        // Without an id the answer goes to the earliest unanswered call of that name (the
        // order Gemini pairs them in); with one, that call is answered.
        auto pending = std::find_if(calls_.begin(), calls_.end(), [&](const auto& c) {
            return id.empty() ? c.first == name : c.second == id;
        });
        if (pending != calls_.end()) {
            id = pending->second;
            calls_.erase(pending);
        } else if (id.empty()) {
            return refuse(where, "no earlier functionCall named \"" + std::string(name) +
                                     "\" to answer (chat needs the tool call id)");
        }
        out_.begin_object()
            .member("role", "tool")
            .member("tool_call_id", id)
            .member("content", response != nullptr ? to_json_text(*response) : "{}")
            .end_object();
        return true;
    }

    bool model_turn(std::size_t i, const json_node& parts) {
        const std::string at = index_path("contents", i);
        std::string text;
        json_builder calls;
        calls.begin_array();
        std::size_t n_calls = 0;
        std::size_t j = 0;
        for (const auto& p : parts) {
            const std::string pat = index_path(at + ".parts", j);
            part_kind kind{};
            if (!classify(p, pat, kind))
                return false;
            switch (kind) {
                case part_kind::thought:
                case part_kind::none:
                    // The model's earlier reasoning: chat has no input field for it, and the
                    // reasoning models behind chat do not expect it back.
                    break;
                case part_kind::text:
                    text += field(p, "text")->str();
                    break;
                case part_kind::inline_data:
                case part_kind::file_data:
                case part_kind::function_response:
                    return refuse(pat,
                                  "a model turn can only hold text and functionCall parts "
                                  "(chat assistant messages carry no media or results)");
                case part_kind::function_call: {
                    const std::string where = pat + ".functionCall";
                    const json_node& fc = *field(p, "functionCall");
                    const std::string_view name = string_field(fc, "name");
                    if (!fc.is_object() || name.empty())
                        return refuse(where, "functionCall needs a name");
                    const json_node* args = field(fc, "args");
                    if (args != nullptr && !args->is_object())
                        return refuse(where + ".args", "args must be an object");
                    std::string id(string_field(fc, "id"));
                    if (id.empty())
                        id = "call_" + std::to_string(i) + "_" + std::to_string(j);
                    calls.begin_object()
                        .member("id", id)
                        .member("type", "function")
                        .key("function")
                        .begin_object()
                        .member("name", name)
                        .member("arguments", args != nullptr ? to_json_text(*args) : "{}")
                        .end_object()
                        .end_object();
                    calls_.emplace_back(std::string(name), std::move(id));
                    ++n_calls;
                    break;
                }
            }
            ++j;
        }
        calls.end_array();
        // A turn of thoughts only leaves nothing to say; an empty assistant message would be
        // refused by most upstreams.
        if (text.empty() && n_calls == 0)
            return true;
        out_.begin_object().member("role", "assistant").key("content");
        if (text.empty())
            out_.null();
        else
            out_.string(text);
        if (n_calls > 0)
            out_.key("tool_calls").raw(calls.str());
        out_.end_object();
        return true;
    }

    bool number_member(const json_node& m, std::string_view to, const std::string& at,
                       bool integer) {
        if (integer ? !m.is_number_integer() : !m.is_number())
            return refuse(at, integer ? "must be an integer" : "must be a number");
        out_.key(to).node(m);
        return true;
    }

    bool generation_config(const json_node& gc) {
        if (!gc.is_object())
            return refuse("generationConfig", "generationConfig must be an object");
        std::string_view mime;
        const json_node* schema = nullptr;
        std::string schema_key;
        for (const auto& m : gc) {
            const std::string_view k = m.key();
            const std::string at = "generationConfig." + std::string(k);
            if (m.is_null())
                continue;
            bool ok = true;
            // The numbers chat takes as they are, under its own names.
            struct numeric {
                std::string_view gemini, chat;
                bool integer;
            };
            static constexpr numeric numbers[] = {{"maxOutputTokens", "max_tokens", true},
                                                  {"temperature", "temperature", false},
                                                  {"topP", "top_p", false},
                                                  {"candidateCount", "n", true},
                                                  {"presencePenalty", "presence_penalty", false},
                                                  {"frequencyPenalty", "frequency_penalty", false},
                                                  {"seed", "seed", true}};
            const auto* num =
                std::find_if(std::begin(numbers), std::end(numbers),
                             [&](const numeric& n) { return same_field(k, n.gemini); });
            if (num != std::end(numbers)) {
                ok = number_member(m, num->chat, at, num->integer);
            } else if (same_field(k, "stopSequences")) {
                if (!m.is_array())
                    return refuse(at, "stopSequences must be an array of strings");
                for (const auto& stop : m)
                    if (!stop.is_string())
                        return refuse(at, "stopSequences must be an array of strings");
                if (!m.empty())
                    out_.key("stop").node(m);
            } else if (same_field(k, "responseMimeType")) {
                if (!m.is_string())
                    return refuse(at, "responseMimeType must be a string");
                mime = m.str();
                if (mime != "text/plain" && mime != "application/json")
                    return refuse(at, "only text/plain and application/json can be translated");
            } else if (same_field(k, "responseSchema") || same_field(k, "responseJsonSchema")) {
                schema = &m;
                schema_key = at;
            } else if (same_field(k, "responseModalities")) {
                if (!m.is_array())
                    return refuse(at, "responseModalities must be an array");
                for (const auto& mod : m)
                    if (!mod.is_string() || mod.str() != "TEXT")
                        return refuse(at, "chat answers are text only");
            } else if (same_field(k, "responseLogprobs")) {
                if (!m.is_boolean() || m.boolean())
                    return refuse(at, "log probabilities are not translated back to Gemini");
            } else if (same_field(k, "topK") || same_field(k, "thinkingConfig") ||
                       same_field(k, "logprobs") || same_field(k, "mediaResolution") ||
                       same_field(k, "enableEnhancedCivicAnswers")) {
                // No chat equivalent; each only tunes sampling or reasoning (file header).
            } else {
                return refuse(at, "unsupported generationConfig field");
            }
            if (!ok)
                return false;
        }
        if (schema != nullptr && mime != "application/json")
            return refuse(schema_key, "a response schema needs responseMimeType application/json");
        if (mime == "application/json") {
            out_.key("response_format").begin_object();
            if (schema == nullptr) {
                out_.member("type", "json_object");
            } else {
                out_.member("type", "json_schema").key("json_schema").begin_object();
                out_.member("name", "response").key("schema");
                write_schema(out_, *schema);
                out_.end_object();
            }
            out_.end_object();
        }
        return true;
    }

    /// toolConfig first (ANY/VALIDATED with several allowed names narrows the tools), then
    /// the tools, then tool_choice (chat refuses a tool_choice without tools).
    bool tools_and_choice(const json_node& root) {
        std::string choice_mode;  // empty: not set
        std::vector<std::string_view> allowed;
        if (const json_node* tc = field(root, "toolConfig"); tc != nullptr) {
            if (!tc->is_object())
                return refuse("toolConfig", "toolConfig must be an object");
            for (const auto& m : *tc) {
                if (!same_field(m.key(), "functionCallingConfig") &&
                    !same_field(m.key(), "retrievalConfig"))
                    return refuse("toolConfig." + std::string(m.key()),
                                  "unsupported toolConfig field");
            }
            if (const json_node* fcc = field(*tc, "functionCallingConfig");
                fcc != nullptr && !function_calling_config(*fcc, choice_mode, allowed))
                return false;
        }

        json_builder tools;
        tools.begin_array();
        std::size_t n_tools = 0;
        if (const json_node* ts = field(root, "tools"); ts != nullptr) {
            if (!ts->is_array())
                return refuse("tools", "tools must be an array");
            std::size_t i = 0;
            for (const auto& t : *ts) {
                const std::string at = index_path("tools", i++);
                if (!t.is_object())
                    return refuse(at, "each tool must be an object");
                for (const auto& m : t) {
                    if (m.is_null())
                        continue;
                    if (!same_field(m.key(), "functionDeclarations"))
                        return refuse(at, "the Gemini tool " + std::string(m.key()) +
                                              " runs at Google and has no chat equivalent");
                    if (!declarations(m, at + ".functionDeclarations", allowed, tools, n_tools))
                        return false;
                }
            }
        }
        tools.end_array();
        if (n_tools == 0)
            return true;
        out_.key("tools").raw(tools.str());
        if (choice_mode == "ANY" && allowed.size() == 1) {
            out_.key("tool_choice")
                .begin_object()
                .member("type", "function")
                .key("function")
                .begin_object()
                .member("name", allowed.front())
                .end_object()
                .end_object();
        } else if (choice_mode == "ANY") {
            out_.member("tool_choice", "required");
        } else if (choice_mode == "AUTO" || choice_mode == "VALIDATED") {
            out_.member("tool_choice", "auto");
        } else if (choice_mode == "NONE") {
            out_.member("tool_choice", "none");
        }
        return true;
    }

    bool function_calling_config(const json_node& fcc, std::string& mode,
                                 std::vector<std::string_view>& allowed) {
        const std::string at = "toolConfig.functionCallingConfig";
        if (!fcc.is_object())
            return refuse(at, "functionCallingConfig must be an object");
        for (const auto& m : fcc) {
            if (!same_field(m.key(), "mode") && !same_field(m.key(), "allowedFunctionNames"))
                return refuse(at + "." + std::string(m.key()),
                              "unsupported functionCallingConfig field");
        }
        if (const json_node* mn = field(fcc, "mode"); mn != nullptr) {
            if (!mn->is_string())
                return refuse(at + ".mode", "mode must be a string");
            mode = mn->str();
            if (mode == "MODE_UNSPECIFIED")
                mode.clear();
            else if (mode != "AUTO" && mode != "ANY" && mode != "NONE" && mode != "VALIDATED")
                return refuse(at + ".mode", "mode must be AUTO, ANY, NONE or VALIDATED");
        }
        if (const json_node* names = field(fcc, "allowedFunctionNames"); names != nullptr) {
            if (!names->is_array())
                return refuse(at + ".allowedFunctionNames", "must be an array of names");
            for (const auto& n : *names) {
                if (!n.is_string())
                    return refuse(at + ".allowedFunctionNames", "must be an array of names");
                allowed.push_back(n.str());
            }
            if (!allowed.empty() && mode != "ANY" && mode != "VALIDATED")
                return refuse(at + ".allowedFunctionNames",
                              "allowedFunctionNames needs mode ANY or VALIDATED");
        }
        return true;
    }

    bool declarations(const json_node& decls, const std::string& at,
                      const std::vector<std::string_view>& allowed, json_builder& tools,
                      std::size_t& n_tools) {
        if (!decls.is_array())
            return refuse(at, "functionDeclarations must be an array");
        std::size_t k = 0;
        for (const auto& d : decls) {
            const std::string dat = index_path(at, k++);
            if (!d.is_object())
                return refuse(dat, "each function declaration must be an object");
            const json_node* params = nullptr;
            for (const auto& m : d) {
                const std::string_view key = m.key();
                if (same_field(key, "parameters") || same_field(key, "parametersJsonSchema")) {
                    if (params != nullptr && !m.is_null())
                        return refuse(dat + "." + std::string(key),
                                      "set parameters or parametersJsonSchema, not both");
                    if (!m.is_null())
                        params = &m;
                } else if (!same_field(key, "name") && !same_field(key, "description") &&
                           !same_field(key, "response") && !same_field(key, "responseJsonSchema") &&
                           !same_field(key, "behavior")) {
                    return refuse(dat + "." + std::string(key),
                                  "unsupported function declaration field");
                }
            }
            const std::string_view name = string_field(d, "name");
            if (name.empty())
                return refuse(dat + ".name", "a function declaration needs a name");
            if (!allowed.empty() &&
                std::find(allowed.begin(), allowed.end(), name) == allowed.end())
                continue;  // ANY/VALIDATED with allowedFunctionNames: the others are off limits
            tools.begin_object().member("type", "function").key("function").begin_object();
            tools.member("name", name);
            if (const std::string_view desc = string_field(d, "description"); !desc.empty())
                tools.member("description", desc);
            if (params != nullptr) {
                tools.key("parameters");
                write_schema(tools, *params);
            }
            tools.end_object().end_object();
            ++n_tools;
        }
        return true;
    }

    const request_context& rc_;
    refusal& why_;
    json_builder out_{1024};
    /// (name, id) of each functionCall not yet answered, in order.
    std::vector<std::pair<std::string, std::string>> calls_;
};

// ---- answers ----

std::string_view finish_reason(std::string_view chat) {
    if (chat == "length")
        return "MAX_TOKENS";
    if (chat == "content_filter")
        return "SAFETY";
    // stop, tool_calls (Gemini ends a function-calling turn with STOP too), and anything else.
    return "STOP";
}

struct usage_counts {
    bool present = false;
    std::int64_t prompt = 0;
    std::int64_t completion = 0;
    std::int64_t cached = 0;
    std::int64_t reasoning = 0;
};

std::int64_t count(const json_node* obj, std::string_view name) {
    if (obj == nullptr || !obj->is_object())
        return 0;
    const json_node* n = obj->find(name);
    return n != nullptr && n->is_number_integer() ? std::max<std::int64_t>(0, n->i64()) : 0;
}

usage_counts read_usage(const json_node& u) {
    usage_counts c;
    if (!u.is_object())
        return c;
    c.present = true;
    c.prompt = count(&u, "prompt_tokens");
    c.completion = count(&u, "completion_tokens");
    c.cached = count(u.find("prompt_tokens_details"), "cached_tokens");
    c.reasoning = count(u.find("completion_tokens_details"), "reasoning_tokens");
    return c;
}

/// OpenAI's prompt_tokens include the cached tokens, and so does Gemini's promptTokenCount
/// (cachedContentTokenCount is the part of it served from cache). OpenAI's completion_tokens
/// include the reasoning tokens, Gemini's candidatesTokenCount does not: they are reported
/// apart as thoughtsTokenCount. So candidates = completion − reasoning, thoughts = reasoning,
/// and total = prompt + completion; a reader of Gemini usage adds candidates and thoughts
/// back together.
void write_usage(json_builder& b, const usage_counts& u) {
    const std::int64_t candidates = std::max<std::int64_t>(0, u.completion - u.reasoning);
    b.key("usageMetadata").begin_object();
    b.key("promptTokenCount").number(u.prompt);
    b.key("candidatesTokenCount").number(candidates);
    b.key("totalTokenCount").number(u.prompt + u.completion);
    if (u.cached > 0)
        b.key("cachedContentTokenCount").number(u.cached);
    if (u.reasoning > 0)
        b.key("thoughtsTokenCount").number(std::min(u.reasoning, u.completion));
    b.end_object();
}

/// Chat arguments are JSON text; Gemini's args are an object. Text that is not an object
/// (typically cut short by max_tokens) cannot be carried, so it becomes {}.
void write_function_call(json_builder& b, std::string_view id, std::string_view name,
                         std::string_view arguments) {
    b.begin_object().key("functionCall").begin_object().member("name", name).key("args");
    json_dom args;
    if (args.parse(arguments) && args.root().is_object())
        b.node(args.root());
    else
        b.begin_object().end_object();
    if (!id.empty())
        b.member("id", id);
    b.end_object().end_object();
}

void write_text_part(json_builder& b, std::string_view text, bool thought) {
    b.begin_object().member("text", text);
    if (thought)
        b.member("thought", true);
    b.end_object();
}

std::string_view reasoning_text(const json_node& msg) {
    std::string_view r = string_field(msg, "reasoning_content");
    return r.empty() ? string_field(msg, "reasoning") : r;
}

void write_ids(json_builder& b, std::string_view model, std::string_view response_id) {
    if (!model.empty())
        b.member("modelVersion", model);
    if (!response_id.empty())
        b.member("responseId", response_id);
}

// ---- stream ----

/// Gemini's SSE (`?alt=sse`): `data: <GenerateContentResponse>` per event, no `event:`
/// lines. The real API ends each event with "\r\n\r\n"; @google/genai splits on "\n\n",
/// "\r\r" and "\r\n\r\n", and any SSE parser reads CRLF lines, while a client written
/// against the real bytes may only look for "\r\n\r\n". So the real bytes are sent.
constexpr std::string_view event_end = "\r\n\r\n";

class gemini_stream final : public stream_translator {
  public:
    explicit gemini_stream(const answer_context& ac)
        : model_(ac.model), response_id_(ac.request_id) {}

    void chunk(const json_node& chunk, std::string& out) override {
        if (const std::string_view m = string_field(chunk, "model"); !m.empty() && !got_model_) {
            model_ = m;  // the upstream's model name, as the buffered answer reports it
            got_model_ = true;
        }
        if (const std::string_view id = string_field(chunk, "id");
            response_id_.empty() && !id.empty())
            response_id_ = id;  // no request id: the upstream's, as the buffered answer does
        if (const json_node* u = chunk.find("usage"); u != nullptr && u->is_object())
            usage_ = read_usage(*u);
        const json_node* choices = chunk.find("choices");
        if (choices == nullptr || !choices->is_array())
            return;
        std::size_t pos = 0;
        for (const auto& choice : *choices) {
            const json_node* idx = choice.find("index");
            candidate& c = get(idx != nullptr && idx->is_number_unsigned() ? idx->u64() : pos);
            ++pos;
            if (const json_node* delta = choice.find("delta"); delta != nullptr)
                this->delta(c, *delta, out);
            if (const std::string_view fr = string_field(choice, "finish_reason"); !fr.empty()) {
                flush(c, out);
                c.finish = finish_reason(fr);
            }
        }
        // The usage chunk (`"choices": []`, after the finish_reason chunk) is the last one
        // with content: the closing event goes out now rather than at [DONE].
        if (choices->empty() && usage_.present && !final_sent_)
            final_event(out);
    }

    void finish(bool complete, std::string& out) override {
        // A cut stream gets no closing event: a made-up finishReason would present a
        // truncated answer as a whole one, and Gemini's SSE has no error event to send. The
        // client sees the stream end without a finishReason. A tool call still buffered is
        // dropped with it: its arguments may be cut mid-JSON.
        if (!complete || final_sent_)
            return;
        final_event(out);
    }

  private:
    /// A tool call whose argument pieces are being collected.
    struct pending_call {
        bool open = false;
        std::uint64_t index = 0;
        std::string id;
        std::string name;
        std::string arguments;
    };
    struct candidate {
        std::uint64_t index = 0;
        std::string_view finish;
        pending_call call;
    };

    candidate& get(std::uint64_t index) {
        for (auto& c : candidates_)
            if (c.index == index)
                return c;
        candidates_.push_back(candidate{index, {}, {}});
        return candidates_.back();
    }

    void delta(candidate& c, const json_node& d, std::string& out) {
        if (const std::string_view r = reasoning_text(d); !r.empty()) {
            flush(c, out);
            part_event(c, out, [&](json_builder& b) { write_text_part(b, r, true); });
        }
        if (const std::string_view t = string_field(d, "content"); !t.empty()) {
            flush(c, out);
            part_event(c, out, [&](json_builder& b) { write_text_part(b, t, false); });
        }
        const json_node* calls = d.find("tool_calls");
        if (calls == nullptr || !calls->is_array())
            return;
        for (const auto& tc : *calls) {
            const json_node* ti = tc.find("index");
            const std::uint64_t k = ti != nullptr && ti->is_number_unsigned() ? ti->u64() : 0;
            // Gemini sends a functionCall whole, with its args as an object, where chat sends
            // the arguments in pieces: the call is held until it is complete (the next call
            // starts, or the finish_reason arrives). The one hold-back in this translation.
            if (c.call.open && c.call.index != k)
                flush(c, out);
            if (!c.call.open) {
                c.call = pending_call{};
                c.call.open = true;
                c.call.index = k;
            }
            if (const std::string_view id = string_field(tc, "id"); !id.empty())
                c.call.id = id;
            if (const json_node* fn = tc.find("function"); fn != nullptr) {
                if (const std::string_view n = string_field(*fn, "name"); !n.empty())
                    c.call.name = n;
                c.call.arguments += string_field(*fn, "arguments");
            }
        }
    }

    void flush(candidate& c, std::string& out) {
        if (!c.call.open)
            return;
        c.call.open = false;
        part_event(c, out, [&](json_builder& b) {
            write_function_call(b, c.call.id, c.call.name, c.call.arguments);
        });
    }

    template <class Part>
    void part_event(const candidate& c, std::string& out, Part&& part) {
        json_builder b;
        b.begin_object().key("candidates").begin_array().begin_object();
        b.key("content").begin_object().key("parts").begin_array();
        part(b);
        b.end_array().member("role", "model").end_object();
        b.key("index").number(c.index);
        b.end_object().end_array();
        write_ids(b, model_, response_id_);
        b.end_object();
        emit(b, out);
    }

    void final_event(std::string& out) {
        final_sent_ = true;
        for (auto& c : candidates_)
            flush(c, out);
        if (candidates_.empty())
            get(0);
        json_builder b;
        b.begin_object().key("candidates").begin_array();
        for (const auto& c : candidates_) {
            b.begin_object();
            b.key("content")
                .begin_object()
                .key("parts")
                .begin_array()
                .end_array()
                .member("role", "model")
                .end_object();
            b.member("finishReason", c.finish.empty() ? std::string_view("STOP") : c.finish);
            b.key("index").number(c.index);
            b.end_object();
        }
        b.end_array();
        if (usage_.present)
            write_usage(b, usage_);
        write_ids(b, model_, response_id_);
        b.end_object();
        emit(b, out);
    }

    static void emit(const json_builder& b, std::string& out) {
        out += "data: ";
        out += b.str();
        out += event_end;
    }

    std::string model_;
    std::string response_id_;
    bool got_model_ = false;
    bool final_sent_ = false;
    usage_counts usage_;
    std::vector<candidate> candidates_;
};

// ---- errors ----

std::string_view status_name(unsigned status) {
    switch (status) {
        case 400:
        case 413:  // Google answers an oversized request as a bad argument
            return "INVALID_ARGUMENT";
        case 401:
            return "UNAUTHENTICATED";
        case 402:
            // The gateway's 402 is an exhausted budget. RESOURCE_EXHAUSTED is Google's quota
            // status, which clients treat as a rate limit and retry with backoff; a budget
            // does not refill in seconds. FAILED_PRECONDITION means "do not retry until the
            // state is fixed", which is what the client should do.
            return "FAILED_PRECONDITION";
        case 403:
            return "PERMISSION_DENIED";
        case 404:
            return "NOT_FOUND";
        case 409:
            return "ABORTED";
        case 429:
            return "RESOURCE_EXHAUSTED";
        case 499:
            return "CANCELLED";
        case 500:
            return "INTERNAL";
        case 501:
            return "UNIMPLEMENTED";
        case 502:
        case 503:
            return "UNAVAILABLE";
        case 504:
            return "DEADLINE_EXCEEDED";
        default:
            return "UNKNOWN";
    }
}

/// The body's own text when it is not OpenAI's shape: at most 1000 bytes, cut on a UTF-8
/// boundary; empty when it is not UTF-8 text (it goes into a JSON string).
std::string body_text(std::string_view body) {
    body = core::trim(body);
    constexpr std::size_t cap = 1000;
    if (body.size() > cap) {
        std::size_t n = cap;
        while (n > 0 && (static_cast<unsigned char>(body[n]) & 0xC0) == 0x80)
            --n;
        body = body.substr(0, n);
    }
    return core::is_valid_utf8(body) ? std::string(body) : std::string();
}

}  // namespace

std::optional<std::string> request_to_chat(std::string_view body, const request_context& rc,
                                           refusal& why) {
    return request_translation(rc, why).run(body);
}

std::optional<std::string> answer_from_chat(std::string_view chat, const answer_context& ac) {
    json_dom dom;
    if (!dom.parse(chat))
        return std::nullopt;
    const json_node& root = dom.root();
    const json_node* choices = root.is_object() ? root.find("choices") : nullptr;
    if (choices == nullptr || !choices->is_array())
        return std::nullopt;

    json_builder b(chat.size() + 256);
    b.begin_object().key("candidates").begin_array();
    std::size_t pos = 0;
    for (const auto& choice : *choices) {
        if (!choice.is_object())
            return std::nullopt;
        const json_node* idx = choice.find("index");
        const std::uint64_t index = idx != nullptr && idx->is_number_unsigned() ? idx->u64() : pos;
        ++pos;
        b.begin_object().key("content").begin_object().key("parts").begin_array();
        if (const json_node* msg = choice.find("message"); msg != nullptr && msg->is_object()) {
            if (const std::string_view r = reasoning_text(*msg); !r.empty())
                write_text_part(b, r, true);
            if (const json_node* content = msg->find("content");
                content != nullptr && content->is_string() && !content->str().empty()) {
                write_text_part(b, content->str(), false);
            } else if (content != nullptr && content->is_array()) {
                for (const auto& p : *content)
                    if (string_field(p, "type") == "text" && !string_field(p, "text").empty())
                        write_text_part(b, string_field(p, "text"), false);
            }
            // Gemini has no refusal field; the model's refusal is what it said.
            if (const std::string_view refusal_text = string_field(*msg, "refusal");
                !refusal_text.empty())
                write_text_part(b, refusal_text, false);
            if (const json_node* calls = msg->find("tool_calls");
                calls != nullptr && calls->is_array()) {
                for (const auto& tc : *calls) {
                    const json_node* fn = tc.is_object() ? tc.find("function") : nullptr;
                    if (fn == nullptr || !fn->is_object())
                        continue;
                    write_function_call(b, string_field(tc, "id"), string_field(*fn, "name"),
                                        string_field(*fn, "arguments"));
                }
            }
        }
        b.end_array().member("role", "model").end_object();
        b.member("finishReason", finish_reason(string_field(choice, "finish_reason")));
        b.key("index").number(index);
        b.end_object();
    }
    b.end_array();
    if (const json_node* u = root.find("usage"); u != nullptr && u->is_object())
        write_usage(b, read_usage(*u));
    const std::string_view model = string_field(root, "model");
    const std::string_view id = !ac.request_id.empty() ? ac.request_id : string_field(root, "id");
    write_ids(b, model.empty() ? ac.model : model, id);
    b.end_object();
    return b.take();
}

std::unique_ptr<stream_translator> make_stream(const answer_context& ac) {
    return std::make_unique<gemini_stream>(ac);
}

std::string error_from_openai(unsigned status, std::string_view openai_json) {
    std::string message;
    json_dom dom;
    if (dom.parse(openai_json) && dom.root().is_object()) {
        if (const json_node* e = dom.root().find("error"); e != nullptr && e->is_string())
            message = e->str();  // some upstreams send {"error": "text"}
        else if (e != nullptr)
            message = string_field(*e, "message");
        else
            message = string_field(dom.root(), "message");
    } else {
        message = body_text(openai_json);
    }
    if (message.empty())
        message = "the upstream answered HTTP " + std::to_string(status);
    json_builder b;
    b.begin_object().key("error").begin_object();
    b.key("code").number(static_cast<std::uint64_t>(status));
    b.member("message", message);
    b.member("status", status_name(status));
    b.end_object().end_object();
    return b.take();
}

}  // namespace ditto::dialect::gemini
