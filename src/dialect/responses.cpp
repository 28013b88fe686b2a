// OpenAI Responses API (POST /v1/responses) over a chat-completions upstream.
//
// Request fields
//   mapped:   model; instructions (a leading system message); input (a string, or a list of
//             message / function_call / function_call_output items); tools (type "function"
//             only); tool_choice ("auto" | "none" | "required" | {"type":"function","name"});
//             max_output_tokens → max_tokens; text.format → response_format; text.verbosity →
//             verbosity; reasoning.effort → reasoning_effort; stream (adds
//             stream_options.include_usage).
//   passed:   temperature, top_p, parallel_tool_calls, user, metadata, service_tier,
//             prompt_cache_key, prompt_cache_retention, safety_identifier.
//   ignored:  store (nothing is stored either way, so a later previous_response_id cannot
//             name this response); include (the values ask for extra output of built-in
//             tools, logprobs or encrypted reasoning, none of which a chat upstream returns);
//             truncation ("auto" is not performed: an input over the context window fails
//             upstream instead); stream_options (include_obfuscation pads events against
//             side channels; these events are not padded); reasoning.summary and
//             reasoning.generate_summary (chat completions returns no reasoning summary);
//             background: false; input items of type "reasoning" (chat completions cannot
//             carry them back; the model reasons afresh); id and status of input items.
//   refused:  previous_response_id and conversation (they need stored state; none is kept);
//             background: true; prompt (stored prompt templates); max_tool_calls;
//             top_logprobs; tools of any type but "function" (web_search, file_search,
//             computer_use_preview, code_interpreter, mcp, image_generation, local_shell,
//             custom, …: they run inside OpenAI's service); tool_choice naming anything but a
//             function; input items of any other type (item_reference, web_search_call,
//             computer_call, …); content parts input_file and input_audio, input_image by
//             file_id, images outside user messages; any field not listed here.
// A null value counts as an absent field.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ditto/core/json_builder.hpp"
#include "ditto/core/json_dom.hpp"
#include "translators.hpp"

namespace ditto::dialect::responses {

namespace {

using core::json_builder;
using core::json_node;

bool refuse(refusal& why, std::string message, std::string param) {
    why.message = std::move(message);
    why.param = std::move(param);
    return false;
}

const json_node* member(const json_node& obj, std::string_view name) {
    const json_node* n = obj.is_object() ? obj.find(name) : nullptr;
    return n && !n->is_null() ? n : nullptr;
}

std::string_view string_at(const json_node& obj, std::string_view name) {
    const json_node* n = member(obj, name);
    return n && n->is_string() ? n->str() : std::string_view{};
}

std::uint64_t count_at(const json_node* obj, std::string_view name) {
    const json_node* n = obj ? member(*obj, name) : nullptr;
    return n && n->is_number_unsigned() ? n->u64() : 0;
}

std::string indexed(std::string_view base, std::size_t i) {
    return std::string(base) + '[' + std::to_string(i) + ']';
}

// ---------------------------------------------------------------------------------------
// Request

// A Responses content list becomes chat content parts. A list holding one text part becomes
// a plain string: every chat upstream accepts that, not every one accepts part arrays for
// system or assistant messages.
bool write_content(json_builder& b, const json_node& content, std::string_view role,
                   const std::string& param, refusal& why) {
    if (content.is_string()) {
        b.string(content.str());
        return true;
    }
    if (!content.is_array())
        return refuse(why, "content must be a string or a list of content parts", param);
    if (content.size() == 1) {
        const json_node& only = *content.begin();
        std::string_view type = string_at(only, "type");
        if (type == "input_text" || type == "output_text") {
            b.string(string_at(only, "text"));
            return true;
        }
    }
    b.begin_array();
    std::size_t j = 0;
    for (const json_node& part : content) {
        const std::string at = indexed(param, j++);
        std::string_view type = string_at(part, "type");
        if (type == "input_text" || type == "output_text") {
            const json_node* text = member(part, "text");
            if (!text || !text->is_string())
                return refuse(why, "a text part needs a string `text`", at + ".text");
            b.begin_object().member("type", "text").member("text", text->str()).end_object();
        } else if (type == "refusal" && role == "assistant") {
            b.begin_object()
                .member("type", "refusal")
                .member("refusal", string_at(part, "refusal"))
                .end_object();
        } else if (type == "input_image") {
            if (role != "user")
                return refuse(why, "chat completions takes images in user messages only",
                              at + ".type");
            if (member(part, "file_id"))
                return refuse(why,
                              "input_image by file_id needs OpenAI's file store; send image_url "
                              "(a URL or a data: URL)",
                              at + ".file_id");
            const json_node* url = member(part, "image_url");
            if (!url || !url->is_string())
                return refuse(why, "input_image needs a string image_url", at + ".image_url");
            b.begin_object().member("type", "image_url").key("image_url").begin_object();
            b.member("url", url->str());
            if (const json_node* detail = member(part, "detail"))
                b.key("detail").node(*detail);
            b.end_object().end_object();
        } else {
            return refuse(why,
                          "content part type `" + std::string(type) +
                              "` cannot be translated to chat completions",
                          at + ".type");
        }
    }
    b.end_array();
    return true;
}

// Chat completions keeps an assistant turn's text and its tool calls in one message, the
// Responses API in separate items: an assistant message item and the function_call items
// after it are gathered here and written as one message.
struct assistant_turn {
    bool open = false;
    std::string content;  ///< a JSON value, empty for null
    std::vector<std::string> calls;

    void flush(json_builder& messages) {
        if (!open)
            return;
        messages.begin_object().member("role", "assistant").key("content");
        if (content.empty())
            messages.null();
        else
            messages.raw(content);
        if (!calls.empty()) {
            messages.key("tool_calls").begin_array();
            for (const std::string& c : calls)
                messages.raw(c);
            messages.end_array();
        }
        messages.end_object();
        *this = {};
    }
};

bool write_input_items(json_builder& messages, const json_node& input, refusal& why) {
    assistant_turn turn;
    std::size_t i = 0;
    for (const json_node& item : input) {
        const std::string at = indexed("input", i++);
        if (!item.is_object())
            return refuse(why, "an input item must be an object", at);
        const json_node* type_node = member(item, "type");
        std::string_view type = type_node && type_node->is_string() ? type_node->str() : "";
        if (type_node && !type_node->is_string())
            return refuse(why, "an input item's type must be a string", at + ".type");
        if (!type_node && member(item, "role"))
            type = "message";

        if (type == "message") {
            std::string_view role = string_at(item, "role");
            if (role == "developer")
                role = "system";  // every chat upstream knows system; not all know developer
            if (role != "user" && role != "assistant" && role != "system")
                return refuse(why, "role must be user, assistant, system or developer",
                              at + ".role");
            const json_node* content = member(item, "content");
            if (!content)
                return refuse(why, "a message item needs content", at + ".content");
            json_builder c;
            if (!write_content(c, *content, role, at + ".content", why))
                return false;
            if (role == "assistant") {
                turn.flush(messages);
                turn.open = true;
                turn.content = c.take();
                continue;
            }
            turn.flush(messages);
            messages.begin_object().member("role", role).key("content").raw(c.str());
            messages.end_object();
        } else if (type == "function_call") {
            const json_node* call_id = member(item, "call_id");
            const json_node* name = member(item, "name");
            const json_node* arguments = member(item, "arguments");
            if (!call_id || !call_id->is_string())
                return refuse(why, "a function_call item needs a string call_id", at + ".call_id");
            if (!name || !name->is_string())
                return refuse(why, "a function_call item needs a string name", at + ".name");
            if (arguments && !arguments->is_string())
                return refuse(why, "function_call arguments must be a JSON-encoded string",
                              at + ".arguments");
            json_builder c;
            c.begin_object().member("id", call_id->str()).member("type", "function");
            c.key("function").begin_object().member("name", name->str());
            c.member("arguments", arguments ? arguments->str() : std::string_view("{}"));
            c.end_object().end_object();
            turn.open = true;
            turn.calls.push_back(c.take());
        } else if (type == "function_call_output") {
            const json_node* call_id = member(item, "call_id");
            const json_node* output = member(item, "output");
            if (!call_id || !call_id->is_string())
                return refuse(why, "a function_call_output item needs a string call_id",
                              at + ".call_id");
            if (!output)
                return refuse(why, "a function_call_output item needs output", at + ".output");
            turn.flush(messages);
            messages.begin_object().member("role", "tool");
            messages.member("tool_call_id", call_id->str()).key("content");
            // Tool messages take text only: "tool" admits no image part in chat completions.
            if (!write_content(messages, *output, "tool", at + ".output", why))
                return false;
            messages.end_object();
        } else if (type == "reasoning") {
            continue;
        } else {
            return refuse(why,
                          "input item type `" + std::string(type) +
                              "` cannot be translated to chat completions",
                          at + ".type");
        }
    }
    turn.flush(messages);
    return true;
}

bool write_tools(json_builder& out, const json_node& tools, refusal& why) {
    if (!tools.is_array())
        return refuse(why, "tools must be a list", "tools");
    out.key("tools").begin_array();
    std::size_t i = 0;
    for (const json_node& tool : tools) {
        const std::string at = indexed("tools", i++);
        std::string_view type = string_at(tool, "type");
        if (type != "function")
            return refuse(why,
                          "tool type `" + std::string(type) +
                              "` runs inside OpenAI's Responses service; only function tools "
                              "translate to chat completions",
                          at + ".type");
        const json_node* name = member(tool, "name");
        if (!name || !name->is_string())
            return refuse(why, "a function tool needs a string name", at + ".name");
        out.begin_object().member("type", "function").key("function").begin_object();
        out.member("name", name->str());
        for (std::string_view k : {"description", "parameters", "strict"})
            if (const json_node* v = member(tool, k))
                out.key(k).node(*v);
        out.end_object().end_object();
    }
    out.end_array();
    return true;
}

bool write_tool_choice(json_builder& out, const json_node& choice, refusal& why) {
    if (choice.is_string()) {
        std::string_view s = choice.str();
        if (s != "auto" && s != "none" && s != "required")
            return refuse(why, "tool_choice must be auto, none or required", "tool_choice");
        out.key("tool_choice").string(s);
        return true;
    }
    std::string_view type = string_at(choice, "type");
    if (type != "function")
        return refuse(why,
                      "tool_choice `" + std::string(type) +
                          "` cannot be translated; name a function or use auto, none or "
                          "required",
                      "tool_choice");
    const json_node* name = member(choice, "name");
    if (!name || !name->is_string())
        return refuse(why, "a function tool_choice needs a string name", "tool_choice.name");
    out.key("tool_choice").begin_object().member("type", "function");
    out.key("function").begin_object().member("name", name->str()).end_object().end_object();
    return true;
}

bool write_text(json_builder& out, const json_node& text, refusal& why) {
    if (!text.is_object())
        return refuse(why, "text must be an object", "text");
    for (const json_node& m : text) {
        if (m.key() != "format" && m.key() != "verbosity" && !m.is_null())
            return refuse(why, "text." + std::string(m.key()) + " is not supported",
                          "text." + std::string(m.key()));
    }
    if (const json_node* verbosity = member(text, "verbosity"))
        out.key("verbosity").node(*verbosity);
    const json_node* format = member(text, "format");
    if (!format)
        return true;
    std::string_view type = string_at(*format, "type");
    if (type == "text")
        return true;
    if (type == "json_object") {
        out.key("response_format").begin_object().member("type", "json_object").end_object();
        return true;
    }
    if (type != "json_schema")
        return refuse(why, "text.format type must be text, json_object or json_schema",
                      "text.format.type");
    const json_node* name = member(*format, "name");
    const json_node* schema = member(*format, "schema");
    if (!name || !name->is_string())
        return refuse(why, "a json_schema format needs a string name", "text.format.name");
    if (!schema)
        return refuse(why, "a json_schema format needs a schema", "text.format.schema");
    out.key("response_format").begin_object().member("type", "json_schema");
    out.key("json_schema").begin_object().member("name", name->str());
    out.key("schema").node(*schema);
    for (std::string_view k : {"strict", "description"})
        if (const json_node* v = member(*format, k))
            out.key(k).node(*v);
    out.end_object().end_object();
    return true;
}

bool write_reasoning(json_builder& out, const json_node& reasoning, refusal& why) {
    if (!reasoning.is_object())
        return refuse(why, "reasoning must be an object", "reasoning");
    for (const json_node& m : reasoning) {
        std::string_view k = m.key();
        if (k != "effort" && k != "summary" && k != "generate_summary" && !m.is_null())
            return refuse(why, "reasoning." + std::string(k) + " is not supported",
                          "reasoning." + std::string(k));
    }
    if (const json_node* effort = member(reasoning, "effort"))
        out.key("reasoning_effort").node(*effort);
    return true;
}

bool is_one_of(std::string_view k, std::initializer_list<std::string_view> names) {
    for (std::string_view n : names)
        if (k == n)
            return true;
    return false;
}

}  // namespace

std::optional<std::string> request_to_chat(std::string_view body, refusal& why) {
    core::json_dom dom;
    if (!dom.parse(body)) {
        refuse(why, "the body is not valid JSON: " + dom.error(), "");
        return std::nullopt;
    }
    const json_node& root = dom.root();
    if (!root.is_object()) {
        refuse(why, "the body must be a JSON object", "");
        return std::nullopt;
    }

    for (const json_node& m : root) {
        std::string_view k = m.key();
        if (m.is_null())
            continue;
        if (is_one_of(k, {"model",
                          "input",
                          "instructions",
                          "tools",
                          "tool_choice",
                          "max_output_tokens",
                          "text",
                          "reasoning",
                          "stream",
                          "temperature",
                          "top_p",
                          "parallel_tool_calls",
                          "user",
                          "metadata",
                          "service_tier",
                          "prompt_cache_key",
                          "prompt_cache_retention",
                          "safety_identifier",
                          "store",
                          "include",
                          "truncation",
                          "stream_options"}))
            continue;
        std::string key(k);
        if (k == "previous_response_id") {
            refuse(why,
                   "previous_response_id needs a stored response; this gateway translates over "
                   "chat completions and stores none",
                   key);
        } else if (k == "conversation") {
            refuse(why,
                   "conversation needs stored conversation state; this gateway translates over "
                   "chat completions and stores none",
                   key);
        } else if (k == "background") {
            if (m.is_boolean() && !m.boolean())
                continue;
            refuse(why, "background responses need a response store; this gateway keeps none", key);
        } else if (k == "prompt") {
            refuse(why, "prompt templates are stored at OpenAI; send instructions and input", key);
        } else {
            refuse(why, "`" + key + "` cannot be translated to chat completions", key);
        }
        return std::nullopt;
    }

    const json_node* model = member(root, "model");
    if (!model || !model->is_string() || model->str().empty()) {
        refuse(why, "model is required", "model");
        return std::nullopt;
    }
    const json_node* input = member(root, "input");
    if (!input || !(input->is_string() || input->is_array())) {
        refuse(why, "input is required: a string or a list of items", "input");
        return std::nullopt;
    }

    json_builder out(body.size() + 128);
    out.begin_object().member("model", model->str()).key("messages").begin_array();
    if (const json_node* instructions = member(root, "instructions")) {
        if (!instructions->is_string()) {
            refuse(why, "instructions must be a string", "instructions");
            return std::nullopt;
        }
        out.begin_object().member("role", "system").member("content", instructions->str());
        out.end_object();
    }
    if (input->is_string()) {
        out.begin_object().member("role", "user").member("content", input->str()).end_object();
    } else if (!write_input_items(out, *input, why)) {
        return std::nullopt;
    }
    out.end_array();

    if (const json_node* tools = member(root, "tools"); tools && !write_tools(out, *tools, why))
        return std::nullopt;
    if (const json_node* choice = member(root, "tool_choice");
        choice && !write_tool_choice(out, *choice, why))
        return std::nullopt;
    if (const json_node* text = member(root, "text"); text && !write_text(out, *text, why))
        return std::nullopt;
    if (const json_node* reasoning = member(root, "reasoning");
        reasoning && !write_reasoning(out, *reasoning, why))
        return std::nullopt;
    if (const json_node* max = member(root, "max_output_tokens"))
        out.key("max_tokens").node(*max);
    for (std::string_view k :
         {"temperature", "top_p", "parallel_tool_calls", "user", "metadata", "service_tier",
          "prompt_cache_key", "prompt_cache_retention", "safety_identifier"})
        if (const json_node* v = member(root, k))
            out.key(k).node(*v);
    if (const json_node* stream = member(root, "stream")) {
        if (!stream->is_boolean()) {
            refuse(why, "stream must be a boolean", "stream");
            return std::nullopt;
        }
        if (stream->boolean()) {
            out.member("stream", true).key("stream_options").begin_object();
            out.member("include_usage", true).end_object();
        }
    }
    out.end_object();
    return out.take();
}

// ---------------------------------------------------------------------------------------
// Answer

namespace {

struct out_part {
    bool refusal = false;
    std::string text;
};

struct out_item {
    bool call = false;
    std::string id;
    std::vector<out_part> parts;  ///< message
    std::string call_id, name, arguments;
};

struct usage_numbers {
    bool present = false;
    std::uint64_t input = 0, cached = 0, output = 0, reasoning = 0, total = 0;

    void read(const json_node& usage) {
        present = true;
        input = count_at(&usage, "prompt_tokens");
        output = count_at(&usage, "completion_tokens");
        cached = count_at(member(usage, "prompt_tokens_details"), "cached_tokens");
        reasoning = count_at(member(usage, "completion_tokens_details"), "reasoning_tokens");
        total = member(usage, "total_tokens") ? count_at(&usage, "total_tokens") : input + output;
    }
};

struct response_state {
    std::string id_base;  ///< request id reduced to id-safe characters
    std::string model;
    std::int64_t created = 0;
    std::vector<out_item> items;
    usage_numbers usage;
    std::string finish_reason;
    std::string error;  ///< an upstream error message: the response failed
};

std::string id_base(std::string_view request_id, std::string_view fallback) {
    std::string base;
    for (std::string_view src : {request_id, fallback}) {
        for (char c : src)
            if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                c == '-' || c == '_')
                base += c;
        if (!base.empty())
            return base;
    }
    return "0";
}

void write_part(json_builder& b, const out_part& p) {
    b.begin_object();
    if (p.refusal)
        b.member("type", "refusal").member("refusal", p.text);
    else
        b.member("type", "output_text")
            .member("text", p.text)
            .key("annotations")
            .begin_array()
            .end_array();
    b.end_object();
}

void write_item(json_builder& b, const out_item& item, std::string_view status, bool with_parts) {
    b.begin_object();
    if (item.call) {
        b.member("type", "function_call").member("id", item.id).member("call_id", item.call_id);
        b.member("name", item.name).member("arguments", item.arguments);
        b.member("status", status);
    } else {
        b.member("type", "message").member("id", item.id).member("status", status);
        b.member("role", "assistant").key("content").begin_array();
        if (with_parts)
            for (const out_part& p : item.parts)
                write_part(b, p);
        b.end_array();
    }
    b.end_object();
}

// The status a finished response gets, and the reason when it is incomplete (empty when none
// of the Responses API's reasons applies: a cut stream).
std::string_view final_status(const response_state& s, bool complete,
                              std::string_view& incomplete_reason) {
    incomplete_reason = {};
    if (!s.error.empty())
        return "failed";
    if (s.finish_reason == "length") {
        incomplete_reason = "max_output_tokens";
        return "incomplete";
    }
    if (s.finish_reason == "content_filter") {
        incomplete_reason = "content_filter";
        return "incomplete";
    }
    return complete ? "completed" : "incomplete";
}

// The fields the SDKs read. Request echoes (tools, tool_choice, temperature, …) are left
// out: the answer translation does not see the request, and a made-up echo would mislead.
void write_response(json_builder& b, const response_state& s, std::string_view status,
                    std::string_view incomplete_reason) {
    b.begin_object().member("id", "resp_" + s.id_base).member("object", "response");
    b.key("created_at").number(s.created).member("status", status).key("error");
    if (status == "failed") {
        b.begin_object().member("code", "server_error").member("message", s.error);
        b.end_object();
    } else {
        b.null();
    }
    b.key("incomplete_details");
    if (!incomplete_reason.empty())
        b.begin_object().member("reason", incomplete_reason).end_object();
    else
        b.null();
    b.member("model", s.model).key("output").begin_array();
    std::string_view item_status = status == "in_progress" ? "in_progress"
                                   : status == "completed" ? "completed"
                                                           : "incomplete";
    for (const out_item& item : s.items)
        write_item(b, item, item_status, true);
    b.end_array().key("usage");
    if (s.usage.present) {
        const usage_numbers& u = s.usage;
        b.begin_object().member("input_tokens", u.input).key("input_tokens_details");
        b.begin_object().member("cached_tokens", u.cached).end_object();
        b.member("output_tokens", u.output).key("output_tokens_details").begin_object();
        b.member("reasoning_tokens", u.reasoning).end_object();
        b.member("total_tokens", u.total).end_object();
    } else {
        b.null();
    }
    b.end_object();
}

}  // namespace

std::optional<std::string> answer_from_chat(std::string_view chat, const answer_context& ac) {
    core::json_dom dom;
    if (!dom.parse(chat) || !dom.root().is_object())
        return std::nullopt;
    const json_node& root = dom.root();
    const json_node* choices = member(root, "choices");
    if (!choices || !choices->is_array())
        return std::nullopt;

    response_state s;
    s.id_base = id_base(ac.request_id, string_at(root, "id"));
    s.model = std::string(string_at(root, "model"));
    if (s.model.empty())
        s.model = std::string(ac.model);
    s.created = ac.created;
    if (const json_node* usage = member(root, "usage"); usage && usage->is_object())
        s.usage.read(*usage);

    if (!choices->empty()) {
        const json_node& choice = *choices->begin();
        s.finish_reason = std::string(string_at(choice, "finish_reason"));
        if (const json_node* message = member(choice, "message")) {
            out_item msg;
            msg.id = "msg_" + s.id_base;
            if (std::string_view text = string_at(*message, "content"); !text.empty())
                msg.parts.push_back({false, std::string(text)});
            if (std::string_view text = string_at(*message, "refusal"); !text.empty())
                msg.parts.push_back({true, std::string(text)});
            if (!msg.parts.empty())
                s.items.push_back(std::move(msg));
            if (const json_node* calls = member(*message, "tool_calls");
                calls && calls->is_array()) {
                std::size_t i = 0;
                for (const json_node& call : *calls) {
                    out_item fc;
                    fc.call = true;
                    fc.id = "fc_" + s.id_base + "_" + std::to_string(i);
                    fc.call_id = std::string(string_at(call, "id"));
                    if (fc.call_id.empty())
                        fc.call_id = "call_" + s.id_base + "_" + std::to_string(i);
                    if (const json_node* fn = member(call, "function")) {
                        fc.name = std::string(string_at(*fn, "name"));
                        fc.arguments = std::string(string_at(*fn, "arguments"));
                    }
                    s.items.push_back(std::move(fc));
                    ++i;
                }
            }
        }
    }

    std::string_view reason;
    std::string_view status = final_status(s, true, reason);
    json_builder b(chat.size() + 512);
    write_response(b, s, status, reason);
    return b.take();
}

// ---------------------------------------------------------------------------------------
// Stream

namespace {

class stream final : public stream_translator {
  public:
    explicit stream(const answer_context& ac) : model_fallback_(ac.model) {
        s_.id_base = id_base(ac.request_id, "");
        s_.created = ac.created;
    }

    void chunk(const json_node& chunk, std::string& out) override {
        if (!started_) {
            s_.model = std::string(string_at(chunk, "model"));
            start(out);
        }
        if (const json_node* usage = member(chunk, "usage"); usage && usage->is_object())
            s_.usage.read(*usage);
        if (const json_node* error = member(chunk, "error")) {
            s_.error = std::string(string_at(*error, "message"));
            if (s_.error.empty())
                s_.error = "the upstream stream reported an error";
        }
        const json_node* choices = member(chunk, "choices");
        if (!choices || !choices->is_array())
            return;
        for (const json_node& choice : *choices) {
            // A Responses request cannot ask for n > 1; other choices would be noise.
            if (count_at(&choice, "index") != 0)
                continue;
            if (std::string_view fr = string_at(choice, "finish_reason"); !fr.empty())
                s_.finish_reason = std::string(fr);
            const json_node* delta = member(choice, "delta");
            if (!delta)
                continue;
            if (std::string_view text = string_at(*delta, "content"); !text.empty())
                part_delta(false, text, out);
            if (std::string_view text = string_at(*delta, "refusal"); !text.empty())
                part_delta(true, text, out);
            if (const json_node* calls = member(*delta, "tool_calls"); calls && calls->is_array())
                for (const json_node& call : *calls)
                    call_delta(call, out);
        }
    }

    void finish(bool complete, std::string& out) override {
        if (!started_)
            start(out);
        std::string_view reason;
        std::string_view status = final_status(s_, complete, reason);
        std::string_view item_status = status == "completed" ? "completed" : "incomplete";
        for (std::size_t i = 0; i < s_.items.size(); ++i) {
            const out_item& item = s_.items[i];
            if (item.call) {
                json_builder b = event("response.function_call_arguments.done");
                b.member("item_id", item.id).member("output_index", std::uint64_t{i});
                b.member("name", item.name).member("arguments", item.arguments);
                emit(b, out);
            } else {
                for (std::size_t j = 0; j < item.parts.size(); ++j) {
                    const out_part& p = item.parts[j];
                    json_builder b =
                        event(p.refusal ? "response.refusal.done" : "response.output_text.done");
                    b.member("item_id", item.id).member("output_index", std::uint64_t{i});
                    b.member("content_index", std::uint64_t{j});
                    if (p.refusal) {
                        b.member("refusal", p.text);
                    } else {
                        b.member("text", p.text).key("logprobs").begin_array().end_array();
                    }
                    emit(b, out);
                    json_builder d = event("response.content_part.done");
                    d.member("item_id", item.id).member("output_index", std::uint64_t{i});
                    d.member("content_index", std::uint64_t{j}).key("part");
                    write_part(d, p);
                    emit(d, out);
                }
            }
            json_builder b = event("response.output_item.done");
            b.member("output_index", std::uint64_t{i}).key("item");
            write_item(b, item, item_status, true);
            emit(b, out);
        }
        std::string type = "response." + std::string(status);
        json_builder b = event(type);
        b.key("response");
        write_response(b, s_, status, reason);
        emit(b, out);
    }

  private:
    json_builder event(std::string_view type) {
        type_ = type;
        json_builder b(256);
        b.begin_object().member("type", type).member("sequence_number", sequence_++);
        return b;
    }

    // Closes the data object opened by event() and frames it as one SSE event.
    void emit(json_builder& b, std::string& out) {
        b.end_object();
        out += "event: ";
        out += type_;
        out += "\ndata: ";
        out += b.str();
        out += "\n\n";
    }

    void start(std::string& out) {
        started_ = true;
        if (s_.model.empty())
            s_.model = model_fallback_;
        for (std::string_view type : {"response.created", "response.in_progress"}) {
            json_builder b = event(type);
            b.key("response");
            write_response(b, s_, "in_progress", {});
            emit(b, out);
        }
    }

    void item_added(const out_item& item, std::size_t index, std::string& out) {
        json_builder b = event("response.output_item.added");
        b.member("output_index", std::uint64_t{index}).key("item");
        write_item(b, item, "in_progress", false);
        emit(b, out);
    }

    void part_delta(bool refusal, std::string_view text, std::string& out) {
        if (message_ < 0) {
            message_ = static_cast<int>(s_.items.size());
            out_item msg;
            msg.id = "msg_" + s_.id_base;
            s_.items.push_back(std::move(msg));
            item_added(s_.items.back(), static_cast<std::size_t>(message_), out);
        }
        out_item& msg = s_.items[static_cast<std::size_t>(message_)];
        int& part = refusal ? refusal_part_ : text_part_;
        if (part < 0) {
            part = static_cast<int>(msg.parts.size());
            msg.parts.push_back({refusal, {}});
            json_builder b = event("response.content_part.added");
            b.member("item_id", msg.id).member("output_index", std::uint64_t(message_));
            b.member("content_index", std::uint64_t(part)).key("part");
            write_part(b, msg.parts.back());
            emit(b, out);
        }
        msg.parts[static_cast<std::size_t>(part)].text += text;
        json_builder b = event(refusal ? "response.refusal.delta" : "response.output_text.delta");
        b.member("item_id", msg.id).member("output_index", std::uint64_t(message_));
        b.member("content_index", std::uint64_t(part)).member("delta", text);
        if (!refusal)
            b.key("logprobs").begin_array().end_array();
        emit(b, out);
    }

    void call_delta(const json_node& call, std::string& out) {
        const std::uint64_t index = count_at(&call, "index");
        const json_node* fn = member(call, "function");
        std::string_view name = fn ? string_at(*fn, "name") : std::string_view{};
        std::string_view arguments = fn ? string_at(*fn, "arguments") : std::string_view{};
        std::size_t at = 0;
        while (at < calls_.size() && calls_[at].first != index)
            ++at;
        if (at == calls_.size()) {
            out_item fc;
            fc.call = true;
            const std::string n = std::to_string(calls_.size());
            fc.id = "fc_" + s_.id_base + "_" + n;
            fc.call_id = std::string(string_at(call, "id"));
            if (fc.call_id.empty())
                fc.call_id = "call_" + s_.id_base + "_" + n;
            fc.name = std::string(name);
            calls_.emplace_back(index, s_.items.size());
            s_.items.push_back(std::move(fc));
            item_added(s_.items.back(), s_.items.size() - 1, out);
        } else if (std::string& known = s_.items[calls_[at].second].name;
                   !name.empty() && name != known) {
            // Some upstreams repeat the whole name on every delta, a few send it in pieces;
            // the done item carries it whole either way.
            known += name;
        }
        if (arguments.empty())
            return;
        const std::size_t item = calls_[at].second;
        s_.items[item].arguments += arguments;
        json_builder b = event("response.function_call_arguments.delta");
        b.member("item_id", s_.items[item].id).member("output_index", std::uint64_t{item});
        b.member("delta", arguments);
        emit(b, out);
    }

    response_state s_;
    std::string model_fallback_;
    std::string type_;  ///< of the event being built
    bool started_ = false;
    std::uint64_t sequence_ = 0;
    int message_ = -1;  ///< output index of the message item
    int text_part_ = -1, refusal_part_ = -1;
    std::vector<std::pair<std::uint64_t, std::size_t>> calls_;  ///< chat index → output index
};

}  // namespace

std::unique_ptr<stream_translator> make_stream(const answer_context& ac) {
    return std::make_unique<stream>(ac);
}

}  // namespace ditto::dialect::responses
