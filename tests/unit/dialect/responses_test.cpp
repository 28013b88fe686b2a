#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ditto/core/json_dom.hpp"
#include "ditto/dialect/dialect.hpp"

namespace {

using json = nlohmann::json;
using ditto::dialect::answer_context;
using ditto::dialect::kind;
using ditto::dialect::refusal;
using ditto::dialect::request_context;

json to_chat(const json& body) {
    refusal why;
    auto out =
        ditto::dialect::request_to_chat(kind::responses, body.dump(), request_context{}, why);
    EXPECT_TRUE(out.has_value()) << why.message << " (param " << why.param << ")";
    return out ? json::parse(*out) : json();
}

refusal refused_text(std::string_view body) {
    refusal why;
    auto out = ditto::dialect::request_to_chat(kind::responses, body, request_context{}, why);
    EXPECT_FALSE(out.has_value()) << *out;
    EXPECT_FALSE(why.message.empty());
    return why;
}

refusal refused(const json& body) {
    return refused_text(body.dump());
}

// ---------------------------------------------------------------------------------------
// Requests

TEST(ResponsesRequest, StringInputBecomesOneUserMessageAfterTheInstructions) {
    json chat = to_chat({{"model", "gpt-4o"},
                         {"instructions", "Be terse."},
                         {"input", "Hello"},
                         {"max_output_tokens", 64},
                         {"temperature", 0.5},
                         {"top_p", 0.9},
                         {"user", "u-1"},
                         {"parallel_tool_calls", false},
                         {"metadata", {{"k", "v"}}},
                         {"store", false},
                         {"include", {"reasoning.encrypted_content"}},
                         {"truncation", "disabled"},
                         {"previous_response_id", nullptr}});
    EXPECT_EQ(chat, (json{{"model", "gpt-4o"},
                          {"messages",
                           {{{"role", "system"}, {"content", "Be terse."}},
                            {{"role", "user"}, {"content", "Hello"}}}},
                          {"max_tokens", 64},
                          {"temperature", 0.5},
                          {"top_p", 0.9},
                          {"user", "u-1"},
                          {"parallel_tool_calls", false},
                          {"metadata", {{"k", "v"}}}}));
}

TEST(ResponsesRequest, MessageItemsWithTextAndImages) {
    json input = json::parse(R"([
        {"role": "developer", "content": "Answer in French."},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "low"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
        {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
         "content": [{"type": "output_text", "text": "Un chat.", "annotations": []}]},
        {"role": "user", "content": [{"type": "input_text", "text": "Sure?"}]}
    ])");
    json chat = to_chat({{"model", "m"}, {"input", input}});
    EXPECT_EQ(chat["messages"], json::parse(R"([
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
        {"role": "assistant", "content": "Un chat."},
        {"role": "user", "content": "Sure?"}
    ])"));
}

TEST(ResponsesRequest, FunctionCallsJoinTheAssistantTurnAndOutputsBecomeToolMessages) {
    json input = json::parse(R"([
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Checking."}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_a", "name": "weather",
         "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
        {"type": "function_call", "call_id": "call_b", "name": "weather",
         "arguments": "{\"city\":\"Rome\"}"},
        {"type": "function_call_output", "call_id": "call_a", "output": "18C"},
        {"type": "function_call_output", "call_id": "call_b",
         "output": [{"type": "input_text", "text": "21C"}]},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "function_call", "call_id": "call_c", "name": "time", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_c", "output": "noon"}
    ])");
    json chat = to_chat({{"model", "m"}, {"input", input}});
    EXPECT_EQ(chat["messages"], json::parse(R"([
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_a", "type": "function",
             "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_b", "type": "function",
             "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_b", "content": "21C"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_c", "type": "function",
             "function": {"name": "time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_c", "content": "noon"}
    ])"));
}

TEST(ResponsesRequest, FunctionToolsAndToolChoice) {
    json tools = json::parse(R"([
        {"type": "function", "name": "weather", "description": "Weather by city",
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
         "strict": true},
        {"type": "function", "name": "noop"}
    ])");
    json chat = to_chat({{"model", "m"},
                         {"input", "hi"},
                         {"tools", tools},
                         {"tool_choice", {{"type", "function"}, {"name", "weather"}}}});
    EXPECT_EQ(chat["tools"], json::parse(R"([
        {"type": "function", "function": {"name": "weather", "description": "Weather by city",
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
         "strict": true}},
        {"type": "function", "function": {"name": "noop"}}
    ])"));
    EXPECT_EQ(chat["tool_choice"],
              json::parse(R"({"type":"function","function":{"name":"weather"}})"));

    for (const char* choice : {"auto", "none", "required"})
        EXPECT_EQ(
            to_chat({{"model", "m"}, {"input", "hi"}, {"tool_choice", choice}})["tool_choice"],
            choice);
}

TEST(ResponsesRequest, TextFormatReasoningAndVerbosity) {
    json schema = {{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}}}};
    json chat = to_chat({{"model", "m"},
                         {"input", "hi"},
                         {"text",
                          {{"format",
                            {{"type", "json_schema"},
                             {"name", "thing"},
                             {"schema", schema},
                             {"strict", true},
                             {"description", "A thing"}}},
                           {"verbosity", "low"}}},
                         {"reasoning", {{"effort", "high"}, {"summary", "auto"}}}});
    EXPECT_EQ(chat["response_format"], (json{{"type", "json_schema"},
                                             {"json_schema",
                                              {{"name", "thing"},
                                               {"schema", schema},
                                               {"strict", true},
                                               {"description", "A thing"}}}}));
    EXPECT_EQ(chat["reasoning_effort"], "high");
    EXPECT_EQ(chat["verbosity"], "low");

    chat = to_chat(
        {{"model", "m"}, {"input", "hi"}, {"text", {{"format", {{"type", "json_object"}}}}}});
    EXPECT_EQ(chat["response_format"], (json{{"type", "json_object"}}));
    chat = to_chat({{"model", "m"}, {"input", "hi"}, {"text", {{"format", {{"type", "text"}}}}}});
    EXPECT_FALSE(chat.contains("response_format"));
}

TEST(ResponsesRequest, StreamAsksForUsage) {
    json chat = to_chat({{"model", "m"}, {"input", "hi"}, {"stream", true}});
    EXPECT_EQ(chat["stream"], true);
    EXPECT_EQ(chat["stream_options"], (json{{"include_usage", true}}));
    chat = to_chat({{"model", "m"}, {"input", "hi"}, {"stream", false}});
    EXPECT_FALSE(chat.contains("stream"));
    EXPECT_FALSE(chat.contains("stream_options"));
}

TEST(ResponsesRequest, StringsWithEscapesSurviveTheTranslation) {
    std::string text = "quote \" backslash \\ newline \n unicode \xc3\xa9 \xf0\x9f\x98\x80";
    json chat = to_chat({{"model", "m"}, {"input", text}});
    EXPECT_EQ(chat["messages"][0]["content"], text);
}

TEST(ResponsesRequest, BuiltInToolsAreRefusedByTypeAndIndex) {
    for (const char* type :
         {"web_search", "web_search_preview", "file_search", "computer_use_preview",
          "code_interpreter", "mcp", "image_generation", "local_shell", "custom"}) {
        refusal why =
            refused({{"model", "m"},
                     {"input", "hi"},
                     {"tools", {{{"type", "function"}, {"name", "f"}}, {{"type", type}}}}});
        EXPECT_EQ(why.param, "tools[1].type");
        EXPECT_NE(why.message.find(type), std::string::npos) << why.message;
    }
}

TEST(ResponsesRequest, StatefulFieldsAreRefused) {
    refusal why = refused({{"model", "m"}, {"input", "hi"}, {"previous_response_id", "resp_1"}});
    EXPECT_EQ(why.param, "previous_response_id");
    EXPECT_EQ(why.message,
              "previous_response_id needs a stored response; this gateway translates over chat "
              "completions and stores none");
    EXPECT_EQ(refused({{"model", "m"}, {"input", "hi"}, {"conversation", "conv_1"}}).param,
              "conversation");
    EXPECT_EQ(refused({{"model", "m"}, {"input", "hi"}, {"background", true}}).param, "background");
    EXPECT_EQ(refused({{"model", "m"}, {"input", "hi"}, {"prompt", {{"id", "pmpt_1"}}}}).param,
              "prompt");
    EXPECT_EQ(refused({{"model", "m"}, {"input", "hi"}, {"max_tool_calls", 3}}).param,
              "max_tool_calls");
    EXPECT_EQ(refused({{"model", "m"}, {"input", "hi"}, {"frobnicate", 1}}).param, "frobnicate");
    // background: false asks for nothing the gateway lacks.
    EXPECT_EQ(to_chat({{"model", "m"}, {"input", "hi"}, {"background", false}})["model"], "m");
}

TEST(ResponsesRequest, MalformedBodiesAreRefusedWithTheField) {
    EXPECT_EQ(refused_text("{\"model\":").param, "");
    EXPECT_EQ(refused_text("[1,2]").param, "");
    EXPECT_EQ(refused(json{{"input", "hi"}}).param, "model");
    EXPECT_EQ(refused(json{{"model", 7}, {"input", "hi"}}).param, "model");
    EXPECT_EQ(refused(json{{"model", "m"}}).param, "input");
    EXPECT_EQ(refused(json{{"model", "m"}, {"input", 3}}).param, "input");
    EXPECT_EQ(refused(json{{"model", "m"}, {"input", "hi"}, {"stream", "yes"}}).param, "stream");
    EXPECT_EQ(refused(json{{"model", "m"}, {"input", "hi"}, {"instructions", 1}}).param,
              "instructions");
}

TEST(ResponsesRequest, UntranslatableItemsAndPartsAreRefusedWithTheirPath) {
    auto with_input = [](json input) { return json{{"model", "m"}, {"input", std::move(input)}}; };
    refusal why = refused(with_input(
        json::parse(R"([{"role":"user","content":"hi"},{"type":"item_reference","id":"msg_1"}])")));
    EXPECT_EQ(why.param, "input[1].type");
    EXPECT_NE(why.message.find("item_reference"), std::string::npos);
    EXPECT_EQ(refused(with_input(json::parse(R"([{"type":"web_search_call","id":"ws_1"}])"))).param,
              "input[0].type");
    EXPECT_EQ(
        refused(with_input(json::parse(
                    R"([{"role":"user","content":[{"type":"input_image","file_id":"file-1"}]}])")))
            .param,
        "input[0].content[0].file_id");
    EXPECT_EQ(refused(with_input(json::parse(
                          R"([{"role":"assistant","content":[{"type":"input_text","text":"a"},
                              {"type":"input_image","image_url":"https://x"}]}])")))
                  .param,
              "input[0].content[1].type");
    EXPECT_EQ(refused(with_input(json::parse(
                          R"([{"role":"user","content":[{"type":"input_file","file_id":"f"}]}])")))
                  .param,
              "input[0].content[0].type");
    EXPECT_EQ(refused(with_input(json::parse(R"([{"role":"critic","content":"x"}])"))).param,
              "input[0].role");
    EXPECT_EQ(refused(with_input(json::parse(R"([{"type":"function_call","name":"f"}])"))).param,
              "input[0].call_id");
    EXPECT_EQ(refused(with_input(json::parse(R"(["bare string"])"))).param, "input[0]");
    EXPECT_EQ(
        refused({{"model", "m"}, {"input", "hi"}, {"tool_choice", {{"type", "web_search"}}}}).param,
        "tool_choice");
    EXPECT_EQ(
        refused({{"model", "m"},
                 {"input", "hi"},
                 {"text", {{"format", {{"type", "json_schema"}, {"schema", json::object()}}}}}})
            .param,
        "text.format.name");
}

// ---------------------------------------------------------------------------------------
// Buffered answers

const answer_context ctx{"req-42", "gpt-asked", 1700000000};

json answer(const json& chat, const answer_context& ac = ctx) {
    auto out = ditto::dialect::answer_from_chat(kind::responses, chat.dump(), ac);
    EXPECT_TRUE(out.has_value());
    return out ? json::parse(*out) : json();
}

json chat_answer(json message, const char* finish = "stop") {
    return {
        {"id", "chatcmpl-1"},
        {"object", "chat.completion"},
        {"created", 1},
        {"model", "gpt-4o-2024-08-06"},
        {"choices", {{{"index", 0}, {"message", std::move(message)}, {"finish_reason", finish}}}},
        {"usage",
         {{"prompt_tokens", 20},
          {"completion_tokens", 7},
          {"total_tokens", 27},
          {"prompt_tokens_details", {{"cached_tokens", 4}}},
          {"completion_tokens_details", {{"reasoning_tokens", 2}}}}}};
}

TEST(ResponsesAnswer, TextBecomesOneMessageItemWithUsage) {
    json r = answer(chat_answer({{"role", "assistant"}, {"content", "Hi there."}}));
    EXPECT_EQ(r["id"], "resp_req-42");
    EXPECT_EQ(r["object"], "response");
    EXPECT_EQ(r["created_at"], 1700000000);
    EXPECT_EQ(r["status"], "completed");
    EXPECT_TRUE(r["error"].is_null());
    EXPECT_TRUE(r["incomplete_details"].is_null());
    EXPECT_EQ(r["model"], "gpt-4o-2024-08-06");
    EXPECT_FALSE(r.contains("output_text"));
    EXPECT_EQ(r["output"], json::parse(R"([{"type":"message","id":"msg_req-42",
        "status":"completed","role":"assistant",
        "content":[{"type":"output_text","text":"Hi there.","annotations":[]}]}])"));
    EXPECT_EQ(r["usage"], json::parse(R"({"input_tokens":20,"input_tokens_details":
        {"cached_tokens":4},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":2},
        "total_tokens":27})"));
}

TEST(ResponsesAnswer, ToolCallsBecomeFunctionCallItems) {
    json message = json::parse(R"({"role":"assistant","content":null,"tool_calls":[
        {"id":"call_a","type":"function","function":{"name":"weather","arguments":"{\"c\":1}"}},
        {"id":"call_b","type":"function","function":{"name":"time","arguments":"{}"}}]})");
    json r = answer(chat_answer(message, "tool_calls"));
    EXPECT_EQ(r["status"], "completed");
    ASSERT_EQ(r["output"].size(), 2u);
    EXPECT_EQ(r["output"][0], json::parse(R"({"type":"function_call","id":"fc_req-42_0",
        "call_id":"call_a","name":"weather","arguments":"{\"c\":1}","status":"completed"})"));
    EXPECT_EQ(r["output"][1]["call_id"], "call_b");
    EXPECT_EQ(r["output"][1]["id"], "fc_req-42_1");

    message["content"] = "Let me check.";
    r = answer(chat_answer(message, "tool_calls"));
    ASSERT_EQ(r["output"].size(), 3u);
    EXPECT_EQ(r["output"][0]["type"], "message");
    EXPECT_EQ(r["output"][1]["type"], "function_call");
}

TEST(ResponsesAnswer, LengthAndContentFilterAreIncomplete) {
    json r = answer(chat_answer({{"role", "assistant"}, {"content", "Once upon"}}, "length"));
    EXPECT_EQ(r["status"], "incomplete");
    EXPECT_EQ(r["incomplete_details"], (json{{"reason", "max_output_tokens"}}));
    EXPECT_EQ(r["output"][0]["status"], "incomplete");
    EXPECT_EQ(r["output"][0]["content"][0]["text"], "Once upon");

    r = answer(chat_answer({{"role", "assistant"}, {"content", ""}}, "content_filter"));
    EXPECT_EQ(r["status"], "incomplete");
    EXPECT_EQ(r["incomplete_details"], (json{{"reason", "content_filter"}}));
    EXPECT_EQ(r["output"], json::array());
}

TEST(ResponsesAnswer, RefusalBecomesARefusalPart) {
    json r = answer(chat_answer({{"role", "assistant"}, {"content", nullptr}, {"refusal", "No."}}));
    EXPECT_EQ(r["output"][0]["content"], json::parse(R"([{"type":"refusal","refusal":"No."}])"));
}

TEST(ResponsesAnswer, FallsBackToTheAskedModelAndSumsMissingTotal) {
    json chat = json::parse(R"({"choices":[{"index":0,"message":{"role":"assistant",
        "content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,
        "completion_tokens":2}})");
    json r = answer(chat);
    EXPECT_EQ(r["model"], "gpt-asked");
    EXPECT_EQ(r["usage"]["total_tokens"], 5);
    EXPECT_EQ(r["usage"]["input_tokens_details"]["cached_tokens"], 0);

    chat.erase("usage");
    EXPECT_TRUE(answer(chat)["usage"].is_null());
}

TEST(ResponsesAnswer, NotAChatCompletionIsNullopt) {
    for (const char* text : {"", "nope", "[]", "{}", R"({"choices":{}})", R"({"error":{}})"})
        EXPECT_FALSE(ditto::dialect::answer_from_chat(kind::responses, text, ctx).has_value())
            << text;
}

// ---------------------------------------------------------------------------------------
// Streams

struct sse_event {
    std::string type;
    json data;
};

// Splits the translator's output into events, checking the framing of each.
std::vector<sse_event> parse_events(const std::string& text) {
    std::vector<sse_event> events;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find("\n\n", at);
        EXPECT_NE(end, std::string::npos) << "unterminated event";
        if (end == std::string::npos)
            break;
        std::string block = text.substr(at, end - at);
        at = end + 2;
        EXPECT_EQ(block.rfind("event: ", 0), 0u) << block;
        std::size_t nl = block.find('\n');
        sse_event e;
        e.type = block.substr(7, nl - 7);
        EXPECT_EQ(block.substr(nl + 1, 6), "data: ") << block;
        e.data = json::parse(block.substr(nl + 7));  // throws (fails the test) when not JSON
        EXPECT_EQ(e.data["type"], e.type);
        events.push_back(std::move(e));
    }
    return events;
}

class stream_run {
  public:
    explicit stream_run(const answer_context& ac = ctx)
        : t_(ditto::dialect::make_stream_translator(kind::responses, ac)) {}

    /// Feeds one chunk; returns what it produced.
    std::string feed(const json& chunk) {
        const std::string text = chunk.dump();
        ditto::core::json_dom dom;
        EXPECT_TRUE(dom.parse(text));
        std::string out;
        t_->chunk(dom.root(), out);
        all_ += out;
        return out;
    }
    std::string finish(bool complete) {
        std::string out;
        t_->finish(complete, out);
        all_ += out;
        return out;
    }
    std::vector<sse_event> events() const { return parse_events(all_); }

  private:
    std::unique_ptr<ditto::dialect::stream_translator> t_;
    std::string all_;
};

json delta_chunk(json delta, json finish = nullptr) {
    return {{"id", "chatcmpl-1"},
            {"object", "chat.completion.chunk"},
            {"created", 1},
            {"model", "gpt-4o-2024-08-06"},
            {"choices", {{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish}}}}};
}

json usage_chunk() {
    return {{"id", "chatcmpl-1"},
            {"object", "chat.completion.chunk"},
            {"created", 1},
            {"model", "gpt-4o-2024-08-06"},
            {"choices", json::array()},
            {"usage",
             {{"prompt_tokens", 11},
              {"completion_tokens", 3},
              {"total_tokens", 14},
              {"prompt_tokens_details", {{"cached_tokens", 0}}},
              {"completion_tokens_details", {{"reasoning_tokens", 0}}}}}};
}

std::vector<std::string> types_of(const std::vector<sse_event>& events) {
    std::vector<std::string> types;
    for (const auto& e : events)
        types.push_back(e.type);
    return types;
}

// Applies events the way the openai Node SDK's response accumulator does, with its checks
// (items appended at the next index, item_id matching the item, content at known indexes).
json accumulate(const std::vector<sse_event>& events) {
    json snapshot;
    std::uint64_t expected_sequence = 0;
    for (const auto& e : events) {
        const json& d = e.data;
        EXPECT_EQ(d["sequence_number"], expected_sequence++) << e.type;
        if (e.type == "response.created") {
            EXPECT_TRUE(snapshot.is_null());
            snapshot = d["response"];
            continue;
        }
        EXPECT_FALSE(snapshot.is_null()) << "no response.created before " << e.type;
        json& output = snapshot["output"];
        if (d.contains("item_id")) {
            const std::size_t i = d["output_index"];
            EXPECT_LT(i, output.size()) << e.type;
            if (i < output.size()) {
                EXPECT_EQ(output[i]["id"], d["item_id"]) << e.type;
            }
        }
        if (e.type == "response.in_progress" || e.type == "response.completed" ||
            e.type == "response.incomplete" || e.type == "response.failed") {
            snapshot = d["response"];
        } else if (e.type == "response.output_item.added") {
            EXPECT_EQ(d["output_index"], output.size());
            output.push_back(d["item"]);
        } else if (e.type == "response.output_item.done") {
            output.at(d["output_index"].get<std::size_t>()) = d["item"];
        } else if (e.type == "response.content_part.added") {
            json& content = output.at(d["output_index"].get<std::size_t>())["content"];
            EXPECT_EQ(d["content_index"], content.size());
            content.push_back(d["part"]);
        } else if (e.type == "response.content_part.done") {
            output.at(d["output_index"].get<std::size_t>())["content"].at(
                d["content_index"].get<std::size_t>()) = d["part"];
        } else if (e.type == "response.output_text.delta") {
            json& part = output.at(d["output_index"].get<std::size_t>())["content"].at(
                d["content_index"].get<std::size_t>());
            EXPECT_EQ(part["type"], "output_text");
            part["text"] = part["text"].get<std::string>() + d["delta"].get<std::string>();
        } else if (e.type == "response.output_text.done") {
            json& part = output.at(d["output_index"].get<std::size_t>())["content"].at(
                d["content_index"].get<std::size_t>());
            EXPECT_EQ(part["text"], d["text"]);
        } else if (e.type == "response.function_call_arguments.delta") {
            json& item = output.at(d["output_index"].get<std::size_t>());
            EXPECT_EQ(item["type"], "function_call");
            item["arguments"] =
                item["arguments"].get<std::string>() + d["delta"].get<std::string>();
        } else if (e.type == "response.function_call_arguments.done") {
            EXPECT_EQ(output.at(d["output_index"].get<std::size_t>())["arguments"], d["arguments"]);
        } else {
            ADD_FAILURE() << "unexpected event " << e.type;
        }
    }
    return snapshot;
}

TEST(ResponsesStream, TextStreamWithUsageChunk) {
    stream_run run;
    EXPECT_NE(run.feed(delta_chunk({{"role", "assistant"}, {"content", ""}})), "");
    // Each delta is sent when its chunk arrives.
    std::string out = run.feed(delta_chunk({{"content", "Hel"}}));
    EXPECT_NE(out.find("response.output_text.delta"), std::string::npos);
    EXPECT_NE(out.find("\"delta\":\"Hel\""), std::string::npos);
    run.feed(delta_chunk({{"content", "lo"}}));
    run.feed(delta_chunk(json::object(), "stop"));
    EXPECT_EQ(run.feed(usage_chunk()), "");
    run.finish(true);

    auto events = run.events();
    EXPECT_EQ(types_of(events), (std::vector<std::string>{
                                    "response.created",
                                    "response.in_progress",
                                    "response.output_item.added",
                                    "response.content_part.added",
                                    "response.output_text.delta",
                                    "response.output_text.delta",
                                    "response.output_text.done",
                                    "response.content_part.done",
                                    "response.output_item.done",
                                    "response.completed",
                                }));
    for (std::size_t i = 0; i < events.size(); ++i)
        EXPECT_EQ(events[i].data["sequence_number"], i);

    const json& created = events[0].data["response"];
    EXPECT_EQ(created["id"], "resp_req-42");
    EXPECT_EQ(created["status"], "in_progress");
    EXPECT_EQ(created["output"], json::array());
    EXPECT_EQ(created["model"], "gpt-4o-2024-08-06");
    EXPECT_EQ(events[2].data["item"], json::parse(R"({"type":"message","id":"msg_req-42",
        "status":"in_progress","role":"assistant","content":[]})"));
    EXPECT_EQ(events[3].data["part"],
              json::parse(R"({"type":"output_text","text":"","annotations":[]})"));
    EXPECT_EQ(events[4].data["item_id"], "msg_req-42");
    EXPECT_EQ(events[4].data["output_index"], 0);
    EXPECT_EQ(events[4].data["content_index"], 0);
    EXPECT_EQ(events[6].data["text"], "Hello");
    EXPECT_EQ(events[8].data["item"]["status"], "completed");
    EXPECT_EQ(events[8].data["item"]["content"][0]["text"], "Hello");

    const json& done = events.back().data["response"];
    EXPECT_EQ(done["status"], "completed");
    EXPECT_EQ(done["usage"]["input_tokens"], 11);
    EXPECT_EQ(done["usage"]["output_tokens"], 3);
    EXPECT_EQ(done["usage"]["total_tokens"], 14);
    // The completed response equals what the stream built up, and what a buffered answer says.
    EXPECT_EQ(accumulate(events), done);
    json buffered = answer(json::parse(R"({"id":"chatcmpl-1","model":"gpt-4o-2024-08-06",
        "choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},
        "finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":3,
        "total_tokens":14,"prompt_tokens_details":{"cached_tokens":0},
        "completion_tokens_details":{"reasoning_tokens":0}}})"));
    EXPECT_EQ(done, buffered);
}

TEST(ResponsesStream, ToolCallStream) {
    stream_run run;
    run.feed(delta_chunk({{"role", "assistant"}, {"content", "Checking."}}));
    run.feed(delta_chunk(json::parse(R"({"tool_calls":[{"index":0,"id":"call_a",
        "type":"function","function":{"name":"weather","arguments":""}}]})")));
    run.feed(delta_chunk(
        json::parse(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"c\":"}}]})")));
    run.feed(delta_chunk(json::parse(R"({"tool_calls":[{"index":1,"id":"call_b",
        "type":"function","function":{"name":"time","arguments":"{}"}}]})")));
    run.feed(
        delta_chunk(json::parse(R"({"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]})")));
    run.feed(delta_chunk(json::object(), "tool_calls"));
    run.feed(usage_chunk());
    run.finish(true);

    auto events = run.events();
    EXPECT_EQ(types_of(events), (std::vector<std::string>{
                                    "response.created",
                                    "response.in_progress",
                                    "response.output_item.added",
                                    "response.content_part.added",
                                    "response.output_text.delta",
                                    "response.output_item.added",
                                    "response.function_call_arguments.delta",
                                    "response.output_item.added",
                                    "response.function_call_arguments.delta",
                                    "response.function_call_arguments.delta",
                                    "response.output_text.done",
                                    "response.content_part.done",
                                    "response.output_item.done",
                                    "response.function_call_arguments.done",
                                    "response.output_item.done",
                                    "response.function_call_arguments.done",
                                    "response.output_item.done",
                                    "response.completed",
                                }));
    EXPECT_EQ(events[5].data["output_index"], 1);
    EXPECT_EQ(events[5].data["item"], json::parse(R"({"type":"function_call","id":"fc_req-42_0",
        "call_id":"call_a","name":"weather","arguments":"","status":"in_progress"})"));
    EXPECT_EQ(events[6].data["item_id"], "fc_req-42_0");
    EXPECT_EQ(events[6].data["delta"], "{\"c\":");
    EXPECT_EQ(events[7].data["output_index"], 2);
    EXPECT_EQ(events[9].data["output_index"], 1);
    EXPECT_EQ(events[13].data["arguments"], "{\"c\":1}");

    const json& done = events.back().data["response"];
    EXPECT_EQ(done["status"], "completed");
    ASSERT_EQ(done["output"].size(), 3u);
    EXPECT_EQ(done["output"][1], json::parse(R"({"type":"function_call","id":"fc_req-42_0",
        "call_id":"call_a","name":"weather","arguments":"{\"c\":1}","status":"completed"})"));
    EXPECT_EQ(done["output"][2]["call_id"], "call_b");
    EXPECT_EQ(done["output"][2]["arguments"], "{}");
    EXPECT_EQ(accumulate(events), done);
}

TEST(ResponsesStream, RepeatedOrSplitFunctionNamesComeOutWhole) {
    stream_run run;
    run.feed(delta_chunk(json::parse(R"({"tool_calls":[{"index":0,"id":"call_a",
        "function":{"name":"weather","arguments":"{"}}]})")));
    run.feed(delta_chunk(json::parse(R"({"tool_calls":[{"index":0,"id":"call_a",
        "function":{"name":"weather","arguments":"}"}}]})")));
    run.feed(delta_chunk(json::parse(R"({"tool_calls":[{"index":1,"id":"call_b",
        "function":{"name":"get_"}}]})")));
    run.feed(delta_chunk(json::parse(R"({"tool_calls":[{"index":1,
        "function":{"name":"time","arguments":"{}"}}]})")));
    run.finish(true);
    auto events = run.events();
    const json& output = events.back().data["response"]["output"];
    ASSERT_EQ(output.size(), 2u);
    EXPECT_EQ(output[0]["name"], "weather");
    EXPECT_EQ(output[0]["arguments"], "{}");
    EXPECT_EQ(output[1]["name"], "get_time");
    EXPECT_EQ(accumulate(events), events.back().data["response"]);
}

TEST(ResponsesStream, CutStreamEndsIncomplete) {
    stream_run run;
    run.feed(delta_chunk({{"role", "assistant"}, {"content", "Half a sen"}}));
    run.finish(false);
    auto events = run.events();
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().type, "response.incomplete");
    const json& r = events.back().data["response"];
    EXPECT_EQ(r["status"], "incomplete");
    EXPECT_TRUE(r["usage"].is_null());
    EXPECT_EQ(r["output"][0]["status"], "incomplete");
    EXPECT_EQ(r["output"][0]["content"][0]["text"], "Half a sen");
    EXPECT_EQ(accumulate(events), r);
}

TEST(ResponsesStream, LengthFinishIsIncompleteWithTheReason) {
    stream_run run;
    run.feed(delta_chunk({{"content", "Once"}}));
    run.feed(delta_chunk(json::object(), "length"));
    run.feed(usage_chunk());
    run.finish(true);
    auto events = run.events();
    EXPECT_EQ(events.back().type, "response.incomplete");
    EXPECT_EQ(events.back().data["response"]["incomplete_details"],
              (json{{"reason", "max_output_tokens"}}));
    EXPECT_EQ(events.back().data["response"]["usage"]["output_tokens"], 3);
}

TEST(ResponsesStream, EmptyStreamStillOpensAndCloses) {
    answer_context ac{"", "asked-model", 5};
    stream_run run(ac);
    run.finish(true);
    auto events = run.events();
    EXPECT_EQ(types_of(events),
              (std::vector<std::string>{"response.created", "response.in_progress",
                                        "response.completed"}));
    EXPECT_EQ(events.back().data["response"]["model"], "asked-model");
    EXPECT_EQ(events.back().data["response"]["output"], json::array());
    EXPECT_EQ(events.back().data["sequence_number"], 2);
}

TEST(ResponsesStream, UpstreamErrorChunkFailsTheResponse) {
    stream_run run;
    run.feed(delta_chunk({{"content", "Hi"}}));
    run.feed({{"error", {{"message", "overloaded"}, {"type", "server_error"}}}});
    run.finish(true);
    auto events = run.events();
    EXPECT_EQ(events.back().type, "response.failed");
    EXPECT_EQ(events.back().data["response"]["error"],
              (json{{"code", "server_error"}, {"message", "overloaded"}}));
    EXPECT_EQ(accumulate(events), events.back().data["response"]);
}

}  // namespace

namespace {

using ditto::dialect::kind;
using ditto::dialect::match_front_door;

// The front doors by path (docs/dialects.md): what app_handler routes.
TEST(FrontDoor, EachDialectsPathsAndOnlyThose) {
    EXPECT_EQ(match_front_door("/v1/responses")->dialect, kind::responses);
    EXPECT_FALSE(match_front_door("/v1/responses/resp_1"));  // lookups are plain proxying
    EXPECT_FALSE(match_front_door("/v1/chat/completions"));
    EXPECT_FALSE(match_front_door("/v1/models/gpt-4o"));  // OpenAI's model lookup

    auto m = match_front_door("/v1/messages");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->dialect, kind::anthropic);
    EXPECT_TRUE(m->served);
    EXPECT_FALSE(m->count_tokens);
    EXPECT_TRUE(match_front_door("/v1/messages/count_tokens")->count_tokens);
    EXPECT_FALSE(match_front_door("/v1/messages/batches")->served);

    auto g = match_front_door("/v1beta/models/gemini-2.0-flash:streamGenerateContent");
    ASSERT_TRUE(g);
    EXPECT_EQ(g->dialect, kind::gemini);
    EXPECT_TRUE(g->stream);
    EXPECT_EQ(g->model, "gemini-2.0-flash");
    EXPECT_TRUE(match_front_door("/v1beta/models/g:countTokens")->count_tokens);
    EXPECT_EQ(match_front_door("/v1/models/gemini%2Dx:generateContent")->model, "gemini-x");
    EXPECT_FALSE(match_front_door("/v1beta/models/g:embedContent")->served);
    EXPECT_FALSE(match_front_door("/v1beta/cachedContents")->served);
    EXPECT_FALSE(match_front_door("/v1beta/models/a/b:generateContent")->served);
    EXPECT_FALSE(match_front_door("/v1/models/ft:gpt-4o:org:id"));  // a fine-tune's id
}

}  // namespace
