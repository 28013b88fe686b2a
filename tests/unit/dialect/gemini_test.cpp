#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ditto/core/json_dom.hpp"
#include "ditto/dialect/dialect.hpp"

namespace {

using nlohmann::json;
namespace dialect = ditto::dialect;

constexpr auto gem = dialect::kind::gemini;

json to_chat(const json& body, bool stream = false, std::string_view model = "gemini-2.5-pro") {
    dialect::request_context rc;
    rc.model = model;
    rc.stream = stream;
    dialect::refusal why;
    auto out = dialect::request_to_chat(gem, body.dump(), rc, why);
    EXPECT_TRUE(out.has_value()) << why.param << ": " << why.message;
    return out ? json::parse(*out) : json();
}

dialect::refusal refused_text(std::string_view body) {
    dialect::request_context rc;
    rc.model = "gemini-2.5-pro";
    dialect::refusal why;
    auto out = dialect::request_to_chat(gem, body, rc, why);
    EXPECT_FALSE(out.has_value()) << *out;
    return why;
}

dialect::refusal refused(const json& body) {
    return refused_text(body.dump());
}

json user_text(std::string_view text) {
    return {{"role", "user"}, {"parts", {{{"text", text}}}}};
}

// ---- request ----

TEST(GeminiRequest, ModelAndStreamComeFromThePath) {
    json chat = to_chat({{"contents", {user_text("hi")}}});
    EXPECT_EQ(chat["model"], "gemini-2.5-pro");
    EXPECT_FALSE(chat.contains("stream"));
    EXPECT_EQ(chat["messages"], json::parse(R"([{"role":"user","content":"hi"}])"));

    chat = to_chat({{"contents", {user_text("hi")}}}, true, "m2");
    EXPECT_EQ(chat["model"], "m2");
    EXPECT_EQ(chat["stream"], true);
    EXPECT_EQ(chat["stream_options"]["include_usage"], true);
}

TEST(GeminiRequest, SystemInstructionBecomesTheLeadingSystemMessage) {
    json chat = to_chat(
        {{"systemInstruction", {{"parts", {{{"text", "be brief"}}, {{"text", "be kind"}}}}}},
         {"contents", {user_text("hi")}}});
    ASSERT_EQ(chat["messages"].size(), 2u);
    EXPECT_EQ(chat["messages"][0], json({{"role", "system"}, {"content", "be brief\nbe kind"}}));

    // A bare string, and the snake_case proto spelling, are accepted too.
    chat = to_chat({{"system_instruction", "terse"}, {"contents", {user_text("hi")}}});
    EXPECT_EQ(chat["messages"][0], json({{"role", "system"}, {"content", "terse"}}));
}

TEST(GeminiRequest, TurnsMapToUserAndAssistant) {
    json chat =
        to_chat({{"contents",
                  {{{"parts", {{{"text", "no role is a user turn"}}}}},
                   {{"role", "model"}, {"parts", {{{"text", "a"}}, {{"text", "b"}}}}},
                   {{"role", "user"}, {"parts", {{{"text", "one"}}, {{"text", "two"}}}}}}}});
    const json& m = chat["messages"];
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0], json({{"role", "user"}, {"content", "no role is a user turn"}}));
    EXPECT_EQ(m[1], json({{"role", "assistant"}, {"content", "ab"}}));
    EXPECT_EQ(m[2]["content"], json::parse(R"([{"type":"text","text":"one"},
                                                {"type":"text","text":"two"}])"));
}

TEST(GeminiRequest, InlineImageBecomesADataUrl) {
    json chat = to_chat(
        {{"contents",
          {{{"role", "user"},
            {"parts",
             {{{"text", "what is this"}},
              {{"inlineData", {{"mimeType", "image/png"}, {"data", "iVBORw0KGgo="}}}},
              {{"file_data",
                {{"mime_type", "image/jpeg"}, {"file_uri", "https://x.test/cat.jpg"}}}}}}}}}});
    const json& content = chat["messages"][0]["content"];
    ASSERT_EQ(content.size(), 3u);
    EXPECT_EQ(content[1], json::parse(R"({"type":"image_url",
        "image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}})"));
    EXPECT_EQ(content[2]["image_url"]["url"], "https://x.test/cat.jpg");
}

TEST(GeminiRequest, FunctionCallsAndResponsesPairByNameInOrder) {
    json body = {
        {"contents",
         {user_text("weather in Oslo and Rome?"),
          {{"role", "model"},
           {"parts",
            {{{"thought", true}, {"text", "let me call the tool"}},
             {{"functionCall", {{"name", "weather"}, {"args", {{"city", "Oslo"}}}}}},
             {{"functionCall", {{"name", "weather"}, {"args", {{"city", "Rome"}}}}}},
             {{"functionCall", {{"name", "time"}, {"args", json::object()}, {"id", "t-1"}}}}}}},
          {{"role", "user"},
           {"parts",
            {{{"functionResponse", {{"name", "time"}, {"response", {{"now", "12:00"}}}}}},
             {{"functionResponse", {{"name", "weather"}, {"response", {{"temp", 3}}}}}},
             {{"functionResponse", {{"name", "weather"}, {"response", {{"temp", 20}}}}}},
             {{"text", "thanks"}}}}}}}};
    json chat = to_chat(body);
    const json& m = chat["messages"];
    ASSERT_EQ(m.size(), 6u) << m.dump();
    EXPECT_EQ(m[1]["role"], "assistant");
    EXPECT_TRUE(m[1]["content"].is_null());  // the thought part is not sent back
    const json& calls = m[1]["tool_calls"];
    ASSERT_EQ(calls.size(), 3u);
    EXPECT_EQ(calls[0]["id"], "call_1_1");
    EXPECT_EQ(calls[0]["type"], "function");
    EXPECT_EQ(calls[0]["function"]["name"], "weather");
    EXPECT_EQ(json::parse(calls[0]["function"]["arguments"].get<std::string>()),
              json({{"city", "Oslo"}}));
    EXPECT_EQ(calls[1]["id"], "call_1_2");
    EXPECT_EQ(calls[2]["id"], "t-1");

    EXPECT_EQ(m[2]["role"], "tool");
    EXPECT_EQ(m[2]["tool_call_id"], "t-1");
    EXPECT_EQ(json::parse(m[2]["content"].get<std::string>()), json({{"now", "12:00"}}));
    EXPECT_EQ(m[3]["tool_call_id"], "call_1_1");
    EXPECT_EQ(json::parse(m[3]["content"].get<std::string>()), json({{"temp", 3}}));
    EXPECT_EQ(m[4]["tool_call_id"], "call_1_2");
    // The user's text follows the tool results (chat wants them right after the calls).
    EXPECT_EQ(m[5], json({{"role", "user"}, {"content", "thanks"}}));
}

TEST(GeminiRequest, ATurnOfThoughtsOnlyIsDropped) {
    json chat = to_chat({{"contents",
                          {user_text("a"),
                           {{"role", "model"}, {"parts", {{{"text", "hmm"}, {"thought", true}}}}},
                           user_text("b")}}});
    EXPECT_EQ(chat["messages"].size(), 2u);
}

TEST(GeminiRequest, GenerationConfigMaps) {
    json chat = to_chat({{"contents", {user_text("hi")}},
                         {"generationConfig",
                          {{"maxOutputTokens", 256},
                           {"temperature", 0.5},
                           {"topP", 0.9},
                           {"topK", 40},
                           {"stopSequences", {"END"}},
                           {"candidateCount", 2},
                           {"presencePenalty", 0.1},
                           {"frequencyPenalty", -0.2},
                           {"seed", 7},
                           {"thinkingConfig", {{"thinkingBudget", 1024}}},
                           {"responseMimeType", "application/json"}}}});
    EXPECT_EQ(chat["max_tokens"], 256);
    EXPECT_EQ(chat["temperature"], 0.5);
    EXPECT_EQ(chat["top_p"], 0.9);
    EXPECT_FALSE(chat.contains("top_k"));
    EXPECT_EQ(chat["stop"], json({"END"}));
    EXPECT_EQ(chat["n"], 2);
    EXPECT_EQ(chat["presence_penalty"], 0.1);
    EXPECT_EQ(chat["frequency_penalty"], -0.2);
    EXPECT_EQ(chat["seed"], 7);
    EXPECT_EQ(chat["response_format"], json({{"type", "json_object"}}));

    // proto3 JSON's other spelling (the proto field names) reads the same.
    chat = to_chat({{"contents", {user_text("hi")}},
                    {"generation_config", {{"max_output_tokens", 9}, {"top_p", 1}}}});
    EXPECT_EQ(chat["max_tokens"], 9);
    EXPECT_EQ(chat["top_p"], 1);
}

TEST(GeminiRequest, ResponseSchemaIsLowerCased) {
    json schema = json::parse(R"({"type":"OBJECT","properties":{
        "type":{"type":"STRING","enum":["CAT","DOG"]},
        "tags":{"type":"ARRAY","items":{"type":"STRING"}},
        "n":{"type":["INTEGER","NULL"],"default":{"type":"KEEP"}}},
        "required":["type"]})");
    json chat = to_chat({{"contents", {user_text("hi")}},
                         {"generationConfig",
                          {{"responseMimeType", "application/json"}, {"responseSchema", schema}}}});
    json expect = json::parse(R"({"type":"json_schema","json_schema":{"name":"response","schema":
        {"type":"object","properties":{
          "type":{"type":"string","enum":["CAT","DOG"]},
          "tags":{"type":"array","items":{"type":"string"}},
          "n":{"type":["integer","null"],"default":{"type":"KEEP"}}},
         "required":["type"]}}})");
    EXPECT_EQ(chat["response_format"], expect);
}

TEST(GeminiRequest, ToolsAndToolConfigModes) {
    json tools = json::parse(R"([{"functionDeclarations":[
        {"name":"weather","description":"get weather","parameters":{"type":"OBJECT",
          "properties":{"city":{"type":"STRING"}},"required":["city"]}},
        {"name":"time","parametersJsonSchema":{"type":"object"}},
        {"name":"noop"}]}])");
    auto with_mode = [&](json fcc) {
        return to_chat({{"contents", {user_text("hi")}},
                        {"tools", tools},
                        {"toolConfig", {{"functionCallingConfig", fcc}}}});
    };
    json chat = with_mode({{"mode", "AUTO"}});
    ASSERT_EQ(chat["tools"].size(), 3u);
    EXPECT_EQ(chat["tools"][0], json::parse(R"({"type":"function","function":{"name":"weather",
        "description":"get weather","parameters":{"type":"object",
        "properties":{"city":{"type":"string"}},"required":["city"]}}})"));
    EXPECT_EQ(chat["tools"][1]["function"]["parameters"], json({{"type", "object"}}));
    EXPECT_FALSE(chat["tools"][2]["function"].contains("parameters"));
    EXPECT_EQ(chat["tool_choice"], "auto");

    EXPECT_EQ(with_mode({{"mode", "NONE"}})["tool_choice"], "none");
    EXPECT_EQ(with_mode({{"mode", "ANY"}})["tool_choice"], "required");
    chat = with_mode({{"mode", "ANY"}, {"allowedFunctionNames", {"time"}}});
    EXPECT_EQ(chat["tool_choice"],
              json::parse(R"({"type":"function","function":{"name":"time"}})"));
    // Several allowed names: only those are declared, and one of them must be called.
    chat = with_mode({{"mode", "ANY"}, {"allowedFunctionNames", {"time", "noop"}}});
    EXPECT_EQ(chat["tool_choice"], "required");
    ASSERT_EQ(chat["tools"].size(), 2u);
    EXPECT_EQ(chat["tools"][0]["function"]["name"], "time");

    // No toolConfig: no tool_choice.
    chat = to_chat({{"contents", {user_text("hi")}}, {"tools", tools}});
    EXPECT_FALSE(chat.contains("tool_choice"));
}

TEST(GeminiRequest, IgnoredFieldsPass) {
    json chat =
        to_chat({{"contents", {user_text("hi")}},
                 {"safetySettings",
                  {{{"category", "HARM_CATEGORY_HARASSMENT"}, {"threshold", "BLOCK_NONE"}}}},
                 {"labels", {{"team", "a"}}}});
    EXPECT_FALSE(chat.contains("safetySettings"));
    EXPECT_FALSE(chat.contains("labels"));
}

TEST(GeminiRequest, RefusalsNameTheField) {
    EXPECT_EQ(refused_text("not json").param, "");
    EXPECT_FALSE(refused_text("not json").message.empty());
    EXPECT_EQ(refused_text("[1]").param, "");
    EXPECT_EQ(refused(json::object()).param, "contents");
    EXPECT_EQ(refused(json{{"contents", json::array()}}).param, "contents");
    EXPECT_EQ(
        refused(json{{"contents", {user_text("a")}}, {"cachedContent", "cachedContents/x"}}).param,
        "cachedContent");
    EXPECT_EQ(refused(json{{"contents", {user_text("a")}}, {"bogus", 1}}).param, "bogus");
    EXPECT_EQ(
        refused(json{{"contents", {{{"role", "system"}, {"parts", {{{"text", "a"}}}}}}}}).param,
        "contents[0].role");

    json pdf = {{"contents",
                 {user_text("a"),
                  {{"role", "user"},
                   {"parts",
                    {{{"text", "read"}},
                     {{"inlineData", {{"mimeType", "application/pdf"}, {"data", "JVBE"}}}}}}}}}};
    EXPECT_EQ(refused(pdf).param, "contents[1].parts[1].inlineData.mimeType");

    json video = {
        {"contents",
         {{{"parts", {{{"fileData", {{"mimeType", "video/mp4"}, {"fileUri", "https://x/v"}}}}}}}}}};
    EXPECT_EQ(refused(video).param, "contents[0].parts[0].fileData.mimeType");

    json clip = {{"contents",
                  {{{"parts",
                     {{{"fileData", {{"mimeType", "image/png"}, {"fileUri", "https://x/v"}}},
                       {"videoMetadata", {{"startOffset", "1s"}}}}}}}}}};
    EXPECT_EQ(refused(clip).param, "contents[0].parts[0].videoMetadata");
    json gs = {
        {"contents",
         {{{"parts", {{{"fileData", {{"mimeType", "image/png"}, {"fileUri", "gs://b/o"}}}}}}}}}};
    EXPECT_EQ(refused(gs).param, "contents[0].parts[0].fileData.fileUri");
    json call_in_user = {
        {"contents",
         {{{"parts", {{{"functionCall", {{"name", "f"}, {"args", json::object()}}}}}}}}}};
    EXPECT_EQ(refused(call_in_user).param, "contents[0].parts[0].functionCall");
    json allowed_auto = {
        {"contents", {user_text("a")}},
        {"toolConfig",
         {{"functionCallingConfig", {{"mode", "AUTO"}, {"allowedFunctionNames", {"f"}}}}}}};
    EXPECT_EQ(refused(allowed_auto).param, "toolConfig.functionCallingConfig.allowedFunctionNames");

    json code = {{"contents",
                  {{{"role", "model"},
                    {"parts", {{{"executableCode", {{"language", "PYTHON"}, {"code", "1"}}}}}}}}}};
    EXPECT_EQ(refused(code).param, "contents[0].parts[0].executableCode");

    json orphan = {
        {"contents",
         {{{"parts", {{{"functionResponse", {{"name", "f"}, {"response", json::object()}}}}}}}}}};
    EXPECT_EQ(refused(orphan).param, "contents[0].parts[0].functionResponse");

    json search = {
        {"contents", {user_text("a")}},
        {"tools", {{{"functionDeclarations", json::array()}}, {{"googleSearch", json::object()}}}}};
    EXPECT_EQ(refused(search).param, "tools[1]");
    json exec = {{"contents", {user_text("a")}}, {"tools", {{{"codeExecution", json::object()}}}}};
    EXPECT_EQ(refused(exec).param, "tools[0]");

    json enum_mime = {{"contents", {user_text("a")}},
                      {"generationConfig", {{"responseMimeType", "text/x.enum"}}}};
    EXPECT_EQ(refused(enum_mime).param, "generationConfig.responseMimeType");
    json schema_no_json = {{"contents", {user_text("a")}},
                           {"generationConfig", {{"responseSchema", {{"type", "STRING"}}}}}};
    EXPECT_EQ(refused(schema_no_json).param, "generationConfig.responseSchema");
    json audio_out = {{"contents", {user_text("a")}},
                      {"generationConfig", {{"responseModalities", {"AUDIO"}}}}};
    EXPECT_EQ(refused(audio_out).param, "generationConfig.responseModalities");
    audio_out["generationConfig"]["responseModalities"] = "AUDIO";
    EXPECT_EQ(refused(audio_out).param, "generationConfig.responseModalities");
}

// ---- answer ----

dialect::answer_context answer_ctx() {
    dialect::answer_context ac;
    ac.request_id = "req-42";
    ac.model = "gemini-2.5-pro";
    ac.created = 1700000000;
    return ac;
}

json answer(const json& chat) {
    auto out = dialect::answer_from_chat(gem, chat.dump(), answer_ctx());
    EXPECT_TRUE(out.has_value());
    return out ? json::parse(*out) : json();
}

TEST(GeminiAnswer, TextAnswer) {
    json g = answer(json::parse(R"({"id":"chatcmpl-1","object":"chat.completion","model":"gpt-x",
        "choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},
                    "finish_reason":"stop"}],
        "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}})"));
    EXPECT_EQ(g["candidates"], json::parse(R"([{"content":{"parts":[{"text":"Hello"}],
        "role":"model"},"finishReason":"STOP","index":0}])"));
    EXPECT_EQ(g["usageMetadata"], json::parse(R"({"promptTokenCount":10,
        "candidatesTokenCount":5,"totalTokenCount":15})"));
    EXPECT_EQ(g["modelVersion"], "gpt-x");
    EXPECT_EQ(g["responseId"], "req-42");
}

TEST(GeminiAnswer, FunctionCallCarriesArgsAsAnObject) {
    json g = answer(json::parse(R"({"object":"chat.completion",
        "choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
          {"id":"call_9","type":"function","function":{"name":"weather",
           "arguments":"{\"city\":\"Oslo\",\"days\":[1,2]}"}},
          {"id":"call_10","type":"function","function":{"name":"broken","arguments":"{\"cut"}}]},
          "finish_reason":"tool_calls"}]})"));
    const json& parts = g["candidates"][0]["content"]["parts"];
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0], json::parse(R"({"functionCall":{"name":"weather",
        "args":{"city":"Oslo","days":[1,2]},"id":"call_9"}})"));
    EXPECT_EQ(parts[1]["functionCall"]["args"], json::object());
    EXPECT_EQ(g["candidates"][0]["finishReason"], "STOP");
    EXPECT_EQ(g["modelVersion"], "gemini-2.5-pro");  // the chat answer named none
    EXPECT_FALSE(g.contains("usageMetadata"));
}

TEST(GeminiAnswer, FinishReasonsAndOneCandidatePerChoice) {
    json g = answer(json::parse(R"({"object":"chat.completion","choices":[
        {"index":0,"message":{"content":"a"},"finish_reason":"length"},
        {"index":1,"message":{"content":"b"},"finish_reason":"content_filter"},
        {"index":2,"message":{"content":"c"},"finish_reason":"something_new"},
        {"index":3,"message":{"content":"d"},"finish_reason":"tool_calls"}]})"));
    ASSERT_EQ(g["candidates"].size(), 4u);
    EXPECT_EQ(g["candidates"][0]["finishReason"], "MAX_TOKENS");
    EXPECT_EQ(g["candidates"][1]["finishReason"], "SAFETY");
    EXPECT_EQ(g["candidates"][2]["finishReason"], "STOP");
    EXPECT_EQ(g["candidates"][3]["finishReason"], "STOP");
    EXPECT_EQ(g["candidates"][2]["index"], 2);
}

TEST(GeminiAnswer, UsageSplitsReasoningAndKeepsCachedInThePrompt) {
    json g = answer(json::parse(R"({"object":"chat.completion",
        "choices":[{"index":0,"message":{"content":"x","reasoning_content":"thinking"},
                    "finish_reason":"stop"}],
        "usage":{"prompt_tokens":100,"completion_tokens":50,"total_tokens":150,
          "prompt_tokens_details":{"cached_tokens":60},
          "completion_tokens_details":{"reasoning_tokens":30}}})"));
    const json& u = g["usageMetadata"];
    EXPECT_EQ(u["promptTokenCount"], 100);  // cached tokens included, as OpenAI counts them
    EXPECT_EQ(u["cachedContentTokenCount"], 60);
    EXPECT_EQ(u["candidatesTokenCount"], 20);  // completion minus reasoning
    EXPECT_EQ(u["thoughtsTokenCount"], 30);
    EXPECT_EQ(u["totalTokenCount"], 150);
    const json& parts = g["candidates"][0]["content"]["parts"];
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0], json({{"text", "thinking"}, {"thought", true}}));
    EXPECT_EQ(parts[1], json({{"text", "x"}}));
}

TEST(GeminiAnswer, NotAChatCompletion) {
    dialect::answer_context ac = answer_ctx();
    EXPECT_FALSE(dialect::answer_from_chat(gem, "nope", ac).has_value());
    EXPECT_FALSE(dialect::answer_from_chat(gem, R"({"object":"list","data":[]})", ac));
    EXPECT_FALSE(dialect::answer_from_chat(gem, "[]", ac).has_value());
}

// ---- stream ----

struct streamer {
    std::unique_ptr<dialect::stream_translator> t =
        dialect::make_stream_translator(gem, answer_ctx());
    std::string out;

    void feed(std::string_view chunk) {
        ditto::core::json_dom dom;
        ASSERT_TRUE(dom.parse(chunk)) << chunk;
        t->chunk(dom.root(), out);
    }
    /// Every event so far, each checked to be `data: <JSON>\r\n\r\n`.
    std::vector<json> events() {
        std::vector<json> ev;
        std::size_t pos = 0;
        while (pos < out.size()) {
            const std::size_t end = out.find("\r\n\r\n", pos);
            EXPECT_NE(end, std::string::npos) << out.substr(pos);
            if (end == std::string::npos)
                break;
            std::string_view e(out.data() + pos, end - pos);
            EXPECT_TRUE(e.starts_with("data: ")) << e;
            EXPECT_EQ(e.find('\n'), std::string_view::npos) << e;
            ev.push_back(json::parse(e.substr(6)));
            pos = end + 4;
        }
        return ev;
    }
};

TEST(GeminiStream, TextDeltasAreOneEventEachThenAClosingEvent) {
    streamer s;
    ASSERT_NE(s.t, nullptr);
    s.feed(R"({"id":"c1","model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant",
        "content":""}}]})");
    EXPECT_TRUE(s.out.empty());
    s.feed(R"({"id":"c1","model":"gpt-x","choices":[{"index":0,"delta":{"content":"Hel"}}]})");
    s.feed(R"({"id":"c1","model":"gpt-x","choices":[{"index":0,"delta":{"content":"lo"}}]})");
    auto ev = s.events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0]["candidates"], json::parse(R"([{"content":{"parts":[{"text":"Hel"}],
        "role":"model"},"index":0}])"));
    EXPECT_EQ(ev[0]["modelVersion"], "gpt-x");
    EXPECT_EQ(ev[0]["responseId"], "req-42");
    EXPECT_EQ(ev[1]["candidates"][0]["content"]["parts"][0]["text"], "lo");

    s.feed(R"({"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"length"}]})");
    EXPECT_EQ(s.events().size(), 2u);  // the closing event waits for the usage
    s.feed(R"({"id":"c1","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":12,
        "total_tokens":19,"completion_tokens_details":{"reasoning_tokens":2}}})");
    ev = s.events();
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[2]["candidates"][0]["finishReason"], "MAX_TOKENS");
    EXPECT_EQ(ev[2]["usageMetadata"], json::parse(R"({"promptTokenCount":7,
        "candidatesTokenCount":10,"totalTokenCount":19,"thoughtsTokenCount":2})"));
    const std::size_t size = s.out.size();
    s.t->finish(true, s.out);
    EXPECT_EQ(s.out.size(), size);  // sent once
}

TEST(GeminiStream, ToolCallIsHeldUntilComplete) {
    streamer s;
    s.feed(R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a",
        "type":"function","function":{"name":"weather","arguments":""}}]}}]})");
    s.feed(R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,
        "function":{"arguments":"{\"city\":"}}]}}]})");
    s.feed(R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,
        "function":{"arguments":"\"Oslo\"}"}}]}}]})");
    EXPECT_TRUE(s.out.empty());
    s.feed(R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b",
        "type":"function","function":{"name":"time","arguments":"{}"}}]}}]})");
    auto ev = s.events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]["candidates"][0]["content"]["parts"][0],
              json::parse(R"({"functionCall":{"name":"weather","args":{"city":"Oslo"},
                  "id":"call_a"}})"));
    s.feed(R"({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})");
    ev = s.events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[1]["candidates"][0]["content"]["parts"][0]["functionCall"]["name"], "time");
    // No usage chunk came: [DONE] closes with STOP and no usageMetadata.
    s.t->finish(true, s.out);
    ev = s.events();
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[2]["candidates"][0]["finishReason"], "STOP");
    EXPECT_FALSE(ev[2].contains("usageMetadata"));
}

TEST(GeminiStream, CutStreamEndsWithoutAClosingEvent) {
    streamer s;
    s.feed(R"({"choices":[{"index":0,"delta":{"content":"par"}}]})");
    s.feed(R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c",
        "function":{"name":"f","arguments":"{\"a"}}]}}]})");
    s.t->finish(false, s.out);
    auto ev = s.events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_FALSE(ev[0]["candidates"][0].contains("finishReason"));
}

TEST(GeminiStream, ReasoningDeltasAreThoughtParts) {
    streamer s;
    s.feed(R"({"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]})");
    s.feed(R"({"choices":[{"index":0,"delta":{"content":"ok"}}]})");
    auto ev = s.events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0]["candidates"][0]["content"]["parts"][0],
              json({{"text", "hmm"}, {"thought", true}}));
    EXPECT_EQ(ev[1]["candidates"][0]["content"]["parts"][0], json({{"text", "ok"}}));
}

// ---- errors ----

TEST(GeminiError, StatusNamesAndMessages) {
    auto err = [](unsigned status, std::string_view body) {
        return json::parse(dialect::error_from_openai(gem, status, body));
    };
    json e = err(429, R"({"error":{"message":"slow down","type":"rate_limit_error",
        "code":"rate_limited","param":null}})");
    EXPECT_EQ(e, json::parse(R"({"error":{"code":429,"message":"slow down",
        "status":"RESOURCE_EXHAUSTED"}})"));

    const std::vector<std::pair<unsigned, std::string>> names = {
        {400, "INVALID_ARGUMENT"},  {401, "UNAUTHENTICATED"}, {402, "FAILED_PRECONDITION"},
        {403, "PERMISSION_DENIED"}, {404, "NOT_FOUND"},       {409, "ABORTED"},
        {413, "INVALID_ARGUMENT"},  {499, "CANCELLED"},       {500, "INTERNAL"},
        {501, "UNIMPLEMENTED"},     {502, "UNAVAILABLE"},     {503, "UNAVAILABLE"},
        {504, "DEADLINE_EXCEEDED"}, {418, "UNKNOWN"}};
    for (const auto& [status, name] : names) {
        json x = err(status, R"({"error":{"message":"m"}})");
        EXPECT_EQ(x["error"]["status"], name) << status;
        EXPECT_EQ(x["error"]["code"], status);
    }

    EXPECT_EQ(err(502, "<html>Bad gateway</html>")["error"]["message"], "<html>Bad gateway</html>");
    EXPECT_EQ(err(502, std::string(3000, 'x'))["error"]["message"].get<std::string>().size(),
              1000u);
    EXPECT_EQ(err(503, "")["error"]["message"], "the upstream answered HTTP 503");
    EXPECT_EQ(err(500, R"({"error":"plain"})")["error"]["message"], "plain");
}

}  // namespace
