#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "ditto/core/json_builder.hpp"
#include "ditto/core/json_dom.hpp"
#include "ditto/core/strings.hpp"
#include "translators.hpp"

// Anthropic Messages (POST /v1/messages) over a chat-completions upstream.
//
// Request fields that are translated: model, max_tokens, system, messages, tools, tool_choice,
// stop_sequences → stop, temperature, top_p, metadata.user_id → user, stream (with
// stream_options.include_usage), thinking → reasoning_effort, output_config.effort →
// reasoning_effort, output_config.format → response_format, service_tier.
//
// Request fields that are ignored, and why none of them changes what the model is asked:
//   top_k                  chat completions has no top-k sampling parameter.
//   cache_control          (top level, on blocks, on tools) Anthropic's prompt-cache hints;
//                          chat upstreams cache prefixes on their own.
//   container              state for the code-execution tool, which is refused.
//   context_management     server-side clearing of old tool results; without it the whole
//                          history is sent, which is what the client sent us.
//   inference_geo          Anthropic data-residency routing; the gateway's routing decides.
//   user_profile_id        Anthropic account feature with no chat counterpart.
//   metadata.* but user_id Anthropic defines no other metadata member.
//   citations, title, context on blocks; defer_loading, input_examples,
//   eager_input_streaming, allowed_callers on tools: Anthropic-side presentation and tool
//   loading hints with no chat counterpart.
//   any other unknown member: SDKs add extras (betas, extra_body); none is forwarded.
//
// Refused (400 invalid_request_error naming the field): server tools (tools[i].type other than
// "custom"), mcp_servers, document / search_result / server_tool_use / *_tool_result /
// container_upload and unknown content blocks, image sources other than base64 and url,
// images inside tool results, a missing model, max_tokens or messages.
//
// Approximated: a stop on one of stop_sequences is reported as end_turn with stop_sequence
// null (chat's finish_reason "stop" does not say which sequence matched); several text
// blocks of an assistant turn become one string joined with "\n"; a trailing assistant
// message (Anthropic "prefill") is sent as is and chat upstreams may or may not continue it.

namespace ditto::dialect::anthropic {

namespace {

using core::json_builder;
using core::json_dom;
using core::json_node;

/// The member `k`, or null when it is absent or JSON null (the SDKs send null for unset
/// optional members).
const json_node* get(const json_node& o, std::string_view k) {
    const json_node* n = o.find(k);
    return n != nullptr && !n->is_null() ? n : nullptr;
}

std::string_view str_of(const json_node* n) {
    return n != nullptr && n->is_string() ? n->str() : std::string_view{};
}

std::string at(std::string_view base, std::size_t i) {
    std::string s(base);
    s += '[';
    s += std::to_string(i);
    s += ']';
    return s;
}

bool refuse(refusal& why, std::string param, std::string_view message) {
    // Anthropic's wording: "<field>: <problem>".
    why.message.clear();
    if (!param.empty()) {
        why.message = param;
        why.message += ": ";
    }
    why.message += message;
    why.param = std::move(param);
    return false;
}

/// A JSON value as compact text (tool input → chat's `arguments` string).
std::string compact(const json_node& n) {
    json_builder b(64);
    b.node(n);
    return b.take();
}

// ---------------------------------------------------------------------------------------------
// Request

class request_writer {
  public:
    explicit request_writer(refusal& why) : why_(why) {}

    bool run(const json_node& root) {
        if (!root.is_object())
            return refuse(why_, "", "the body must be a JSON object");
        const json_node* model = get(root, "model");
        if (model == nullptr)
            return refuse(why_, "model", "Field required");
        if (!model->is_string() || model->str().empty())
            return refuse(why_, "model", "Input should be a non-empty string");
        const json_node* max_tokens = get(root, "max_tokens");
        if (max_tokens == nullptr)
            return refuse(why_, "max_tokens", "Field required");
        if (!max_tokens->is_number_unsigned() || max_tokens->u64() == 0)
            return refuse(why_, "max_tokens",
                          "Input should be a valid integer greater than or equal to 1");
        const json_node* messages = get(root, "messages");
        if (messages == nullptr)
            return refuse(why_, "messages", "Field required");
        if (!messages->is_array())
            return refuse(why_, "messages", "Input should be a valid list");
        if (messages->empty())
            return refuse(why_, "messages", "at least one message is required");
        if (const json_node* mcp = get(root, "mcp_servers"); mcp != nullptr && !mcp->empty())
            return refuse(why_, "mcp_servers",
                          "MCP servers are run by Anthropic's API and cannot be translated to "
                          "chat completions");

        b_.begin_object();
        b_.member("model", model->str());
        b_.key("messages").begin_array();
        if (!system(root))
            return false;
        std::size_t i = 0;
        for (const json_node& m : *messages) {
            if (!message(m, i))
                return false;
            ++i;
        }
        b_.end_array();
        b_.key("max_tokens").number(max_tokens->u64());
        if (!sampling(root) || !tools(root) || !thinking(root))
            return false;
        b_.end_object();
        return true;
    }

    std::string take() { return b_.take(); }

  private:
    bool system(const json_node& root) {
        const json_node* s = get(root, "system");
        if (s == nullptr)
            return true;
        std::string text;
        if (s->is_string()) {
            text = s->str();
        } else if (s->is_array()) {
            // Chat has one system prompt: the blocks are joined as Anthropic concatenates them.
            std::size_t j = 0;
            for (const json_node& blk : *s) {
                if (str_of(get(blk, "type")) != "text" || !is_string(get(blk, "text")))
                    return refuse(why_, at("system", j) + ".type",
                                  "system blocks must be text blocks");
                if (!text.empty())
                    text += '\n';
                text += get(blk, "text")->str();
                ++j;
            }
        } else {
            return refuse(why_, "system", "Input should be a string or a list of text blocks");
        }
        // An empty system prompt is the same as none; some upstreams reject an empty message.
        if (!text.empty())
            b_.begin_object().member("role", "system").member("content", text).end_object();
        return true;
    }

    static bool is_string(const json_node* n) { return n != nullptr && n->is_string(); }

    /// Anthropic block types the chat translation cannot carry (refused, never dropped).
    static bool untranslatable(std::string_view type) {
        return type == "document" || type == "search_result" || type == "server_tool_use" ||
               type == "container_upload" || (type.size() > 12 && type.ends_with("_tool_result"));
    }

    bool message(const json_node& m, std::size_t i) {
        const std::string base = at("messages", i);
        if (!m.is_object())
            return refuse(why_, base, "Input should be an object");
        const std::string_view role = str_of(get(m, "role"));
        const json_node* content = get(m, "content");
        if (content == nullptr)
            return refuse(why_, base + ".content", "Field required");
        if (!content->is_string() && !content->is_array())
            return refuse(why_, base + ".content", "Input should be a string or a list of blocks");
        if (role == "user")
            return user(*content, base);
        if (role == "assistant")
            return assistant(*content, base);
        return refuse(why_, base + ".role", "Input should be 'user' or 'assistant'");
    }

    bool user(const json_node& content, const std::string& base) {
        if (content.is_string()) {
            b_.begin_object().member("role", "user").member("content", content.str()).end_object();
            return true;
        }
        // First pass: validate every block and emit the tool results, which chat requires
        // right after the assistant message that holds the tool_calls, so they go before
        // whatever text or images the same Anthropic message carries.
        std::size_t parts = 0;
        bool only_text = true;
        std::size_t j = 0;
        for (const json_node& blk : content) {
            const std::string bp = at(base + ".content", j++);
            const std::string_view type = str_of(get(blk, "type"));
            if (type == "tool_result") {
                if (!tool_result(blk, bp))
                    return false;
            } else if (type == "text") {
                if (!is_string(get(blk, "text")))
                    return refuse(why_, bp + ".text", "Field required");
                ++parts;
            } else if (type == "image") {
                if (!image_url(blk, bp, nullptr))
                    return false;
                ++parts;
                only_text = false;
            } else if (type == "tool_use" || type == "thinking" || type == "redacted_thinking") {
                return refuse(why_, bp + ".type",
                              std::string(type) + " blocks are only allowed in assistant messages");
            } else {
                return unsupported(type, bp);
            }
        }
        if (parts == 0)
            return true;
        b_.begin_object().member("role", "user").key("content");
        if (only_text && parts == 1) {
            for (const json_node& blk : content)
                if (str_of(get(blk, "type")) == "text")
                    b_.string(get(blk, "text")->str());
        } else {
            b_.begin_array();
            for (const json_node& blk : content) {
                const std::string_view type = str_of(get(blk, "type"));
                if (type == "text") {
                    b_.begin_object()
                        .member("type", "text")
                        .member("text", get(blk, "text")->str())
                        .end_object();
                } else if (type == "image") {
                    b_.begin_object().member("type", "image_url").key("image_url").begin_object();
                    image_url(blk, {}, &b_);
                    b_.end_object().end_object();
                }
            }
            b_.end_array();
        }
        b_.end_object();
        return true;
    }

    bool unsupported(std::string_view type, const std::string& bp) {
        if (type.empty())
            return refuse(why_, bp + ".type", "Field required");
        if (untranslatable(type))
            return refuse(why_, bp + ".type",
                          std::string(type) +
                              " blocks cannot be translated to chat completions by the gateway");
        return refuse(why_, bp + ".type", "unknown content block type '" + std::string(type) + "'");
    }

    /// Validates an image block (out null) or writes its `"url":…` member (out set).
    bool image_url(const json_node& blk, const std::string& bp, json_builder* out) {
        const json_node* src = get(blk, "source");
        if (src == nullptr || !src->is_object())
            return refuse(why_, bp + ".source", "Field required");
        const std::string_view type = str_of(get(*src, "type"));
        if (type == "base64") {
            const json_node* media = get(*src, "media_type");
            const json_node* data = get(*src, "data");
            if (!is_string(media))
                return refuse(why_, bp + ".source.media_type", "Field required");
            if (!is_string(data))
                return refuse(why_, bp + ".source.data", "Field required");
            if (out != nullptr) {
                std::string url = "data:";
                url += media->str();
                url += ";base64,";
                url += data->str();
                out->member("url", url);
            }
            return true;
        }
        if (type == "url") {
            const json_node* url = get(*src, "url");
            if (!is_string(url))
                return refuse(why_, bp + ".source.url", "Field required");
            if (out != nullptr)
                out->member("url", url->str());
            return true;
        }
        // "file" names an upload in Anthropic's Files API, which the upstream cannot read.
        return refuse(why_, bp + ".source.type",
                      "image sources other than base64 and url cannot be translated");
    }

    bool tool_result(const json_node& blk, const std::string& bp) {
        const json_node* id = get(blk, "tool_use_id");
        if (!is_string(id))
            return refuse(why_, bp + ".tool_use_id", "Field required");
        std::string text;
        if (const json_node* c = get(blk, "content"); c != nullptr) {
            if (c->is_string()) {
                text = c->str();
            } else if (c->is_array()) {
                // Chat tool messages are text; several text blocks are joined with "\n" (a
                // plain string is what every chat upstream accepts for role "tool").
                std::size_t k = 0;
                for (const json_node& part : *c) {
                    const std::string pp = at(bp + ".content", k++);
                    const std::string_view type = str_of(get(part, "type"));
                    if (type != "text")
                        return refuse(why_, pp + ".type",
                                      type.empty() ? std::string("Field required")
                                                   : std::string(type) +
                                                         " blocks in a tool result cannot be "
                                                         "translated to chat completions");
                    if (!is_string(get(part, "text")))
                        return refuse(why_, pp + ".text", "Field required");
                    if (k > 1)
                        text += '\n';
                    text += get(part, "text")->str();
                }
            } else {
                return refuse(why_, bp + ".content", "Input should be a string or a list");
            }
        }
        // is_error has no chat counterpart. The content is kept as is: an error result's
        // text already says what failed, and a prefix would make the model see something a
        // native Anthropic backend would not show it. Only an error result without any text
        // gets the word "error", so the failure is not lost entirely.
        const json_node* is_error = get(blk, "is_error");
        if (text.empty() && is_error != nullptr && is_error->is_boolean() && is_error->boolean())
            text = "error";
        b_.begin_object()
            .member("role", "tool")
            .member("tool_call_id", id->str())
            .member("content", text)
            .end_object();
        return true;
    }

    bool assistant(const json_node& content, const std::string& base) {
        if (content.is_string()) {
            b_.begin_object()
                .member("role", "assistant")
                .member("content", content.str())
                .end_object();
            return true;
        }
        std::string text;
        bool has_text = false;
        std::size_t calls = 0;
        std::size_t j = 0;
        for (const json_node& blk : content) {
            const std::string bp = at(base + ".content", j++);
            const std::string_view type = str_of(get(blk, "type"));
            if (type == "text") {
                if (!is_string(get(blk, "text")))
                    return refuse(why_, bp + ".text", "Field required");
                if (has_text)
                    text += '\n';
                text += get(blk, "text")->str();
                has_text = true;
            } else if (type == "tool_use") {
                if (!is_string(get(blk, "id")))
                    return refuse(why_, bp + ".id", "Field required");
                if (!is_string(get(blk, "name")))
                    return refuse(why_, bp + ".name", "Field required");
                ++calls;
            } else if (type == "thinking" || type == "redacted_thinking") {
                // Dropped: a chat upstream has no field to take reasoning back in, and its
                // signature only means something to Anthropic. The model sees the turn's text
                // and tool calls, as it would after Anthropic strips earlier thinking.
            } else if (type == "image" || type == "tool_result") {
                return refuse(why_, bp + ".type",
                              std::string(type) + " blocks are not allowed in assistant messages");
            } else {
                return unsupported(type, bp);
            }
        }
        b_.begin_object().member("role", "assistant").key("content");
        // Content null is chat's "only tool calls"; an assistant turn with nothing left (only
        // thinking) keeps its place as "" so the user/assistant alternation is unchanged.
        if (has_text || calls == 0)
            b_.string(text);
        else
            b_.null();
        if (calls > 0) {
            b_.key("tool_calls").begin_array();
            for (const json_node& blk : content) {
                if (str_of(get(blk, "type")) != "tool_use")
                    continue;
                const json_node* input = get(blk, "input");
                std::string args;
                if (input == nullptr)
                    args = "{}";
                else if (input->is_string())
                    args = input->str();  // arguments the upstream sent that were not JSON
                else
                    args = compact(*input);
                b_.begin_object()
                    .member("id", get(blk, "id")->str())
                    .member("type", "function")
                    .key("function")
                    .begin_object()
                    .member("name", get(blk, "name")->str())
                    .member("arguments", args)
                    .end_object()
                    .end_object();
            }
            b_.end_array();
        }
        b_.end_object();
        return true;
    }

    bool sampling(const json_node& root) {
        for (std::string_view k : {"temperature", "top_p"}) {
            if (const json_node* v = get(root, k); v != nullptr) {
                if (!v->is_number())
                    return refuse(why_, std::string(k), "Input should be a valid number");
                b_.key(k).node(*v);
            }
        }
        if (const json_node* s = get(root, "stop_sequences"); s != nullptr) {
            if (!s->is_array())
                return refuse(why_, "stop_sequences", "Input should be a valid list");
            std::size_t j = 0;
            for (const json_node& e : *s) {
                if (!e.is_string())
                    return refuse(why_, at("stop_sequences", j), "Input should be a valid string");
                ++j;
            }
            if (!s->empty())
                b_.key("stop").node(*s);
        }
        if (const json_node* md = get(root, "metadata"); md != nullptr) {
            if (!md->is_object())
                return refuse(why_, "metadata", "Input should be an object");
            if (const json_node* u = get(*md, "user_id"); u != nullptr) {
                if (!u->is_string())
                    return refuse(why_, "metadata.user_id", "Input should be a valid string");
                b_.member("user", u->str());
            }
        }
        if (const json_node* st = get(root, "service_tier"); st != nullptr) {
            if (!st->is_string())
                return refuse(why_, "service_tier", "Input should be a valid string");
            // Anthropic's "standard_only" (never the priority tier) is OpenAI's "default";
            // "auto" means the same in both.
            b_.member("service_tier", st->str() == "standard_only" ? "default" : st->str());
        }
        if (const json_node* s = get(root, "stream"); s != nullptr) {
            if (!s->is_boolean())
                return refuse(why_, "stream", "Input should be a valid boolean");
            if (s->boolean()) {
                b_.member("stream", true);
                b_.key("stream_options").begin_object().member("include_usage", true).end_object();
            }
        }
        return true;
    }

    bool tools(const json_node& root) {
        const json_node* tools = get(root, "tools");
        std::size_t count = 0;
        if (tools != nullptr) {
            if (!tools->is_array())
                return refuse(why_, "tools", "Input should be a valid list");
            std::size_t i = 0;
            for (const json_node& t : *tools) {
                const std::string tp = at("tools", i++);
                if (!t.is_object())
                    return refuse(why_, tp, "Input should be an object");
                const json_node* type = get(t, "type");
                if (type != nullptr && (!type->is_string() || type->str() != "custom"))
                    return refuse(why_, tp + ".type",
                                  "server tool '" + std::string(str_of(type)) +
                                      "' runs inside Anthropic's API and cannot be translated "
                                      "to chat completions");
                if (!is_string(get(t, "name")))
                    return refuse(why_, tp + ".name", "Field required");
                const json_node* schema = get(t, "input_schema");
                if (schema == nullptr || !schema->is_object())
                    return refuse(why_, tp + ".input_schema", "Field required");
                const json_node* desc = get(t, "description");
                if (desc != nullptr && !desc->is_string())
                    return refuse(why_, tp + ".description", "Input should be a valid string");
            }
            count = i;
        }
        // OpenAI rejects an empty tools list and tool_choice / parallel_tool_calls without
        // tools; with no tools every choice means "answer in text", which chat does anyway.
        if (count > 0) {
            b_.key("tools").begin_array();
            for (const json_node& t : *tools) {
                b_.begin_object().member("type", "function").key("function").begin_object();
                b_.member("name", get(t, "name")->str());
                if (const json_node* d = get(t, "description"); d != nullptr)
                    b_.member("description", d->str());
                b_.key("parameters").node(*get(t, "input_schema"));
                if (const json_node* s = get(t, "strict"); s != nullptr && s->is_boolean())
                    b_.member("strict", s->boolean());
                b_.end_object().end_object();
            }
            b_.end_array();
        }
        const json_node* tc = get(root, "tool_choice");
        if (tc == nullptr)
            return true;
        if (!tc->is_object())
            return refuse(why_, "tool_choice", "Input should be an object");
        const std::string_view type = str_of(get(*tc, "type"));
        const json_node* name = get(*tc, "name");
        if (type == "tool" && !is_string(name))
            return refuse(why_, "tool_choice.name", "Field required");
        if (type != "auto" && type != "any" && type != "tool" && type != "none")
            return refuse(why_, "tool_choice.type",
                          "Input should be 'auto', 'any', 'tool' or 'none'");
        if (count == 0)
            return true;
        b_.key("tool_choice");
        if (type == "auto")
            b_.string("auto");
        else if (type == "any")
            b_.string("required");
        else if (type == "none")
            b_.string("none");
        else
            b_.begin_object()
                .member("type", "function")
                .key("function")
                .begin_object()
                .member("name", name->str())
                .end_object()
                .end_object();
        const json_node* dp = get(*tc, "disable_parallel_tool_use");
        if (dp != nullptr && dp->is_boolean() && dp->boolean() && type != "none")
            b_.member("parallel_tool_calls", false);
        return true;
    }

    /// Thinking and effort: chat's only reasoning control is reasoning_effort.
    bool thinking(const json_node& root) {
        std::string_view effort;
        if (const json_node* t = get(root, "thinking"); t != nullptr) {
            const std::string_view type = str_of(get(*t, "type"));
            if (type == "enabled") {
                const json_node* budget = get(*t, "budget_tokens");
                if (budget == nullptr || !budget->is_number_unsigned())
                    return refuse(why_, "thinking.budget_tokens", "Field required");
                // A token budget becomes the nearest effort level: below 4096 tokens is a
                // light pass, below 16384 a moderate one, anything larger a deep one.
                const std::uint64_t n = budget->u64();
                effort = n < 4096 ? "low" : n < 16384 ? "medium" : "high";
            } else if (type != "disabled" && type != "adaptive") {
                // "disabled" is chat's default; "adaptive" leaves the depth to the model,
                // which is what chat does without reasoning_effort.
                return refuse(why_, "thinking.type",
                              "Input should be 'enabled', 'disabled' or 'adaptive'");
            }
        }
        if (const json_node* oc = get(root, "output_config"); oc != nullptr) {
            if (!oc->is_object())
                return refuse(why_, "output_config", "Input should be an object");
            if (const json_node* e = get(*oc, "effort"); e != nullptr) {
                const std::string_view v = str_of(e);
                // An explicit effort wins over a thinking budget. Chat's scale ends at
                // "high", so Anthropic's "xhigh" and "max" become "high".
                if (v == "low" || v == "medium" || v == "high")
                    effort = v;
                else if (v == "xhigh" || v == "max")
                    effort = "high";
                else
                    return refuse(why_, "output_config.effort",
                                  "Input should be 'low', 'medium', 'high', 'xhigh' or 'max'");
            }
            if (const json_node* f = get(*oc, "format"); f != nullptr) {
                const json_node* schema = get(*f, "schema");
                if (str_of(get(*f, "type")) != "json_schema")
                    return refuse(why_, "output_config.format.type",
                                  "Input should be 'json_schema'");
                if (schema == nullptr || !schema->is_object())
                    return refuse(why_, "output_config.format.schema", "Field required");
                // Chat requires a name for the schema; Anthropic has none.
                b_.key("response_format")
                    .begin_object()
                    .member("type", "json_schema")
                    .key("json_schema")
                    .begin_object()
                    .member("name", "output")
                    .key("schema")
                    .node(*schema)
                    .end_object()
                    .end_object();
            }
        }
        if (!effort.empty())
            b_.member("reasoning_effort", effort);
        return true;
    }

    refusal& why_;
    json_builder b_{1024};
};

// ---------------------------------------------------------------------------------------------
// Answers

std::string message_id(const answer_context& ac, std::string_view chat_id) {
    std::string id = "msg_";
    if (!ac.request_id.empty())
        id += ac.request_id;
    else if (!chat_id.empty())
        id += chat_id;
    else
        id += "gateway";
    return id;
}

std::string_view stop_reason(std::string_view finish, bool refused) {
    if (finish == "length")
        return "max_tokens";
    if (finish == "tool_calls" || finish == "function_call")
        return "tool_use";
    if (finish == "content_filter" || refused)
        return "refusal";
    return "end_turn";
}

struct usage_counts {
    std::uint64_t prompt = 0;
    std::uint64_t completion = 0;
    std::uint64_t cached = 0;

    void read(const json_node& u) {
        auto num = [](const json_node* n) {
            return n != nullptr && n->is_number_unsigned() ? n->u64() : std::uint64_t{0};
        };
        prompt = num(get(u, "prompt_tokens"));
        completion = num(get(u, "completion_tokens"));
        const json_node* details = get(u, "prompt_tokens_details");
        cached = details != nullptr ? num(get(*details, "cached_tokens")) : 0;
    }
    /// Anthropic's input_tokens excludes the cache reads that OpenAI's prompt_tokens
    /// includes; readers add input + cache_read + cache_creation back together.
    std::uint64_t input() const { return prompt > cached ? prompt - cached : 0; }
};

/// A tool call's `arguments` as Anthropic's `input`: the parsed JSON; {} for empty arguments
/// (models send "" for tools without parameters); arguments that are not JSON (a truncated
/// answer) stay visible as a JSON string rather than becoming {} and running the tool with
/// nothing. The request translation sends a string input back as the arguments text.
void tool_input(json_builder& b, std::string_view args) {
    if (core::trim(args).empty()) {
        b.begin_object().end_object();
        return;
    }
    json_dom dom;
    if (dom.parse(args))
        b.node(dom.root());
    else
        b.string(args);
}

void sse(std::string& out, std::string_view event, std::string_view json) {
    out += "event: ";
    out += event;
    out += "\ndata: ";
    out += json;
    out += "\n\n";
}

class stream final : public stream_translator {
  public:
    explicit stream(const answer_context& ac) : request_id_(ac.request_id), model_(ac.model) {}

    void chunk(const json_node& c, std::string& out) override {
        if (finished_ || !c.is_object())
            return;
        if (!started_)
            start(c, out);
        if (const json_node* u = get(c, "usage"); u != nullptr && u->is_object())
            usage_.read(*u);
        const json_node* choices = get(c, "choices");
        if (choices == nullptr || !choices->is_array())
            return;
        for (const json_node& ch : *choices) {
            // The request never asks for n > 1: only the first choice is the answer.
            if (const json_node* ix = get(ch, "index");
                ix != nullptr && ix->is_number_integer() && ix->i64() != 0)
                continue;
            if (const json_node* d = get(ch, "delta"); d != nullptr && d->is_object())
                delta(*d, out);
            if (const json_node* f = get(ch, "finish_reason"); f != nullptr && f->is_string())
                finish_reason_ = f->str();
        }
    }

    void finish(bool complete, std::string& out) override {
        if (finished_)
            return;
        finished_ = true;
        if (!complete) {
            // Anthropic's own mid-stream failure: an error event, no message_delta/stop, so
            // the SDK raises instead of returning a message that looks complete.
            sse(out, "error",
                R"({"type":"error","error":{"type":"api_error","message":"upstream stream ended early"}})");
            return;
        }
        if (!started_)
            start_with({}, out);
        close_open(out);
        json_builder b(256);
        b.begin_object()
            .member("type", "message_delta")
            .key("delta")
            .begin_object()
            .member("stop_reason", stop_reason(finish_reason_, refused_))
            .key("stop_sequence")
            .null()
            .end_object()
            .key("usage")
            .begin_object()
            .member("output_tokens", usage_.completion)
            .member("input_tokens", usage_.input())
            .member("cache_read_input_tokens", usage_.cached)
            .end_object()
            .end_object();
        sse(out, "message_delta", b.str());
        sse(out, "message_stop", R"({"type":"message_stop"})");
    }

  private:
    enum class block : std::uint8_t { none, text, tool };

    void start(const json_node& c, std::string& out) {
        if (const json_node* m = get(c, "model");
            m != nullptr && m->is_string() && !m->str().empty())
            model_ = std::string(m->str());
        start_with(str_of(get(c, "id")), out);
    }

    void start_with(std::string_view chat_id, std::string& out) {
        started_ = true;
        answer_context ac;
        ac.request_id = request_id_;
        id_ = message_id(ac, chat_id);
        json_builder b(256);
        // The input count is only known from the usage chunk at the end; message_delta
        // carries it (as Anthropic's API does for counts that change during the turn).
        b.begin_object()
            .member("type", "message_start")
            .key("message")
            .begin_object()
            .member("id", id_)
            .member("type", "message")
            .member("role", "assistant")
            .member("model", model_)
            .key("content")
            .begin_array()
            .end_array()
            .key("stop_reason")
            .null()
            .key("stop_sequence")
            .null()
            .key("usage")
            .begin_object()
            .member("input_tokens", std::uint64_t{0})
            .member("output_tokens", std::uint64_t{0})
            .end_object()
            .end_object()
            .end_object();
        sse(out, "message_start", b.str());
        sse(out, "ping", R"({"type":"ping"})");
    }

    void close_open(std::string& out) {
        if (open_ == block::none)
            return;
        json_builder b(64);
        b.begin_object()
            .member("type", "content_block_stop")
            .member("index", open_index_)
            .end_object();
        sse(out, "content_block_stop", b.str());
        open_ = block::none;
    }

    std::uint64_t open_block(block kind, std::string& out) {
        close_open(out);
        open_ = kind;
        open_index_ = next_index_++;
        return open_index_;
    }

    void text(std::string_view t, std::string& out) {
        if (t.empty())
            return;
        if (open_ != block::text) {
            open_block(block::text, out);
            json_builder b(96);
            b.begin_object()
                .member("type", "content_block_start")
                .member("index", open_index_)
                .key("content_block")
                .begin_object()
                .member("type", "text")
                .member("text", "")
                .end_object()
                .end_object();
            sse(out, "content_block_start", b.str());
        }
        json_builder b(t.size() + 96);
        b.begin_object()
            .member("type", "content_block_delta")
            .member("index", open_index_)
            .key("delta")
            .begin_object()
            .member("type", "text_delta")
            .member("text", t)
            .end_object()
            .end_object();
        sse(out, "content_block_delta", b.str());
    }

    void delta(const json_node& d, std::string& out) {
        text(str_of(get(d, "content")), out);
        // A refusal (OpenAI structured outputs) is the answer's text, and the stop reason says so.
        if (const std::string_view r = str_of(get(d, "refusal")); !r.empty()) {
            refused_ = true;
            text(r, out);
        }
        if (const json_node* calls = get(d, "tool_calls"); calls != nullptr && calls->is_array()) {
            std::uint64_t position = 0;
            for (const json_node& tc : *calls) {
                const json_node* ix = get(tc, "index");
                const std::uint64_t key =
                    ix != nullptr && ix->is_number_unsigned() ? ix->u64() : position;
                ++position;
                tool_delta(key, str_of(get(tc, "id")), get(tc, "function"), out);
            }
        }
        // The deprecated single function_call of older upstreams: one call, no id.
        if (const json_node* fc = get(d, "function_call"); fc != nullptr && fc->is_object())
            tool_delta(legacy_call, {}, fc, out);
    }

    static constexpr std::uint64_t legacy_call = ~std::uint64_t{0};

    void tool_delta(std::uint64_t key, std::string_view call_id, const json_node* fn,
                    std::string& out) {
        auto it = tools_.find(key);
        if (it == tools_.end()) {
            // A new call opens its tool_use block at once with the id and name of its first
            // delta (OpenAI sends both there), so nothing waits for later chunks.
            const std::uint64_t index = open_block(block::tool, out);
            it = tools_.emplace(key, index).first;
            std::string id(call_id);
            if (id.empty())
                id = "toolu_" + id_.substr(4) + "_" + std::to_string(index);
            json_builder b(128);
            b.begin_object()
                .member("type", "content_block_start")
                .member("index", index)
                .key("content_block")
                .begin_object()
                .member("type", "tool_use")
                .member("id", id)
                .member("name", fn != nullptr ? str_of(get(*fn, "name")) : std::string_view{})
                .key("input")
                .begin_object()
                .end_object()
                .end_object()
                .end_object();
            sse(out, "content_block_start", b.str());
        }
        const std::string_view args = fn != nullptr ? str_of(get(*fn, "arguments")) : "";
        if (args.empty())
            return;
        // A piece for a call whose block was already closed (an upstream interleaving
        // parallel calls) still goes out with that block's index: the SDK accumulates deltas
        // by index, and holding it back would delay the stream.
        json_builder b(args.size() + 112);
        b.begin_object()
            .member("type", "content_block_delta")
            .member("index", it->second)
            .key("delta")
            .begin_object()
            .member("type", "input_json_delta")
            .member("partial_json", args)
            .end_object()
            .end_object();
        sse(out, "content_block_delta", b.str());
    }

    std::string request_id_;
    std::string model_;
    std::string id_;
    std::string finish_reason_;
    usage_counts usage_;
    std::map<std::uint64_t, std::uint64_t> tools_;  ///< chat tool call index → block index
    std::uint64_t next_index_ = 0;
    std::uint64_t open_index_ = 0;
    block open_ = block::none;
    bool started_ = false;
    bool finished_ = false;
    bool refused_ = false;
};

// ---------------------------------------------------------------------------------------------
// Errors

std::string_view error_type(unsigned status) {
    switch (status) {
        case 400:
            return "invalid_request_error";
        case 401:
            return "authentication_error";
        case 402:
            return "billing_error";
        case 403:
            return "permission_error";
        case 404:
            return "not_found_error";
        case 413:
            return "request_too_large";
        case 429:
            return "rate_limit_error";
        case 504:
            return "timeout_error";
        case 529:
            // Anthropic's own "overloaded" status; 503 stays api_error because an upstream
            // 503 is as often a dead backend as a busy one.
            return "overloaded_error";
        default:
            break;
    }
    return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
}

/// At most `max` bytes of `text`, cut on a character boundary, with every byte that is not
/// part of valid UTF-8 replaced by U+FFFD (the error body must be valid JSON text).
std::string utf8_prefix(std::string_view text, std::size_t max) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        std::size_t len = lead < 0x80         ? 1
                          : (lead >> 5) == 6  ? 2
                          : (lead >> 4) == 14 ? 3
                          : (lead >> 3) == 30 ? 4
                                              : 0;
        std::string_view piece = "\xEF\xBF\xBD";  // U+FFFD for a byte that starts nothing valid
        if (len != 0 && i + len <= text.size() && core::is_valid_utf8(text.substr(i, len)))
            piece = text.substr(i, len);
        else
            len = 1;
        if (out.size() + piece.size() > max)
            break;
        out += piece;
        i += len;
    }
    return out;
}

}  // namespace

std::optional<std::string> request_to_chat(std::string_view body, refusal& why) {
    json_dom dom;
    if (!dom.parse(body)) {
        why.param.clear();
        why.message = "the body is not valid JSON: " + dom.error();
        return std::nullopt;
    }
    request_writer w(why);
    if (!w.run(dom.root()))
        return std::nullopt;
    return w.take();
}

std::optional<std::string> answer_from_chat(std::string_view chat, const answer_context& ac) {
    json_dom dom;
    if (!dom.parse(chat))
        return std::nullopt;
    const json_node& root = dom.root();
    const json_node* choices = get(root, "choices");
    if (choices == nullptr || !choices->is_array() || choices->empty())
        return std::nullopt;
    const json_node& choice = *choices->begin();
    const json_node* msg = get(choice, "message");
    if (msg == nullptr || !msg->is_object())
        return std::nullopt;

    const std::string id = message_id(ac, str_of(get(root, "id")));
    std::string_view model = str_of(get(root, "model"));
    if (model.empty())
        model = ac.model;

    json_builder b(1024);
    b.begin_object()
        .member("id", id)
        .member("type", "message")
        .member("role", "assistant")
        .member("model", model)
        .key("content")
        .begin_array();
    if (const std::string_view text = str_of(get(*msg, "content")); !text.empty())
        b.begin_object().member("type", "text").member("text", text).end_object();
    // OpenAI's structured refusal is the answer's text; stop_reason "refusal" says what it is.
    const std::string_view refusal_text = str_of(get(*msg, "refusal"));
    if (!refusal_text.empty())
        b.begin_object().member("type", "text").member("text", refusal_text).end_object();
    std::size_t n = 0;
    auto tool_use = [&](const json_node* call_id, const json_node& fn) {
        std::string tid(str_of(call_id));
        if (tid.empty())
            tid = "toolu_" + id.substr(4) + "_" + std::to_string(n);
        ++n;
        b.begin_object()
            .member("type", "tool_use")
            .member("id", tid)
            .member("name", str_of(get(fn, "name")))
            .key("input");
        tool_input(b, str_of(get(fn, "arguments")));
        b.end_object();
    };
    if (const json_node* calls = get(*msg, "tool_calls"); calls != nullptr && calls->is_array()) {
        for (const json_node& tc : *calls) {
            const json_node* fn = get(tc, "function");
            // Only function calls exist here: the request translation declares no other tools.
            if (fn != nullptr && fn->is_object())
                tool_use(get(tc, "id"), *fn);
        }
    }
    // The deprecated single function_call of older upstreams.
    if (const json_node* fc = get(*msg, "function_call"); fc != nullptr && fc->is_object())
        tool_use(nullptr, *fc);
    b.end_array();

    usage_counts usage;
    if (const json_node* u = get(root, "usage"); u != nullptr && u->is_object())
        usage.read(*u);
    b.member("stop_reason",
             stop_reason(str_of(get(choice, "finish_reason")), !refusal_text.empty()))
        .key("stop_sequence")
        .null()
        .key("usage")
        .begin_object()
        .member("input_tokens", usage.input())
        .member("output_tokens", usage.completion)
        .member("cache_read_input_tokens", usage.cached)
        .member("cache_creation_input_tokens", std::uint64_t{0})
        .end_object()
        .end_object();
    return b.take();
}

std::unique_ptr<stream_translator> make_stream(const answer_context& ac) {
    return std::make_unique<stream>(ac);
}

std::string error_from_openai(unsigned status, std::string_view openai_json) {
    std::string message;
    const json_node* code = nullptr;
    json_dom dom;
    if (dom.parse(openai_json) && dom.root().is_object()) {
        if (const json_node* e = get(dom.root(), "error"); e != nullptr) {
            if (e->is_object()) {
                message = str_of(get(*e, "message"));
                code = get(*e, "code");
                if (code != nullptr && !code->is_string() && !code->is_number())
                    code = nullptr;
            } else if (e->is_string()) {
                message = e->str();  // {"error":"…"} of some OpenAI-compatible servers
            }
        }
    }
    if (message.empty() && code == nullptr)
        message = utf8_prefix(core::trim(openai_json), 1000);
    if (message.empty())
        message = "upstream error (HTTP " + std::to_string(status) + ")";

    json_builder b(message.size() + 96);
    b.begin_object()
        .member("type", "error")
        .key("error")
        .begin_object()
        .member("type", error_type(status))
        .member("message", message);
    // Not part of Anthropic's shape: the upstream's code kept for operators (the SDKs ignore
    // members they do not know).
    if (code != nullptr)
        b.key("code").node(*code);
    b.end_object().end_object();
    return b.take();
}

}  // namespace ditto::dialect::anthropic
