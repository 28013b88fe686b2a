#include "ditto/observe/redactor.hpp"

#include <gtest/gtest.h>

namespace ditto::observe {
namespace {

TEST(Redactor, DefaultsScrubSecretsEverywhereAndKeepOrder) {
    redactor r(config::redaction_config{});
    EXPECT_EQ(r.redact_text("Authorization: Bearer abc.def rest"),
              "Authorization: <redacted> rest");
    EXPECT_EQ(r.redact_text("key sk-ABCDEFGHIJ12345 end"), "key <redacted> end");
    EXPECT_EQ(r.redact_text("sk-short"), "sk-short");
    EXPECT_EQ(
        r.redact_json(R"({"z":1,"Api_Key":"x","nested":{"token":{"a":1}},"a":"sk-abcdefghijkl"})"),
        R"({"z":1,"Api_Key":"<redacted>","nested":{"token":"<redacted>"},"a":"<redacted>"})");
    EXPECT_EQ(r.redact_json(R"({"url":"https://h/p?key=s3cret&x=1","path":"/v1?q=2"})"),
              R"({"url":"https://h/p?key=<redacted>&x=1","path":"/v1?q=2"})");
    EXPECT_EQ(r.redact_json(R"({"authorization":"Bearer x"})"),
              R"({"authorization":"<redacted>"})");
    // Nothing to do: returned byte for byte (no re-serialisation).
    const std::string clean = R"({"b": 1,  "a":"text"})";
    EXPECT_EQ(r.redact_json(clean), clean);
    EXPECT_EQ(r.redact_field("x-api-key", "anything"), "<redacted>");
    EXPECT_EQ(r.redact_field("model", "gpt"), "gpt");
    EXPECT_EQ(r.redact_json("not json Bearer zzz"), "not json <redacted>");
}

TEST(Redactor, PointersAndCustomRules) {
    config::redaction_config c;
    c.replacement = "***";
    c.redact_json_pointers = {"/messages/0/content"};
    c.redact_regexes = {R"(\d{3}-\d{2}-\d{4})"};
    redactor r(c);
    EXPECT_EQ(r.redact_json(R"({"messages":[{"content":"hi"}],"n":"123-45-6789"})"),
              R"({"messages":[{"content":"***"}],"n":"***"})");
}

// Regression (tests/fuzz/corpus/fuzz_redact_prometheus/crash-escaped-secret-name): the no-op
// pre-check compared member names as written, so an escaped spelling of a secret name
// (`tok\u0065n`) skipped redaction and the value went out as it was.
TEST(Redactor, EscapedSecretNamesAreRedacted) {
    redactor r(config::redaction_config{});
    EXPECT_EQ(r.redact_json(R"({"tok\u0065n":"s3cret"})"), R"({"token":"<redacted>"})");
    EXPECT_EQ(r.redact_json(R"({"a":{"\u0041pi_Key":1}})"), R"({"a":{"Api_Key":"<redacted>"}})");
    EXPECT_EQ(r.redact_json(R"({"ur\u006c":"https://h/p?key=s3cret"})"),
              R"({"url":"https://h/p?key=<redacted>"})");
    // An escape in a value alone still leaves a clean document untouched.
    const std::string clean = R"({"note":"a \"quoted\" word"})";
    EXPECT_EQ(r.redact_json(clean), clean);
}

// The log's fast path: may_match() rules out most events in one scan and never misses a value
// that redact_field() would change.
TEST(Redactor, MayMatchIsASafeFirstTest) {
    redactor r(config::redaction_config{});
    EXPECT_FALSE(r.may_match("gpt-4o-mini\n/v1/chat/completions\nteam-a\n200"));
    EXPECT_TRUE(r.may_match("gpt\nsk-abcdefghijklmnop\n200"));
    EXPECT_TRUE(r.may_match("x\nBEARER abc"));
    for (const std::string v : {"sk-abcdefghijklmnop", "Bearer x", "ok", "sk-short"}) {
        if (r.redact_field("model", v) != v) {
            EXPECT_TRUE(r.may_match("a\n" + v + "\nb")) << v;
        }
    }
    EXPECT_TRUE(r.secret_name("Authorization"));
    EXPECT_TRUE(r.secret_name("X-API-KEY"));
    EXPECT_FALSE(r.secret_name("model"));
    EXPECT_FALSE(r.secret_name(std::string(80, 'a')));

    // An anchored rule could match a value alone and not the joined text: always checked.
    config::redaction_config anchored;
    anchored.redact_regexes = {"^secret"};
    redactor a(anchored);
    EXPECT_TRUE(a.may_match("nothing here"));
    EXPECT_EQ(a.redact_field("model", "secret-x"), "<redacted>-x");
    // A negated class is not an anchor.
    config::redaction_config negated;
    negated.redact_regexes = {"tok-[^\\s]+"};
    redactor n(negated);
    EXPECT_FALSE(n.may_match("nothing here"));
    EXPECT_TRUE(n.may_match("a tok-1"));
}

TEST(Sampling, RatesAndIdentity) {
    EXPECT_TRUE(sampled("json_logs", "anything", 1.0));
    EXPECT_FALSE(sampled("json_logs", "anything", 0.0));
    int kept = 0;
    for (int i = 0; i < 10'000; ++i)
        kept += sampled("audit", "req-" + std::to_string(i), 0.25) ? 1 : 0;
    // FNV-1a (the sampling hash, docs/observability.md) over similar ids is not perfectly uniform:
    // about a quarter.
    EXPECT_GT(kept, 2000);
    EXPECT_LT(kept, 3200);
    // Deterministic per identity: every sink decides the same way for one request.
    EXPECT_EQ(sampled("audit", "req-7", 0.5), sampled("audit", "req-7", 0.5));
    EXPECT_EQ(sampling_identity(R"({"a":{"request_id":"r-1"},"id":"x"})"), "r-1");
    EXPECT_EQ(sampling_identity(R"({"id":"x"})"), "x");
    EXPECT_EQ(sampling_identity(R"({"n":1})"), R"({"n":1})");
}

// Regression: the no-op pre-check ran each regex over the whole document, where an anchored
// pattern cannot match a value inside it; the value kept its secret.
TEST(Redactor, AnchoredPatternStillRedactsAValueInsideADocument) {
    config::redaction_config c;
    c.redact_regexes = {R"(^tok-[a-z]+$)"};
    redactor r(c);
    EXPECT_EQ(r.redact_json(R"({"a":"tok-abc","b":"x tok-abc"})"),
              R"({"a":"<redacted>","b":"x tok-abc"})");
    EXPECT_FALSE(r.values_clean("x\n"));  // anchored: only the full path can tell
}

// The proxy's audit record: names judged once, values in one pass (docs/observability.md).
TEST(Redactor, NamesAndValuesOfABuiltRecord) {
    redactor r(config::redaction_config{});
    const std::string_view names[] = {"request_id", "model", "path"};
    EXPECT_TRUE(r.names_clean(names));
    const std::string_view secret[] = {"request_id", "Token"};
    EXPECT_FALSE(r.names_clean(secret));
    EXPECT_TRUE(r.values_clean("req-1\ngpt-4o\n/v1/chat/completions\n"));
    EXPECT_FALSE(r.values_clean("req-1\nsk-ABCDEFGHIJ12345\n"));
    EXPECT_FALSE(r.values_clean("Bearer abc\n"));
    EXPECT_FALSE(r.values_clean("/v1/x?key=1\n"));  // a query: the sanitize rules decide

    config::redaction_config pointed;
    pointed.redact_json_pointers = {"/model"};
    EXPECT_FALSE(redactor(pointed).names_clean(names));
    config::redaction_config named;
    named.redact_key_names.push_back("model");
    EXPECT_FALSE(redactor(named).names_clean(names));
}

}  // namespace
}  // namespace ditto::observe
