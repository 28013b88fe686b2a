#include "ditto/middleware/guardrails.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace ditto::middleware {
namespace {

using config::guardrails_config;
using config::route_rule;
using config::router_config;
using config::virtual_key_config;

std::uint64_t estimate(std::string_view body) {
    return (body.size() + 3) / 4;
}

/// A JSON POST to `path` whose model is read by the caller (here: given).
guardrail_input json_post(std::string_view path, std::string_view body,
                          std::string_view model = "") {
    guardrail_input in;
    in.method = "POST";
    in.path = path;
    in.content_type = "application/json";
    in.model = model;
    in.raw_body = body;
    in.input_tokens = estimate(body);
    in.body_is_json = true;
    return in;
}

guardrails_config schema_on() {
    guardrails_config g;
    g.validate_schema = true;
    return g;
}

/// The schema reason for `body` on `path`, or "" when it passes.
std::string schema_reason(std::string_view path, std::string_view body) {
    const compiled_guardrails g(schema_on());
    const auto v = g.check(json_post(path, body));
    if (v.ok())
        return "";
    EXPECT_EQ(v.error, http::gateway_error::invalid_request);
    return v.message;
}

void expect_policy(const guardrail_verdict& v, const std::string& message) {
    EXPECT_EQ(v.error, http::gateway_error::guardrail_rejected);
    EXPECT_EQ(v.message, message);
}

// ---- model ----

TEST(GuardrailsModel, DenyPrefixAndExact) {
    guardrails_config c;
    c.deny_models = {"  ", "gpt-4*", "o1"};
    const compiled_guardrails g(c);
    expect_policy(g.check(json_post("/v1/chat/completions", "{}", "gpt-4o")), "deny_model:gpt-4*");
    expect_policy(g.check(json_post("/v1/chat/completions", "{}", "o1")), "deny_model:o1");
    EXPECT_TRUE(g.check(json_post("/v1/chat/completions", "{}", "o1-mini")).ok());
    EXPECT_TRUE(g.check(json_post("/v1/chat/completions", "{}", "gpt-3.5")).ok());
}

TEST(GuardrailsModel, AllowListAndBlankPatterns) {
    guardrails_config c;
    c.allow_models = {"gpt-*", ""};
    const compiled_guardrails g(c);
    EXPECT_TRUE(g.check(json_post("/v1/chat/completions", "{}", "gpt-4o")).ok());
    expect_policy(g.check(json_post("/v1/chat/completions", "{}", "o1")), "model_not_allowed:o1");
    // Only blanks: nothing matches, so every model is refused.
    guardrails_config blanks;
    blanks.allow_models = {" "};
    expect_policy(compiled_guardrails(blanks).check(json_post("/v1/x", "{}", "a")),
                  "model_not_allowed:a");
}

TEST(GuardrailsModel, DenyWinsOverAllowAndNoModelSkips) {
    guardrails_config c;
    c.allow_models = {"gpt-*"};
    c.deny_models = {"gpt-4"};
    const compiled_guardrails g(c);
    expect_policy(g.check(json_post("/v1/chat/completions", "{}", "gpt-4")), "deny_model:gpt-4");
    EXPECT_TRUE(g.check(json_post("/v1/chat/completions", "{}", "")).ok());
    EXPECT_TRUE(g.check(json_post("/v1/chat/completions", "{}", "   ")).ok());
    // The model is trimmed before matching and in the message.
    expect_policy(g.check(json_post("/v1/chat/completions", "{}", " o1 ")), "model_not_allowed:o1");
}

// ---- input tokens ----

TEST(GuardrailsTokens, GreaterThanLimitOnly) {
    guardrails_config c;
    c.max_input_tokens = 100;
    const compiled_guardrails g(c);
    auto in = json_post("/v1/chat/completions", "{}");
    in.input_tokens = 100;
    EXPECT_TRUE(g.check(in).ok());
    in.input_tokens = 101;
    expect_policy(g.check(in), "input_tokens>100");
    c.max_input_tokens = 0;
    in.input_tokens = 1;
    expect_policy(compiled_guardrails(c).check(in), "input_tokens>0");
}

// ---- order ----

TEST(GuardrailsOrder, ModelThenTokensThenSchemaThenText) {
    guardrails_config c;
    c.deny_models = {"bad"};
    c.max_input_tokens = 2;
    c.validate_schema = true;
    c.banned_phrases = {"secret"};
    const std::string body = R"({"model":"bad","secret":1})";
    auto in = json_post("/v1/chat/completions", body, "bad");
    expect_policy(compiled_guardrails(c).check(in), "deny_model:bad");
    c.deny_models.clear();
    expect_policy(compiled_guardrails(c).check(in), "input_tokens>2");
    c.max_input_tokens.reset();
    EXPECT_EQ(compiled_guardrails(c).check(in).message, "`messages` must be an array");
    EXPECT_EQ(compiled_guardrails(c).check(in).error, http::gateway_error::invalid_request);
    c.validate_schema = false;
    expect_policy(compiled_guardrails(c).check(in), "banned_phrase:secret");
}

TEST(GuardrailsOrder, PhrasesThenRegexesThenEmailThenSsn) {
    guardrails_config c;
    c.banned_phrases = {"alpha"};
    c.banned_regexes = {"b.ta"};
    c.block_pii = true;
    const std::string all = "alpha beta a@b.co 123-45-6789";
    expect_policy(compiled_guardrails(c).check(json_post("/v1/x", all)), "banned_phrase:alpha");
    c.banned_phrases.clear();
    expect_policy(compiled_guardrails(c).check(json_post("/v1/x", all)), "banned_regex:b.ta");
    c.banned_regexes.clear();
    expect_policy(compiled_guardrails(c).check(json_post("/v1/x", all)), "pii:email");
    expect_policy(compiled_guardrails(c).check(json_post("/v1/x", "ssn 123-45-6789")), "pii:ssn");
}

// ---- text filters ----

TEST(GuardrailsText, PhrasesCaseInsensitiveBlanksSkippedTrimmed) {
    guardrails_config c;
    c.banned_phrases = {"", "   ", " Forbidden Word ", "a.b"};
    const compiled_guardrails g(c);
    expect_policy(g.check(json_post("/v1/x", R"({"p":"the FORBIDDEN word!"})")),
                  "banned_phrase:Forbidden Word");
    // Literal, not a regex.
    EXPECT_TRUE(g.check(json_post("/v1/x", "axb")).ok());
    expect_policy(g.check(json_post("/v1/x", "xA.Bx")), "banned_phrase:a.b");
    EXPECT_TRUE(g.check(json_post("/v1/x", "harmless")).ok());
}

TEST(GuardrailsText, RegexCaseInsensitive) {
    guardrails_config c;
    c.banned_regexes = {" ", "b.r", R"(\bkill\s+\w+)"};
    const compiled_guardrails g(c);
    expect_policy(g.check(json_post("/v1/x", "FooBAR")), "banned_regex:b.r");
    expect_policy(g.check(json_post("/v1/x", "KILL   process")), R"(banned_regex:\bkill\s+\w+)");
    EXPECT_TRUE(g.check(json_post("/v1/x", "skill")).ok());
}

TEST(GuardrailsText, InvalidRegexFailsClosed) {
    guardrails_config c;
    c.banned_regexes = {"("};
    expect_policy(compiled_guardrails(c).check(json_post("/v1/x", "x")), "banned_regex_invalid:(");
}

TEST(GuardrailsText, Pii) {
    guardrails_config c;
    c.block_pii = true;
    const compiled_guardrails g(c);
    expect_policy(g.check(json_post("/v1/x", R"({"c":"mail John.Doe+x@Example.COM now"})")),
                  "pii:email");
    expect_policy(g.check(json_post("/v1/x", R"({"c":"ssn: 078-05-1120."})")), "pii:ssn");
    EXPECT_TRUE(g.check(json_post("/v1/x", "user@localhost")).ok());
    EXPECT_TRUE(g.check(json_post("/v1/x", "1078-05-1120")).ok());
    EXPECT_TRUE(g.check(json_post("/v1/x", "078-5-1120 and 07805-1120")).ok());
    // Without block_pii nothing is blocked.
    EXPECT_TRUE(compiled_guardrails(guardrails_config{}).check(json_post("/v1/x", "a@b.co")).ok());
}

TEST(GuardrailsText, NonUtf8BodySkipsTextFilters) {
    guardrails_config c;
    c.banned_phrases = {"secret"};
    c.banned_regexes = {"secret"};
    c.block_pii = true;
    const compiled_guardrails g(c);
    for (std::string bad : {std::string("secret \xff"), std::string("secret \xc0\xaf"),
                            std::string("secret \xed\xa0\x80"), std::string("secret \xe2\x82")}) {
        bad += " a@b.co";
        auto in = json_post("/v1/x", bad);
        in.body_is_json = false;
        in.method = "PUT";
        EXPECT_TRUE(g.check(in).ok()) << bad;
    }
    // Valid multi-byte UTF-8 is filtered.
    expect_policy(g.check(json_post("/v1/x", "caf\xc3\xa9 secret \xf0\x9f\x98\x80")),
                  "banned_phrase:secret");
}

TEST(GuardrailsText, UnicodeCaseFolding) {
    guardrails_config c;
    c.banned_phrases = {"\xc3\x84rger"};  // "Ärger"
    expect_policy(compiled_guardrails(c).check(json_post("/v1/x", "viel \xc3\xa4rger")),
                  "banned_phrase:\xc3\x84rger");
}

// ---- schema: generic and chat ----

TEST(GuardrailsSchema, NotAnObject) {
    EXPECT_EQ(schema_reason("/v1/chat/completions", "[]"), "request body must be a JSON object");
    EXPECT_EQ(schema_reason("/v1/embeddings", "\"x\""), "request body must be a JSON object");
    EXPECT_EQ(schema_reason("/v1/batches", "1"), "request body must be a JSON object");
    // Unknown paths are not checked.
    EXPECT_EQ(schema_reason("/v1/unknown", "[]"), "");
    EXPECT_EQ(schema_reason("/v1/models", "{}"), "");
}

TEST(GuardrailsSchema, ChatCompletions) {
    const char* p = "/v1/chat/completions";
    EXPECT_EQ(schema_reason(p, R"({"messages":[]})"), "missing field `model`");
    EXPECT_EQ(schema_reason(p, R"({"model":"  ","messages":[]})"), "missing field `model`");
    EXPECT_EQ(schema_reason(p, R"({"model":1,"messages":[]})"), "missing field `model`");
    EXPECT_EQ(schema_reason(p, R"({"model":"m"})"), "`messages` must be an array");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","messages":{}})"), "`messages` must be an array");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","messages":[{"role":"user","content":"x"},1]})"),
              "messages[1] must be an object");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","messages":[{"content":"x"}]})"),
              "messages[0].role must be a non-empty string");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","messages":[{"role":" ","content":"x"}]})"),
              "messages[0].role must be a non-empty string");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","messages":[{"role":"user"}]})"),
              "messages[0].content is required");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","messages":[{"role":"user","content":null}]})"), "");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","messages":[]})"), "");
}

TEST(GuardrailsSchema, Responses) {
    for (const char* p : {"/v1/responses", "/v1/responses/compact"}) {
        EXPECT_EQ(schema_reason(p, R"({"input":"x"})"), "missing field `model`");
        EXPECT_EQ(schema_reason(p, R"({"model":"m"})"), "missing field `input`");
        EXPECT_EQ(schema_reason(p, R"({"model":"m","input":1})"),
                  "`input` must be a string, array, or object");
        EXPECT_EQ(schema_reason(p, R"({"model":"m","input":null})"),
                  "`input` must be a string, array, or object");
        EXPECT_EQ(schema_reason(p, R"({"model":"m","input":"x"})"), "");
        EXPECT_EQ(schema_reason(p, R"({"model":"m","input":[]})"), "");
        EXPECT_EQ(schema_reason(p, R"({"model":"m","input":{}})"), "");
    }
}

TEST(GuardrailsSchema, Embeddings) {
    const char* p = "/v1/embeddings";
    EXPECT_EQ(schema_reason(p, R"({"input":"x"})"), "missing field `model`");
    EXPECT_EQ(schema_reason(p, R"({"model":"m"})"), "missing field `input`");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","input":{}})"), "`input` must be a string or array");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","input":["a"]})"), "");
}

TEST(GuardrailsSchema, Completions) {
    const char* p = "/v1/completions";
    EXPECT_EQ(schema_reason(p, R"({"prompt":"x"})"), "missing field `model`");
    EXPECT_EQ(schema_reason(p, R"({"model":"m"})"), "missing field `prompt`");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","prompt":3})"),
              "`prompt` must be a string or array");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","prompt":"x"})"), "");
}

TEST(GuardrailsSchema, Moderations) {
    const char* p = "/v1/moderations";
    EXPECT_EQ(schema_reason(p, R"({})"), "missing field `input`");
    EXPECT_EQ(schema_reason(p, R"({"input":null})"), "`input` must not be null");
    EXPECT_EQ(schema_reason(p, R"({"input":true})"), "`input` must be a string, array, or object");
    EXPECT_EQ(schema_reason(p, R"({"input":"x"})"), "");  // no model needed
}

TEST(GuardrailsSchema, ImagesGenerations) {
    const char* p = "/v1/images/generations";
    EXPECT_EQ(schema_reason(p, R"({})"), "missing field `prompt`");
    EXPECT_EQ(schema_reason(p, R"({"prompt":"  "})"), "`prompt` must be a non-empty string");
    EXPECT_EQ(schema_reason(p, R"({"prompt":null})"), "`prompt` must be a non-empty string");
    EXPECT_EQ(schema_reason(p, R"({"prompt":"a cat"})"), "");
}

TEST(GuardrailsSchema, AudioSpeech) {
    const char* p = "/v1/audio/speech";
    EXPECT_EQ(schema_reason(p, R"({"input":"x","voice":"v"})"), "missing field `model`");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","voice":"v"})"), "missing field `input`");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","input":"","voice":"v"})"), "missing field `input`");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","input":"x"})"), "missing field `voice`");
    EXPECT_EQ(schema_reason(p, R"({"model":"m","input":"x","voice":"v"})"), "");
}

TEST(GuardrailsSchema, Rerank) {
    const char* p = "/v1/rerank";
    EXPECT_EQ(schema_reason(p, R"({"documents":[]})"), "missing field `query`");
    EXPECT_EQ(schema_reason(p, R"({"query":" ","documents":[]})"), "missing field `query`");
    EXPECT_EQ(schema_reason(p, R"({"query":"q"})"), "missing field `documents`");
    EXPECT_EQ(schema_reason(p, R"({"query":"q","documents":"d"})"), "`documents` must be an array");
    EXPECT_EQ(schema_reason(p, R"({"query":"q","documents":[]})"), "");
}

TEST(GuardrailsSchema, Batches) {
    const char* p = "/v1/batches";
    EXPECT_EQ(schema_reason(p, R"({"endpoint":"e","completion_window":"24h"})"),
              "missing field `input_file_id`");
    EXPECT_EQ(schema_reason(p, R"({"input_file_id":"f","completion_window":"24h"})"),
              "missing field `endpoint`");
    EXPECT_EQ(schema_reason(p, R"({"input_file_id":"f","endpoint":"e"})"),
              "missing field `completion_window`");
    EXPECT_EQ(schema_reason(p, R"({"input_file_id":"f","endpoint":"e","completion_window":"24h"})"),
              "");
}

TEST(GuardrailsSchema, OffWhenNotConfigured) {
    const compiled_guardrails g(guardrails_config{});
    EXPECT_TRUE(g.check(json_post("/v1/chat/completions", "[]")).ok());
}

// ---- schema: multipart ----

std::string form(std::initializer_list<std::pair<std::string, std::string>> fields,
                 bool with_file) {
    std::string b;
    for (const auto& [name, value] : fields)
        b += "--XB\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value +
             "\r\n";
    if (with_file)
        b += "--XB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
             "Content-Type: audio/wav\r\n\r\nRIFF\x01\x02\r\n";
    b += "--XB--\r\n";
    return b;
}

std::string multipart_reason(std::string_view path, std::string_view content_type,
                             std::string_view body, std::string_view method = "POST") {
    const compiled_guardrails g(schema_on());
    guardrail_input in;
    in.method = method;
    in.path = path;
    in.content_type = content_type;
    in.raw_body = body;
    const auto v = g.check(in);
    if (v.ok())
        return "";
    EXPECT_EQ(v.error, http::gateway_error::invalid_request);
    return v.message;
}

TEST(GuardrailsMultipart, Audio) {
    const char* ct = "multipart/form-data; boundary=XB";
    for (std::string ep : {"audio/transcriptions", "audio/translations"}) {
        const std::string p = "/v1/" + ep;
        EXPECT_EQ(multipart_reason(p, ct, form({{"model", "whisper-1"}}, true)), "");
        EXPECT_EQ(multipart_reason(p + "/", ct, form({{"model", "whisper-1"}}, true)), "");
        EXPECT_EQ(multipart_reason(p, ct, form({{"model", "whisper-1"}}, false)),
                  ep + " request missing file");
        EXPECT_EQ(multipart_reason(p, ct, form({{"model", "  "}}, true)),
                  ep + " request missing model");
        EXPECT_EQ(multipart_reason(p, ct, form({}, true)), ep + " request missing model");
        EXPECT_EQ(multipart_reason(p, "application/octet-stream", "x"),
                  ep + " request must be multipart/form-data");
        EXPECT_EQ(multipart_reason(p, "", "x"), ep + " request missing content-type");
    }
}

TEST(GuardrailsMultipart, Files) {
    const char* p = "/v1/files";
    const char* ct = "Multipart/Form-Data; boundary=\"XB\"";
    EXPECT_EQ(multipart_reason(p, ct, form({{"purpose", "batch"}}, true)), "");
    EXPECT_EQ(multipart_reason(p, ct, form({{"purpose", "batch"}}, false)),
              "files request missing file");
    EXPECT_EQ(multipart_reason(p, ct, form({{"model", "m"}}, true)),
              "files request missing purpose");
    EXPECT_EQ(multipart_reason(p, "text/plain", "x"), "files request must be multipart/form-data");
}

TEST(GuardrailsMultipart, MalformedBodies) {
    const char* p = "/v1/files";
    EXPECT_EQ(multipart_reason(p, "multipart/form-data", "x"), "multipart boundary is missing");
    EXPECT_EQ(multipart_reason(p, "multipart/form-data; boundary=XB", "no marker"),
              "multipart body missing boundary marker");
    EXPECT_EQ(multipart_reason(p, "multipart/form-data; boundary=XB", "--XB\r\nabc"),
              "multipart part missing header separator");
    EXPECT_EQ(multipart_reason(p, "multipart/form-data; boundary=XB",
                               "--XB\r\nContent-Type: text/plain\r\n\r\nx\r\n--XB--"),
              "multipart part missing content-disposition name");
    EXPECT_EQ(multipart_reason(p, "multipart/form-data; boundary=XB",
                               "--XB\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx"),
              "multipart part missing trailing boundary");
}

TEST(GuardrailsMultipart, OnlyPostAndOnlyUploadPaths) {
    EXPECT_EQ(multipart_reason("/v1/files", "text/plain", "x", "GET"), "");
    EXPECT_EQ(multipart_reason("/v1/chat/completions", "text/plain", "x"), "");
    EXPECT_EQ(multipart_reason("/v1/files/file-1", "text/plain", "x"), "");
}

// ---- selection ----

virtual_key_config key_with(guardrails_config g, std::optional<std::string> route = {}) {
    virtual_key_config k;
    k.id = "k1";
    k.token = "sk-1";
    k.guardrails = std::move(g);
    k.route = std::move(route);
    return k;
}

TEST(GuardrailsSelect, V17EmptyRuleGuardrailsOverrideKey) {
    guardrails_config kg;
    kg.banned_regexes = {"forbidden"};
    const auto key = key_with(kg);
    router_config r;
    route_rule gpt;
    gpt.model_prefix = "gpt-*";
    gpt.backend = "a";
    gpt.guardrails = guardrails_config{};
    r.rules.push_back(gpt);
    const guardrails_index idx({key}, r);
    const std::string body = R"({"model":"x","messages":"forbidden"})";
    EXPECT_TRUE(idx.select(key, "gpt-4o").check(json_post("/v1/chat/completions", body)).ok());
    expect_policy(idx.select(key, "o1").check(json_post("/v1/chat/completions", body)),
                  "banned_regex:forbidden");
    expect_policy(idx.select(key, "").check(json_post("/v1/chat/completions", body)),
                  "banned_regex:forbidden");
}

TEST(GuardrailsSelect, KeyRouteIgnoresRules) {
    guardrails_config kg;
    kg.deny_models = {"gpt-*"};
    const auto key = key_with(kg, "backend-a");
    router_config r;
    route_rule gpt;
    gpt.model_prefix = "gpt-";
    gpt.guardrails = guardrails_config{};
    r.rules.push_back(gpt);
    const guardrails_index idx({key}, r);
    expect_policy(idx.select(key, "gpt-4").check(json_post("/v1/x", "{}", "gpt-4")),
                  "deny_model:gpt-*");
}

TEST(GuardrailsSelect, ExactBeforePrefixAndRuleWithoutGuardrailsKeepsKeys) {
    guardrails_config kg;
    kg.banned_phrases = {"key"};
    const auto key = key_with(kg);
    router_config r;
    route_rule prefix;
    prefix.model_prefix = "gpt";
    prefix.guardrails = guardrails_config{};
    prefix.guardrails->banned_phrases = {"prefix"};
    route_rule exact;
    exact.model_prefix = "gpt-4";
    exact.exact = true;
    exact.guardrails = guardrails_config{};
    exact.guardrails->banned_phrases = {"exact"};
    route_rule plain;  // matches "claude", no guardrails
    plain.model_prefix = "claude";
    r.rules = {prefix, exact, plain};
    const guardrails_index idx({key}, r);
    const std::string body = "key prefix exact";
    expect_policy(idx.select(key, "gpt-4").check(json_post("/v1/x", body)), "banned_phrase:exact");
    expect_policy(idx.select(key, "gpt-4o").check(json_post("/v1/x", body)),
                  "banned_phrase:prefix");
    expect_policy(idx.select(key, " gpt-4 ").check(json_post("/v1/x", body)),
                  "banned_phrase:exact");
    expect_policy(idx.select(key, "claude-3").check(json_post("/v1/x", body)), "banned_phrase:key");
}

TEST(GuardrailsSelect, PerKeyAndUnknownKeys) {
    guardrails_config a;
    a.banned_phrases = {"alpha"};
    guardrails_config b;
    b.banned_phrases = {"beta"};
    auto ka = key_with(a);
    auto kb = key_with(b);
    kb.id = "k2";
    const guardrails_index idx({ka, kb}, router_config{});
    const std::string body = "alpha beta";
    expect_policy(idx.select(ka, "m").check(json_post("/v1/x", body)), "banned_phrase:alpha");
    expect_policy(idx.select(kb, "m").check(json_post("/v1/x", body)), "banned_phrase:beta");
    // A key newer than the index is still checked with its own guardrails, compiled once.
    auto kc = key_with(b);
    kc.id = "new";
    const auto& first = idx.select(kc, "m");
    expect_policy(first.check(json_post("/v1/x", body)), "banned_phrase:beta");
    EXPECT_EQ(&first, &idx.select(kc, "m"));
    // Same id, changed guardrails: the new ones apply.
    auto ka2 = ka;
    ka2.guardrails.banned_phrases = {"beta"};
    expect_policy(idx.select(ka2, "m").check(json_post("/v1/x", body)), "banned_phrase:beta");
}

TEST(GuardrailsSelect, ConcurrentChecks) {
    guardrails_config kg;
    kg.banned_regexes = {"x+y"};
    kg.block_pii = true;
    const auto key = key_with(kg);
    const guardrails_index idx({key}, router_config{});
    std::vector<std::thread> threads;
    std::atomic<int> blocked{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                if (!idx.select(key, "m").check(json_post("/v1/x", "aaxxy")).ok())
                    ++blocked;
            }
        });
    }
    for (auto& th : threads)
        th.join();
    EXPECT_EQ(blocked.load(), 800);
}

}  // namespace
}  // namespace ditto::middleware
