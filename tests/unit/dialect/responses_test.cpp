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

}  // namespace
