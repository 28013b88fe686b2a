#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "ditto/core/json_dom.hpp"
#include "ditto/dialect/dialect.hpp"

// Anthropic Messages ⇄ chat completions, through the public dialect functions. Shapes are
// checked against what the official SDK's MessageStream accumulator expects (blocks indexed
// in the order they start, input_json_delta pieces concatenated per index).

namespace {

using nlohmann::json;
namespace dl = ditto::dialect;

// ---------------------------------------------------------------------------------------------
// Helpers

json to_chat(const json& body) {
    dl::refusal why;
    const auto out = dl::request_to_chat(dl::kind::anthropic, body.dump(), {}, why);
    EXPECT_TRUE(out.has_value()) << why.param << " " << why.message;
    return out ? json::parse(*out) : json();
}

dl::refusal refused(std::string_view body) {
    dl::refusal why;
    const auto out = dl::request_to_chat(dl::kind::anthropic, body, {}, why);
    EXPECT_FALSE(out.has_value()) << *out;
    EXPECT_FALSE(why.message.empty());
    return why;
}

dl::refusal refused(const json& body) {
    return refused(std::string_view(body.dump()));
}

json base_request() {
    return {{"model", "claude-x"},
            {"max_tokens", 256},
            {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
}

json user_blocks(json blocks) {
    json r = base_request();
    r["messages"] = json::array({{{"role", "user"}, {"content", std::move(blocks)}}});
    return r;
}

dl::answer_context ctx(std::string_view request_id = "req1", std::string_view model = "asked") {
    dl::answer_context ac;
    ac.request_id = request_id;
    ac.model = model;
    ac.created = 1700000000;
    return ac;
}

json answer(const json& chat, const dl::answer_context& ac = ctx()) {
    const auto out = dl::answer_from_chat(dl::kind::anthropic, chat.dump(), ac);
    EXPECT_TRUE(out.has_value());
    return out ? json::parse(*out) : json();
}

json chat_answer(json message, json finish = "stop", json usage = nullptr) {
    json c = {{"id", "chatcmpl-1"},
              {"object", "chat.completion"},
              {"created", 1},
              {"model", "gpt-up"},
              {"choices", json::array({{{"index", 0},
                                        {"message", std::move(message)},
                                        {"finish_reason", std::move(finish)}}})}};
    if (!usage.is_null())
        c["usage"] = std::move(usage);
    return c;
}

struct event {
    std::string type;
    json data;
};

/// Splits SSE output into events, checking the exact framing on the way.
std::vector<event> parse_sse(const std::string& text) {
    std::vector<event> events;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t end = text.find("\n\n", pos);
        EXPECT_NE(end, std::string::npos) << "unterminated event at " << pos;
        if (end == std::string::npos)
            break;
        const std::string ev = text.substr(pos, end - pos);
        pos = end + 2;
        EXPECT_EQ(ev.rfind("event: ", 0), 0u) << ev;
        const std::size_t nl = ev.find('\n');
        EXPECT_NE(nl, std::string::npos) << ev;
        const std::string type = ev.substr(7, nl - 7);
        const std::string data_line = ev.substr(nl + 1);
        EXPECT_EQ(data_line.rfind("data: ", 0), 0u) << ev;
        EXPECT_EQ(data_line.find('\n'), std::string::npos) << "one data line: " << ev;
        json data = json::parse(data_line.substr(6));
        EXPECT_EQ(data.value("type", ""), type) << "event name matches data.type";
        events.push_back({type, std::move(data)});
    }
    return events;
}

/// Runs chunks through a translator; `complete` is passed to finish().
std::vector<event> run_stream(const std::vector<json>& chunks, bool complete = true,
                              const dl::answer_context& ac = ctx()) {
    auto t = dl::make_stream_translator(dl::kind::anthropic, ac);
    EXPECT_NE(t, nullptr);
    std::string out;
    for (const json& c : chunks) {
        const std::string text = c.dump();
        ditto::core::json_dom dom;
        EXPECT_TRUE(dom.parse(text));
        const std::size_t before = out.size();
        t->chunk(dom.root(), out);
        // Nothing held back: every chunk with a delta produces its event at once.
        const json choices = c.is_object() && c.contains("choices") && c["choices"].is_array()
                                 ? c["choices"]
                                 : json::array();
        const json delta = !choices.empty() && choices[0].is_object()
                               ? choices[0].value("delta", json::object())
                               : json::object();
        const bool has_text = delta.is_object() && delta.contains("content") &&
                              delta["content"].is_string() && delta["content"] != "";
        const bool has_calls = delta.is_object() && delta.contains("tool_calls") &&
                               delta["tool_calls"].is_array() && !delta["tool_calls"].empty();
        if (has_text || has_calls) {
            EXPECT_GT(out.size(), before) << c.dump();
        }
    }
    t->finish(complete, out);
    return parse_sse(out);
}

std::vector<std::string> types(const std::vector<event>& events) {
    std::vector<std::string> v;
    for (const auto& e : events)
        v.push_back(e.type);
    return v;
}

json chunk(json delta, json finish = nullptr) {
    return {
        {"id", "chatcmpl-9"},
        {"object", "chat.completion.chunk"},
        {"created", 1},
        {"model", "gpt-up"},
        {"choices",
         json::array(
             {{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}})}};
}

json usage_chunk(int prompt, int completion, int cached = -1) {
    json u = {{"prompt_tokens", prompt},
              {"completion_tokens", completion},
              {"total_tokens", prompt + completion}};
    if (cached >= 0)
        u["prompt_tokens_details"] = {{"cached_tokens", cached}};
    return {{"id", "chatcmpl-9"},
            {"object", "chat.completion.chunk"},
            {"model", "gpt-up"},
            {"choices", json::array()},
            {"usage", u}};
}

/// The SDK's MessageStream accumulation (src/lib/MessageStream.ts #accumulateMessage),
/// reduced to the parts these tests use: fails the test where the SDK would throw.
json accumulate(const std::vector<event>& events) {
    json msg;
    std::vector<std::string> json_buf;
    for (const auto& e : events) {
        if (e.type == "message_start") {
            EXPECT_TRUE(msg.is_null()) << "message_start twice";
            msg = e.data["message"];
            continue;
        }
        if (e.type == "ping")
            continue;
        EXPECT_FALSE(msg.is_null()) << e.type << " before message_start";
        if (msg.is_null())
            return msg;
        if (e.type == "content_block_start") {
            EXPECT_EQ(e.data["index"], msg["content"].size()) << "blocks are indexed in order";
            msg["content"].push_back(e.data["content_block"]);
            json_buf.emplace_back();
        } else if (e.type == "content_block_delta") {
            const std::size_t i = e.data["index"];
            EXPECT_LT(i, msg["content"].size());
            if (i >= msg["content"].size())
                continue;
            json& block = msg["content"][i];
            const json& d = e.data["delta"];
            if (d["type"] == "text_delta") {
                EXPECT_EQ(block["type"], "text");
                block["text"] = block["text"].get<std::string>() + d["text"].get<std::string>();
            } else if (d["type"] == "input_json_delta") {
                EXPECT_EQ(block["type"], "tool_use");
                json_buf[i] += d["partial_json"].get<std::string>();
            } else {
                ADD_FAILURE() << "unexpected delta " << d.dump();
            }
        } else if (e.type == "content_block_stop") {
            // The SDK parses the pieces as they come (partial JSON); whole, they must parse.
            const std::size_t i = e.data["index"];
            EXPECT_LT(i, msg["content"].size());
            if (i < msg["content"].size() && !json_buf[i].empty())
                msg["content"][i]["input"] = json::parse(json_buf[i]);
        } else if (e.type == "message_delta") {
            msg["stop_reason"] = e.data["delta"]["stop_reason"];
            msg["stop_sequence"] = e.data["delta"]["stop_sequence"];
            for (const auto& [k, v] : e.data["usage"].items())
                msg["usage"][k] = v;
        }
    }
    return msg;
}

// ---------------------------------------------------------------------------------------------
// Requests

TEST(AnthropicRequest, MinimalRequestMapsExactly) {
    const json out = to_chat(base_request());
    EXPECT_EQ(out, json::parse(R"({"model":"claude-x","messages":[{"role":"user","content":"hi"}],
                                   "max_tokens":256})"));
}

TEST(AnthropicRequest, SystemStringBecomesLeadingSystemMessage) {
    json r = base_request();
    r["system"] = "be brief";
    const json out = to_chat(r);
    ASSERT_EQ(out["messages"].size(), 2u);
    EXPECT_EQ(out["messages"][0], json::parse(R"({"role":"system","content":"be brief"})"));
    EXPECT_EQ(out["messages"][1]["role"], "user");
}

TEST(AnthropicRequest, SystemTextBlocksAreJoinedAndCacheControlIgnored) {
    json r = base_request();
    r["system"] = json::parse(R"([{"type":"text","text":"one"},
        {"type":"text","text":"two","cache_control":{"type":"ephemeral"}}])");
    const json out = to_chat(r);
    EXPECT_EQ(out["messages"][0], json::parse(R"({"role":"system","content":"one\ntwo"})"));
    EXPECT_EQ(out.dump().find("cache_control"), std::string::npos);
}

TEST(AnthropicRequest, EmptySystemIsNoMessage) {
    json r = base_request();
    r["system"] = "";
    EXPECT_EQ(to_chat(r)["messages"].size(), 1u);
}

TEST(AnthropicRequest, SystemWithNonTextBlockIsRefused) {
    json r = base_request();
    r["system"] = json::parse(R"([{"type":"text","text":"a"},{"type":"image"}])");
    EXPECT_EQ(refused(r).param, "system[1].type");
}

TEST(AnthropicRequest, SingleTextBlockBecomesPlainStringAndSeveralStayParts) {
    json out = to_chat(user_blocks(json::parse(R"([{"type":"text","text":"hello"}])")));
    EXPECT_EQ(out["messages"][0], json::parse(R"({"role":"user","content":"hello"})"));

    out = to_chat(
        user_blocks(json::parse(R"([{"type":"text","text":"a"},{"type":"text","text":"b"}])")));
    EXPECT_EQ(out["messages"][0]["content"],
              json::parse(R"([{"type":"text","text":"a"},{"type":"text","text":"b"}])"));
}

TEST(AnthropicRequest, ImagesBase64AndUrlBecomeImageUrlParts) {
    const json out = to_chat(user_blocks(json::parse(R"([
        {"type":"text","text":"what is this?"},
        {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0K"}},
        {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}])")));
    EXPECT_EQ(out["messages"][0], json::parse(R"({"role":"user","content":[
        {"type":"text","text":"what is this?"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0K"}},
        {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]})"));
}

TEST(AnthropicRequest, ImageAloneIsAPartsArray) {
    const json out = to_chat(user_blocks(json::parse(
        R"([{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}])")));
    EXPECT_TRUE(out["messages"][0]["content"].is_array());
}

TEST(AnthropicRequest, ImageWithFileSourceOrMissingDataIsRefused) {
    EXPECT_EQ(refused(user_blocks(json::parse(
                          R"([{"type":"image","source":{"type":"file","file_id":"f1"}}])")))
                  .param,
              "messages[0].content[0].source.type");
    EXPECT_EQ(
        refused(user_blocks(json::parse(
                    R"([{"type":"image","source":{"type":"base64","media_type":"image/png"}}])")))
            .param,
        "messages[0].content[0].source.data");
}

TEST(AnthropicRequest, ToolUseAndToolResultRoundTripInChatOrder) {
    json r = base_request();
    r["messages"] = json::parse(R"([
        {"role":"user","content":"weather in Paris and Rome?"},
        {"role":"assistant","content":[
            {"type":"thinking","thinking":"plan","signature":"sig"},
            {"type":"text","text":"Checking."},
            {"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Paris","days":[1,2]}},
            {"type":"tool_use","id":"toolu_2","name":"weather","input":{"city":"Rome"}}]},
        {"role":"user","content":[
            {"type":"text","text":"here you go"},
            {"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"},
            {"type":"tool_result","tool_use_id":"toolu_2","content":[
                {"type":"text","text":"rain"},{"type":"text","text":"12C"}]}]}])");
    const json out = to_chat(r);
    const json& m = out["messages"];
    ASSERT_EQ(m.size(), 5u) << m.dump();
    EXPECT_EQ(m[0], json::parse(R"({"role":"user","content":"weather in Paris and Rome?"})"));
    EXPECT_EQ(m[1]["role"], "assistant");
    EXPECT_EQ(m[1]["content"], "Checking.");
    ASSERT_EQ(m[1]["tool_calls"].size(), 2u);
    EXPECT_EQ(m[1]["tool_calls"][0]["id"], "toolu_1");
    EXPECT_EQ(m[1]["tool_calls"][0]["type"], "function");
    EXPECT_EQ(m[1]["tool_calls"][0]["function"]["name"], "weather");
    EXPECT_EQ(json::parse(m[1]["tool_calls"][0]["function"]["arguments"].get<std::string>()),
              json::parse(R"({"city":"Paris","days":[1,2]})"));
    EXPECT_EQ(m[1]["tool_calls"][1]["id"], "toolu_2");
    // Tool messages come right after the assistant turn, before the user's own text.
    EXPECT_EQ(m[2], json::parse(R"({"role":"tool","tool_call_id":"toolu_1","content":"sunny"})"));
    EXPECT_EQ(m[3],
              json::parse(R"({"role":"tool","tool_call_id":"toolu_2","content":"rain\n12C"})"));
    EXPECT_EQ(m[4], json::parse(R"({"role":"user","content":"here you go"})"));
    // The thinking block is gone (a chat upstream cannot take it back).
    EXPECT_EQ(out.dump().find("plan"), std::string::npos);
    EXPECT_EQ(out.dump().find("sig"), std::string::npos);
}

TEST(AnthropicRequest, UserMessageWithOnlyToolResultsHasNoUserMessage) {
    json r = base_request();
    r["messages"] = json::parse(R"([
        {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}}]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1"}]}])");
    const json m = to_chat(r)["messages"];
    ASSERT_EQ(m.size(), 2u);
    EXPECT_TRUE(m[0]["content"].is_null()) << "only tool calls: content null";
    EXPECT_EQ(m[0]["tool_calls"][0]["function"]["arguments"], "{}");
    EXPECT_EQ(m[1], json::parse(R"({"role":"tool","tool_call_id":"t1","content":""})"));
}

TEST(AnthropicRequest, ToolResultErrorKeepsContentAndEmptyErrorSaysError) {
    json out = to_chat(user_blocks(json::parse(
        R"([{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":"no such file"}])")));
    EXPECT_EQ(out["messages"][0]["content"], "no such file");
    out = to_chat(
        user_blocks(json::parse(R"([{"type":"tool_result","tool_use_id":"t1","is_error":true}])")));
    EXPECT_EQ(out["messages"][0]["content"], "error");
}

TEST(AnthropicRequest, ToolUseStringInputIsSentBackVerbatim) {
    // answer_from_chat keeps non-JSON arguments as a string input; they go back unchanged.
    json r = base_request();
    r["messages"] = json::parse(R"([{"role":"assistant","content":[
        {"type":"tool_use","id":"t1","name":"f","input":"{\"a\":"}]}])");
    EXPECT_EQ(to_chat(r)["messages"][0]["tool_calls"][0]["function"]["arguments"], "{\"a\":");
}

TEST(AnthropicRequest, AssistantWithOnlyThinkingKeepsAnEmptyTurn) {
    json r = base_request();
    r["messages"] = json::parse(R"([{"role":"user","content":"q"},
        {"role":"assistant","content":[{"type":"redacted_thinking","data":"xx"}]},
        {"role":"user","content":"again"}])");
    const json m = to_chat(r)["messages"];
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[1], json::parse(R"({"role":"assistant","content":""})"));
}

TEST(AnthropicRequest, AssistantStringContent) {
    json r = base_request();
    r["messages"] = json::parse(R"([{"role":"user","content":"q"},
        {"role":"assistant","content":"The answer is"}])");
    EXPECT_EQ(to_chat(r)["messages"][1],
              json::parse(R"({"role":"assistant","content":"The answer is"})"));
}

TEST(AnthropicRequest, CustomToolsBecomeFunctions) {
    json r = base_request();
    r["tools"] = json::parse(R"([
        {"name":"weather","description":"Get weather","input_schema":{"type":"object",
         "properties":{"city":{"type":"string"}},"required":["city"]},
         "cache_control":{"type":"ephemeral"}},
        {"type":"custom","name":"noop","input_schema":{"type":"object"},"strict":true}])");
    const json out = to_chat(r);
    EXPECT_EQ(out["tools"], json::parse(R"([
        {"type":"function","function":{"name":"weather","description":"Get weather",
         "parameters":{"type":"object","properties":{"city":{"type":"string"}},
         "required":["city"]}}},
        {"type":"function","function":{"name":"noop","parameters":{"type":"object"},
         "strict":true}}])"));
}

TEST(AnthropicRequest, ServerToolsAreRefusedWithTheirIndex) {
    for (const char* type : {"web_search_20250305", "bash_20250124", "text_editor_20250728",
                             "computer_20250124", "code_execution_20250825"}) {
        json r = base_request();
        r["tools"] = json::array({{{"name", "f"}, {"input_schema", {{"type", "object"}}}},
                                  {{"type", type}, {"name", "srv"}}});
        const dl::refusal why = refused(r);
        EXPECT_EQ(why.param, "tools[1].type") << type;
        EXPECT_NE(why.message.find(type), std::string::npos) << why.message;
    }
}

TEST(AnthropicRequest, ToolWithoutSchemaIsRefused) {
    json r = base_request();
    r["tools"] = json::parse(R"([{"name":"f"}])");
    EXPECT_EQ(refused(r).param, "tools[0].input_schema");
}

json with_tool_choice(json choice) {
    json r = base_request();
    r["tools"] = json::parse(R"([{"name":"f","input_schema":{"type":"object"}}])");
    r["tool_choice"] = std::move(choice);
    return r;
}

TEST(AnthropicRequest, EveryToolChoice) {
    EXPECT_EQ(to_chat(with_tool_choice({{"type", "auto"}}))["tool_choice"], "auto");
    EXPECT_EQ(to_chat(with_tool_choice({{"type", "any"}}))["tool_choice"], "required");
    EXPECT_EQ(to_chat(with_tool_choice({{"type", "none"}}))["tool_choice"], "none");
    EXPECT_EQ(to_chat(with_tool_choice({{"type", "tool"}, {"name", "f"}}))["tool_choice"],
              json::parse(R"({"type":"function","function":{"name":"f"}})"));
    const json out = to_chat(with_tool_choice({{"type", "auto"}}));
    EXPECT_FALSE(out.contains("parallel_tool_calls"));
}

TEST(AnthropicRequest, DisableParallelToolUse) {
    json out = to_chat(with_tool_choice({{"type", "any"}, {"disable_parallel_tool_use", true}}));
    EXPECT_EQ(out["parallel_tool_calls"], false);
    out = to_chat(with_tool_choice({{"type", "auto"}, {"disable_parallel_tool_use", false}}));
    EXPECT_FALSE(out.contains("parallel_tool_calls"));
}

TEST(AnthropicRequest, BadToolChoiceIsRefused) {
    EXPECT_EQ(refused(with_tool_choice({{"type", "sometimes"}})).param, "tool_choice.type");
    EXPECT_EQ(refused(with_tool_choice({{"type", "tool"}})).param, "tool_choice.name");
}

TEST(AnthropicRequest, ToolChoiceWithoutToolsIsLeftOut) {
    json r = base_request();
    r["tool_choice"] = {{"type", "none"}};
    r["tools"] = json::array();
    const json out = to_chat(r);
    EXPECT_FALSE(out.contains("tool_choice"));
    EXPECT_FALSE(out.contains("tools"));
}

TEST(AnthropicRequest, SamplingStopUserTierAndStream) {
    json r = base_request();
    r["stop_sequences"] = {"END", "###"};
    r["temperature"] = 0.5;
    r["top_p"] = 0.9;
    r["top_k"] = 40;
    r["metadata"] = {{"user_id", "u-42"}};
    r["service_tier"] = "auto";
    r["stream"] = true;
    r["betas"] = {"x"};  // SDK extra: not forwarded
    const json out = to_chat(r);
    EXPECT_EQ(out["stop"], json({"END", "###"}));
    EXPECT_EQ(out["temperature"], 0.5);
    EXPECT_EQ(out["top_p"], 0.9);
    EXPECT_EQ(out["user"], "u-42");
    EXPECT_EQ(out["service_tier"], "auto");
    EXPECT_EQ(out["stream"], true);
    EXPECT_EQ(out["stream_options"], json::parse(R"({"include_usage":true})"));
    for (const char* gone : {"top_k", "stop_sequences", "metadata", "betas"})
        EXPECT_FALSE(out.contains(gone)) << gone;
}

TEST(AnthropicRequest, StreamFalseAndStandardOnlyTier) {
    json r = base_request();
    r["stream"] = false;
    r["service_tier"] = "standard_only";
    const json out = to_chat(r);
    EXPECT_FALSE(out.contains("stream"));
    EXPECT_FALSE(out.contains("stream_options"));
    EXPECT_EQ(out["service_tier"], "default");
}

TEST(AnthropicRequest, ThinkingBudgetBecomesReasoningEffort) {
    const std::pair<int, const char*> cases[] = {
        {1024, "low"}, {4095, "low"}, {4096, "medium"}, {16383, "medium"}, {16384, "high"}};
    for (const auto& [budget, effort] : cases) {
        json r = base_request();
        r["thinking"] = {{"type", "enabled"}, {"budget_tokens", budget}};
        EXPECT_EQ(to_chat(r)["reasoning_effort"], effort) << budget;
    }
    json r = base_request();
    r["thinking"] = {{"type", "disabled"}};
    EXPECT_FALSE(to_chat(r).contains("reasoning_effort"));
    r["thinking"] = {{"type", "adaptive"}};
    EXPECT_FALSE(to_chat(r).contains("reasoning_effort"));
    r["thinking"] = {{"type", "enabled"}};
    EXPECT_EQ(refused(r).param, "thinking.budget_tokens");
    r["thinking"] = {{"type", "deep"}};
    EXPECT_EQ(refused(r).param, "thinking.type");
}

TEST(AnthropicRequest, OutputConfigEffortAndFormat) {
    json r = base_request();
    r["thinking"] = {{"type", "enabled"}, {"budget_tokens", 2000}};
    r["output_config"] = json::parse(R"({"effort":"max","format":{"type":"json_schema",
        "schema":{"type":"object","properties":{"a":{"type":"integer"}}}}})");
    const json out = to_chat(r);
    EXPECT_EQ(out["reasoning_effort"], "high") << "explicit effort wins over the budget";
    EXPECT_EQ(out["response_format"], json::parse(R"({"type":"json_schema","json_schema":{
        "name":"output","schema":{"type":"object","properties":{"a":{"type":"integer"}}}}})"));
}

TEST(AnthropicRequest, NullOptionalMembersAreAbsent) {
    json r = base_request();
    r["system"] = nullptr;
    r["temperature"] = nullptr;
    r["tools"] = nullptr;
    r["metadata"] = nullptr;
    EXPECT_EQ(to_chat(r), to_chat(base_request()));
}

TEST(AnthropicRequest, MissingMaxTokensIsRefusedLikeAnthropic) {
    json r = base_request();
    r.erase("max_tokens");
    const dl::refusal why = refused(r);
    EXPECT_EQ(why.param, "max_tokens");
    EXPECT_EQ(why.message, "max_tokens: Field required");
    r["max_tokens"] = "100";
    EXPECT_EQ(refused(r).param, "max_tokens");
    r["max_tokens"] = 0;
    EXPECT_EQ(refused(r).param, "max_tokens");
}

TEST(AnthropicRequest, MalformedBodiesAreRefused) {
    EXPECT_EQ(refused(std::string_view("{not json")).param, "");
    EXPECT_EQ(refused(std::string_view("[1,2]")).param, "");
    json r = base_request();
    r.erase("model");
    EXPECT_EQ(refused(r).param, "model");
    r = base_request();
    r.erase("messages");
    EXPECT_EQ(refused(r).param, "messages");
    r = base_request();
    r["messages"] = json::array();
    EXPECT_EQ(refused(r).param, "messages");
    r = base_request();
    r["messages"][0]["role"] = "system";
    EXPECT_EQ(refused(r).param, "messages[0].role");
    r = base_request();
    r["messages"][0]["content"] = 7;
    EXPECT_EQ(refused(r).param, "messages[0].content");
}

TEST(AnthropicRequest, UntranslatableBlocksAreRefusedWithTheirPath) {
    for (const char* type : {"document", "search_result", "server_tool_use",
                             "web_search_tool_result", "container_upload", "hologram"}) {
        const dl::refusal why = refused(
            user_blocks(json::array({{{"type", "text"}, {"text", "see"}}, {{"type", type}}})));
        EXPECT_EQ(why.param, "messages[0].content[1].type") << type;
        EXPECT_NE(why.message.find(type), std::string::npos) << why.message;
    }
}

TEST(AnthropicRequest, BlocksInTheWrongRoleAreRefused) {
    EXPECT_EQ(
        refused(user_blocks(json::parse(R"([{"type":"tool_use","id":"t","name":"f","input":{}}])")))
            .param,
        "messages[0].content[0].type");
    json r = base_request();
    r["messages"] = json::parse(R"([{"role":"user","content":"q"},{"role":"assistant",
        "content":[{"type":"text","text":"x"},{"type":"image","source":{"type":"url","url":"u"}}]}])");
    EXPECT_EQ(refused(r).param, "messages[1].content[1].type");
    r["messages"][1]["content"] = json::parse(R"([{"type":"document"}])");
    EXPECT_EQ(refused(r).param, "messages[1].content[0].type");
}

TEST(AnthropicRequest, ImageInToolResultIsRefused) {
    const dl::refusal why = refused(user_blocks(json::parse(R"([{"type":"tool_result",
        "tool_use_id":"t","content":[{"type":"text","text":"a"},
        {"type":"image","source":{"type":"url","url":"u"}}]}])")));
    EXPECT_EQ(why.param, "messages[0].content[0].content[1].type");
}

TEST(AnthropicRequest, McpServersAreRefused) {
    json r = base_request();
    r["mcp_servers"] = json::parse(R"([{"type":"url","url":"https://mcp","name":"m"}])");
    EXPECT_EQ(refused(r).param, "mcp_servers");
}

TEST(AnthropicRequest, OddShapesAreRefusedNotCrashed) {
    const char* bodies[] = {
        R"({"model":"m","max_tokens":1,"messages":[7]})",
        R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[7]}]})",
        R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":1}]}]})",
        R"({"model":"m","max_tokens":1,"messages":[{"role":"user"}]})",
        R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text"}]}]})",
        R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image"}]}]})",
        R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[
            {"type":"tool_result","tool_use_id":5}]}]})",
        R"({"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[
            {"type":"tool_use","name":"f"}]}]})",
        R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tools":{}})",
        R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tools":[1]})",
        R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"stop_sequences":[1]})",
        R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"temperature":"hot"})",
        R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tool_choice":"auto"})",
        R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"system":5})",
        R"({"model":7,"max_tokens":1,"messages":[]})",
        R"({"model":"m","max_tokens":-1,"messages":[]})",
        R"({"model":"m","max_tokens":1.5,"messages":[]})",
    };
    for (const char* body : bodies) {
        const dl::refusal why = refused(std::string_view(body));
        EXPECT_FALSE(why.param.empty()) << body;
    }
}

// ---------------------------------------------------------------------------------------------
// Buffered answers

TEST(AnthropicAnswer, TextAnswerMapsExactly) {
    const json out = answer(chat_answer({{"role", "assistant"}, {"content", "Hello!"}}, "stop",
                                        {{"prompt_tokens", 12}, {"completion_tokens", 3}}));
    EXPECT_EQ(out, json::parse(R"({"id":"msg_req1","type":"message","role":"assistant",
        "model":"gpt-up","content":[{"type":"text","text":"Hello!"}],"stop_reason":"end_turn",
        "stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":3,
        "cache_read_input_tokens":0,"cache_creation_input_tokens":0}})"));
}

TEST(AnthropicAnswer, ToolCallsBecomeToolUseWithParsedInput) {
    const json out = answer(chat_answer(json::parse(R"({"role":"assistant","content":"Let me look.",
        "tool_calls":[
          {"id":"call_a","type":"function","function":{"name":"weather",
           "arguments":"{\"city\":\"Paris\",\"n\":2.5}"}},
          {"id":"call_b","type":"function","function":{"name":"now","arguments":""}},
          {"id":"call_c","type":"function","function":{"name":"cut","arguments":"{\"a\":"}}]})"),
                                        "tool_calls"));
    ASSERT_EQ(out["content"].size(), 4u);
    EXPECT_EQ(out["content"][0], json::parse(R"({"type":"text","text":"Let me look."})"));
    EXPECT_EQ(out["content"][1], json::parse(R"({"type":"tool_use","id":"call_a","name":"weather",
        "input":{"city":"Paris","n":2.5}})"));
    EXPECT_EQ(out["content"][2]["input"], json::object()) << "empty arguments: no parameters";
    EXPECT_EQ(out["content"][3]["input"], "{\"a\":") << "non-JSON arguments stay visible";
    EXPECT_EQ(out["stop_reason"], "tool_use");
}

TEST(AnthropicAnswer, ToolCallOnlyHasNoTextBlockAndMissingIdsAreFilled) {
    const json out = answer(chat_answer(json::parse(R"({"role":"assistant","content":null,
        "tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]})"),
                                        "tool_calls"));
    ASSERT_EQ(out["content"].size(), 1u);
    EXPECT_EQ(out["content"][0]["type"], "tool_use");
    EXPECT_EQ(out["content"][0]["id"], "toolu_req1_0");
}

TEST(AnthropicAnswer, LegacyFunctionCall) {
    const json out = answer(chat_answer(json::parse(R"({"role":"assistant","content":null,
        "function_call":{"name":"f","arguments":"{\"x\":1}"}})"),
                                        "function_call"));
    EXPECT_EQ(out["content"][0]["name"], "f");
    EXPECT_EQ(out["content"][0]["input"], json::parse(R"({"x":1})"));
    EXPECT_EQ(out["stop_reason"], "tool_use");
}

TEST(AnthropicAnswer, EveryStopReason) {
    const std::pair<json, const char*> cases[] = {
        {"stop", "end_turn"},          {"length", "max_tokens"},      {"tool_calls", "tool_use"},
        {"function_call", "tool_use"}, {"content_filter", "refusal"}, {nullptr, "end_turn"},
        {"something_new", "end_turn"}};
    for (const auto& [finish, stop] : cases) {
        const json out = answer(chat_answer({{"role", "assistant"}, {"content", "x"}}, finish));
        EXPECT_EQ(out["stop_reason"], stop) << finish.dump();
        EXPECT_TRUE(out["stop_sequence"].is_null());
    }
}

TEST(AnthropicAnswer, StructuredRefusalIsTextWithStopReasonRefusal) {
    const json out = answer(chat_answer(
        {{"role", "assistant"}, {"content", nullptr}, {"refusal", "I can't help with that."}}));
    EXPECT_EQ(out["content"], json::parse(R"([{"type":"text","text":"I can't help with that."}])"));
    EXPECT_EQ(out["stop_reason"], "refusal");
}

TEST(AnthropicAnswer, CachedTokensAreSplitOutOfInputTokens) {
    const json out = answer(chat_answer({{"role", "assistant"}, {"content", "x"}}, "stop",
                                        json::parse(R"({"prompt_tokens":1000,"completion_tokens":40,
                "total_tokens":1040,"prompt_tokens_details":{"cached_tokens":768}})")));
    const json& u = out["usage"];
    EXPECT_EQ(u["input_tokens"], 232);
    EXPECT_EQ(u["cache_read_input_tokens"], 768);
    EXPECT_EQ(u["cache_creation_input_tokens"], 0);
    EXPECT_EQ(u["output_tokens"], 40);
    // The gateway's usage reader adds these back to the upstream's prompt_tokens.
    EXPECT_EQ(u["input_tokens"].get<int>() + u["cache_read_input_tokens"].get<int>() +
                  u["cache_creation_input_tokens"].get<int>(),
              1000);
}

TEST(AnthropicAnswer, MissingUsageIsZeros) {
    const json out = answer(chat_answer({{"role", "assistant"}, {"content", "x"}}));
    EXPECT_EQ(out["usage"], json::parse(R"({"input_tokens":0,"output_tokens":0,
        "cache_read_input_tokens":0,"cache_creation_input_tokens":0})"));
}

TEST(AnthropicAnswer, IdFromChatIdAndModelFromContextWhenAbsent) {
    json c = chat_answer({{"role", "assistant"}, {"content", "x"}});
    c.erase("model");
    const json out = answer(c, ctx("", "asked-model"));
    EXPECT_EQ(out["id"], "msg_chatcmpl-1");
    EXPECT_EQ(out["model"], "asked-model");
}

TEST(AnthropicAnswer, NotAChatCompletionIsNullopt) {
    for (const char* body :
         {"not json", "[]", R"({"object":"chat.completion"})", R"({"choices":[]})",
          R"({"choices":[{"index":0}]})", R"({"error":{"message":"x"}})"})
        EXPECT_FALSE(dl::answer_from_chat(dl::kind::anthropic, body, ctx()).has_value()) << body;
}

// ---------------------------------------------------------------------------------------------
// Streams

TEST(AnthropicStream, TextStreamEventSequence) {
    const auto events = run_stream({chunk({{"role", "assistant"}, {"content", ""}}),
                                    chunk({{"content", "Hel"}}), chunk({{"content", "lo"}}),
                                    chunk(json::object(), "stop"), usage_chunk(25, 2, 5)});
    EXPECT_EQ(types(events),
              (std::vector<std::string>{"message_start", "ping", "content_block_start",
                                        "content_block_delta", "content_block_delta",
                                        "content_block_stop", "message_delta", "message_stop"}));
    EXPECT_EQ(events[0].data, json::parse(R"({"type":"message_start","message":{"id":"msg_req1",
        "type":"message","role":"assistant","model":"gpt-up","content":[],"stop_reason":null,
        "stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}})"));
    EXPECT_EQ(events[2].data, json::parse(R"({"type":"content_block_start","index":0,
        "content_block":{"type":"text","text":""}})"));
    EXPECT_EQ(events[3].data, json::parse(R"({"type":"content_block_delta","index":0,
        "delta":{"type":"text_delta","text":"Hel"}})"));
    EXPECT_EQ(events[5].data, json::parse(R"({"type":"content_block_stop","index":0})"));
    EXPECT_EQ(events[6].data, json::parse(R"({"type":"message_delta",
        "delta":{"stop_reason":"end_turn","stop_sequence":null},
        "usage":{"output_tokens":2,"input_tokens":20,"cache_read_input_tokens":5}})"));
    EXPECT_EQ(events[7].data, json::parse(R"({"type":"message_stop"})"));

    const json msg = accumulate(events);
    EXPECT_EQ(msg["content"], json::parse(R"([{"type":"text","text":"Hello"}])"));
    EXPECT_EQ(msg["usage"]["input_tokens"], 20);
}

TEST(AnthropicStream, ToolStreamWithInputJsonDelta) {
    const auto events = run_stream({
        chunk({{"role", "assistant"}, {"content", "Checking."}}),
        chunk(json::parse(R"({"tool_calls":[{"index":0,"id":"call_1","type":"function",
            "function":{"name":"weather","arguments":""}}]})")),
        chunk(json::parse(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]})")),
        chunk(json::parse(
            R"({"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Paris\"}"}}]})")),
        chunk(json::parse(R"({"tool_calls":[{"index":1,"id":"call_2","type":"function",
            "function":{"name":"time","arguments":"{}"}}]})")),
        chunk(json::object(), "tool_calls"),
        usage_chunk(50, 30),
    });
    EXPECT_EQ(types(events),
              (std::vector<std::string>{
                  "message_start", "ping", "content_block_start", "content_block_delta",
                  "content_block_stop", "content_block_start", "content_block_delta",
                  "content_block_delta", "content_block_stop", "content_block_start",
                  "content_block_delta", "content_block_stop", "message_delta", "message_stop"}));
    EXPECT_EQ(events[5].data, json::parse(R"({"type":"content_block_start","index":1,
        "content_block":{"type":"tool_use","id":"call_1","name":"weather","input":{}}})"));
    EXPECT_EQ(events[6].data, json::parse(R"({"type":"content_block_delta","index":1,
        "delta":{"type":"input_json_delta","partial_json":"{\"ci"}})"));
    EXPECT_EQ(events[9].data["index"], 2);
    EXPECT_EQ(events[12].data["delta"]["stop_reason"], "tool_use");

    const json msg = accumulate(events);
    EXPECT_EQ(msg["content"], json::parse(R"([{"type":"text","text":"Checking."},
        {"type":"tool_use","id":"call_1","name":"weather","input":{"city":"Paris"}},
        {"type":"tool_use","id":"call_2","name":"time","input":{}}])"));
    EXPECT_EQ(msg["stop_reason"], "tool_use");
    EXPECT_EQ(msg["usage"]["output_tokens"], 30);
    EXPECT_EQ(msg["usage"]["input_tokens"], 50);
}

TEST(AnthropicStream, ParallelCallsInOneChunkGetTheirOwnBlocks) {
    const auto events = run_stream({
        chunk(json::parse(R"({"tool_calls":[
            {"index":0,"id":"a","function":{"name":"f","arguments":"{\"x\":1}"}},
            {"index":1,"id":"b","function":{"name":"g","arguments":"{\"y\":2}"}}]})")),
        chunk(json::object(), "tool_calls"),
    });
    const json msg = accumulate(events);
    EXPECT_EQ(msg["content"], json::parse(R"([
        {"type":"tool_use","id":"a","name":"f","input":{"x":1}},
        {"type":"tool_use","id":"b","name":"g","input":{"y":2}}])"));
}

TEST(AnthropicStream, TextAfterAToolCallOpensANewBlock) {
    const auto events = run_stream({
        chunk(json::parse(R"({"tool_calls":[{"index":0,"id":"a","function":{"name":"f",
            "arguments":"{}"}}]})")),
        chunk({{"content", "done"}}),
        chunk(json::object(), "stop"),
    });
    const json msg = accumulate(events);
    ASSERT_EQ(msg["content"].size(), 2u);
    EXPECT_EQ(msg["content"][1], json::parse(R"({"type":"text","text":"done"})"));
}

TEST(AnthropicStream, LengthStopAndNoUsage) {
    const auto events = run_stream({chunk({{"content", "abc"}}), chunk(json::object(), "length")});
    const json& md = events[events.size() - 2].data;
    EXPECT_EQ(md["delta"]["stop_reason"], "max_tokens");
    EXPECT_EQ(md["usage"]["output_tokens"], 0);
}

TEST(AnthropicStream, CutStreamEndsWithAnErrorEvent) {
    const auto events =
        run_stream({chunk({{"role", "assistant"}}), chunk({{"content", "partial"}})}, false);
    EXPECT_EQ(types(events),
              (std::vector<std::string>{"message_start", "ping", "content_block_start",
                                        "content_block_delta", "error"}));
    EXPECT_EQ(events.back().data, json::parse(R"({"type":"error","error":{"type":"api_error",
        "message":"upstream stream ended early"}})"));
}

TEST(AnthropicStream, CutBeforeAnyChunkIsOnlyTheError) {
    const auto events = run_stream({}, false);
    EXPECT_EQ(types(events), (std::vector<std::string>{"error"}));
}

TEST(AnthropicStream, EmptyCompleteStreamIsStillAWholeMessage) {
    const auto events = run_stream({}, true, ctx("r9", "asked"));
    EXPECT_EQ(types(events),
              (std::vector<std::string>{"message_start", "ping", "message_delta", "message_stop"}));
    EXPECT_EQ(events[0].data["message"]["id"], "msg_r9");
    EXPECT_EQ(events[0].data["message"]["model"], "asked");
}

TEST(AnthropicStream, OddChunksAreSkipped) {
    const auto events =
        run_stream({json::array(), json::parse(R"({"choices":7})"),
                    json::parse(R"({"choices":[7,{"index":1,"delta":{"content":"n=2"}}]})"),
                    chunk(json::parse(R"({"content":5,"tool_calls":{}})")),
                    chunk({{"content", "ok"}}), chunk(json::object(), "stop")});
    EXPECT_EQ(accumulate(events)["content"], json::parse(R"([{"type":"text","text":"ok"}])"));
}

TEST(AnthropicStream, FinishTwiceAndChunksAfterFinishAddNothing) {
    auto t = dl::make_stream_translator(dl::kind::anthropic, ctx());
    std::string out;
    t->finish(true, out);
    const std::size_t size = out.size();
    t->finish(true, out);
    const std::string text = chunk({{"content", "late"}}).dump();
    ditto::core::json_dom dom;
    ASSERT_TRUE(dom.parse(text));
    t->chunk(dom.root(), out);
    EXPECT_EQ(out.size(), size);
}

TEST(AnthropicStream, TextWithNewlinesStaysOneDataLine) {
    const auto events =
        run_stream({chunk({{"content", "line1\n\nline2"}}), chunk(json::object(), "stop")});
    EXPECT_EQ(accumulate(events)["content"][0]["text"], "line1\n\nline2");
}

// ---------------------------------------------------------------------------------------------
// Errors

json error_for(unsigned status, std::string_view body) {
    return json::parse(dl::error_from_openai(dl::kind::anthropic, status, body));
}

TEST(AnthropicError, TypesByStatus) {
    const std::pair<unsigned, const char*> cases[] = {{400, "invalid_request_error"},
                                                      {401, "authentication_error"},
                                                      {402, "billing_error"},
                                                      {403, "permission_error"},
                                                      {404, "not_found_error"},
                                                      {413, "request_too_large"},
                                                      {429, "rate_limit_error"},
                                                      {500, "api_error"},
                                                      {502, "api_error"},
                                                      {503, "api_error"},
                                                      {504, "timeout_error"},
                                                      {529, "overloaded_error"},
                                                      {418, "invalid_request_error"},
                                                      {599, "api_error"}};
    for (const auto& [status, type] : cases) {
        const json e =
            error_for(status, R"({"error":{"message":"m","type":"t","param":null,"code":null}})");
        EXPECT_EQ(e["type"], "error");
        EXPECT_EQ(e["error"]["type"], type) << status;
        EXPECT_EQ(e["error"]["message"], "m");
        EXPECT_FALSE(e["error"].contains("code"));
    }
}

TEST(AnthropicError, OpenAIMessageAndCodeAreKept) {
    const json e = error_for(429, R"({"error":{"message":"Rate limit reached for gpt-4o",
        "type":"requests","param":null,"code":"rate_limit_exceeded"}})");
    EXPECT_EQ(e, json::parse(R"({"type":"error","error":{"type":"rate_limit_error",
        "message":"Rate limit reached for gpt-4o","code":"rate_limit_exceeded"}})"));
}

TEST(AnthropicError, NonOpenAIBodiesKeepTheirText) {
    EXPECT_EQ(error_for(502, "Bad Gateway\n")["error"]["message"], "Bad Gateway");
    EXPECT_EQ(error_for(500, R"({"error":"boom"})")["error"]["message"], "boom");
    EXPECT_EQ(error_for(500, R"({"detail":"x"})")["error"]["message"], R"({"detail":"x"})");
    EXPECT_EQ(error_for(503, "")["error"]["message"], "upstream error (HTTP 503)");
    EXPECT_EQ(error_for(503, "  \n")["error"]["message"], "upstream error (HTTP 503)");
}

TEST(AnthropicError, LongAndInvalidTextIsCutToValidUtf8) {
    std::string body(999, 'a');
    body += "\xC3\xA9";  // é straddles the 1000-byte limit
    body += "tail";
    const std::string m = error_for(500, body)["error"]["message"];
    EXPECT_EQ(m, std::string(999, 'a'));

    const std::string bad = "ok \xFF\xFE end";
    const std::string out = dl::error_from_openai(dl::kind::anthropic, 500, bad);
    EXPECT_EQ(json::parse(out)["error"]["message"], "ok \xEF\xBF\xBD\xEF\xBF\xBD end");
}

}  // namespace
