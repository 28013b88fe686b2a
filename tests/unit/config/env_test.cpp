// Env expansion (docs/configuration.md, "Environment and secrets"): dotenv parsing, lookup order,
// placeholders, secrets.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ditto/config/load.hpp"

namespace ditto::config {
namespace {

using strings = std::vector<std::string>;
using env_map = std::map<std::string, std::string>;

/// Sets a process variable for the scope of one test.
class scoped_env {
  public:
    scoped_env(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
    ~scoped_env() { ::unsetenv(name_); }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

  private:
    const char* name_;
};

/// A file under the temp directory, removed at scope exit.
class temp_file {
  public:
    explicit temp_file(const std::string& contents) {
        path_ = std::filesystem::temp_directory_path() /
                ("ditto_env_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
        std::ofstream(path_, std::ios::binary) << contents;
    }
    ~temp_file() {
        std::error_code ec;
        std::filesystem::remove(path_, ec);
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    std::string path() const { return path_.string(); }

  private:
    static inline int counter_ = 0;
    std::filesystem::path path_;
};

struct expanded {
    std::optional<std::string> value;
    std::string error;
};

expanded expand(std::string_view value, const env_lookup& env) {
    expanded out;
    out.value = expand_value(value, env, out.error);
    return out;
}

// ---- dotenv ---------------------------------------------------------------------------------

TEST(ConfigDotenv, ParsesCommentsExportQuotesAndFirstEquals) {
    const env_map parsed = parse_dotenv(
        "# a comment\n"
        "\n"
        "   # indented comment\n"
        "export OPENAI_KEY=\"sk-test\"\n"
        "FOO=bar\n"
        "  SPACED  =   value with spaces   \n"
        "SINGLE='single quoted'\n"
        "URL=http://x/?a=b=c\n"
        "KEEP_INNER=\"  padded  \"\n"
        "MISMATCHED=\"abc'\n"
        "LONE_QUOTE=\"\n"
        "HASH=abc # not a comment\n"
        "NO_EQUALS_LINE\n"
        "=no_key\n"
        "FOO=override\n");
    EXPECT_EQ(parsed, (env_map{
                          {"OPENAI_KEY", "sk-test"},
                          {"FOO", "override"},
                          {"SPACED", "value with spaces"},
                          {"SINGLE", "single quoted"},
                          {"URL", "http://x/?a=b=c"},
                          {"KEEP_INNER", "  padded  "},
                          {"MISMATCHED", "\"abc'"},
                          {"LONE_QUOTE", "\""},
                          {"HASH", "abc # not a comment"},
                      }));
}

TEST(ConfigDotenv, DropsEmptyValues) {
    const env_map parsed = parse_dotenv("EMPTY=\nQUOTED=\"\"\nBLANK=\"   \"\nSQ=''\nOK=1\n");
    EXPECT_EQ(parsed, (env_map{{"OK", "1"}}));
}

TEST(ConfigDotenv, HandlesCrlfAndNoTrailingNewline) {
    const env_map parsed = parse_dotenv("A=1\r\nexport B=\"two\"\r\n# c\r\nC=3");
    EXPECT_EQ(parsed, (env_map{{"A", "1"}, {"B", "two"}, {"C", "3"}}));
}

TEST(ConfigDotenv, EmptyInput) {
    EXPECT_EQ(parse_dotenv(""), env_map{});
    EXPECT_EQ(parse_dotenv("\n\n  \n"), env_map{});
}

// ---- lookup ---------------------------------------------------------------------------------

TEST(ConfigEnvLookup, DotenvWinsOverProcess) {
    scoped_env v("DITTO_TEST_LOOKUP_A", "from-process");
    const env_lookup env(env_map{{"DITTO_TEST_LOOKUP_A", "from-dotenv"}});
    EXPECT_EQ(env.get("DITTO_TEST_LOOKUP_A"), std::optional<std::string>("from-dotenv"));
}

TEST(ConfigEnvLookup, FallsBackToProcess) {
    scoped_env v("DITTO_TEST_LOOKUP_B", "from-process");
    const env_lookup env(env_map{{"OTHER", "x"}});
    EXPECT_EQ(env.get("DITTO_TEST_LOOKUP_B"), std::optional<std::string>("from-process"));
    EXPECT_EQ(env.get("DITTO_TEST_LOOKUP_UNSET_B"), std::nullopt);
}

TEST(ConfigEnvLookup, BlankProcessValueCountsAsUnset) {
    scoped_env empty("DITTO_TEST_LOOKUP_EMPTY", "");
    scoped_env blank("DITTO_TEST_LOOKUP_BLANK", "  \t ");
    const env_lookup env;
    EXPECT_EQ(env.get("DITTO_TEST_LOOKUP_EMPTY"), std::nullopt);
    EXPECT_EQ(env.get("DITTO_TEST_LOOKUP_BLANK"), std::nullopt);
    EXPECT_EQ(expand("${DITTO_TEST_LOOKUP_BLANK}", env).error,
              "missing env var: DITTO_TEST_LOOKUP_BLANK");
}

// ---- expand_value ---------------------------------------------------------------------------

TEST(ConfigExpand, PlainValuesPassThrough) {
    const env_lookup env;
    EXPECT_EQ(expand("https://api.example.com", env).value,
              std::optional<std::string>("https://api.example.com"));
    EXPECT_EQ(expand("", env).value, std::optional<std::string>(""));
    // `$X` without braces and a lone `$` are not placeholders.
    EXPECT_EQ(expand("cost $5 $HOME {x}", env).value,
              std::optional<std::string>("cost $5 $HOME {x}"));
}

TEST(ConfigExpand, OsEnvironWholeValue) {
    const env_lookup env(env_map{{"BASE_URL", "https://example.com"}});
    EXPECT_EQ(expand("os.environ/BASE_URL", env).value,
              std::optional<std::string>("https://example.com"));
    EXPECT_EQ(expand("  os.environ/BASE_URL  ", env).value,
              std::optional<std::string>("https://example.com"));
    EXPECT_EQ(expand("os.environ/ BASE_URL ", env).value,
              std::optional<std::string>("https://example.com"));
}

TEST(ConfigExpand, OsEnvironOnlyAsWholeValue) {
    const env_lookup env(env_map{{"KEY", "k"}});
    EXPECT_EQ(expand("Bearer os.environ/KEY", env).value,
              std::optional<std::string>("Bearer os.environ/KEY"));
}

TEST(ConfigExpand, OsEnvironErrors) {
    const env_lookup env;
    EXPECT_EQ(expand("os.environ/", env).error, "empty env placeholder");
    EXPECT_EQ(expand("os.environ/DITTO_TEST_NOPE_1", env).error,
              "missing env var: DITTO_TEST_NOPE_1");
    EXPECT_EQ(expand("os.environ/1BAD", env).error, "invalid env var name \"1BAD\"");
}

TEST(ConfigExpand, BracePlaceholdersAnywhere) {
    const env_lookup env(env_map{{"A", "alpha"}, {"B_2", "beta"}, {"_u", "under"}});
    EXPECT_EQ(expand("${A}", env).value, std::optional<std::string>("alpha"));
    EXPECT_EQ(expand("Bearer ${A}", env).value, std::optional<std::string>("Bearer alpha"));
    EXPECT_EQ(expand("${A}-${B_2}/${_u}${A}", env).value,
              std::optional<std::string>("alpha-beta/underalpha"));
    EXPECT_EQ(expand("x${ A }y", env).value, std::optional<std::string>("xalphay"));
    EXPECT_EQ(expand("https://h/${A}?v=${B_2}", env).value,
              std::optional<std::string>("https://h/alpha?v=beta"));
}

TEST(ConfigExpand, SubstitutedTextIsNotExpandedAgain) {
    const env_lookup env(env_map{{"A", "${B}"}, {"B", "b"}});
    EXPECT_EQ(expand("${A}", env).value, std::optional<std::string>("${B}"));
}

TEST(ConfigExpand, PlaceholderErrors) {
    const env_lookup env(env_map{{"A", "a"}});
    EXPECT_EQ(expand("${1ABC}", env).error, "invalid env var name \"1ABC\"");
    EXPECT_EQ(expand("${A-B}", env).error, "invalid env var name \"A-B\"");
    EXPECT_EQ(expand("${A B}", env).error, "invalid env var name \"A B\"");
    EXPECT_EQ(expand("abc${A", env).error, "unterminated env placeholder");
    EXPECT_EQ(expand("${A}${", env).error, "unterminated env placeholder");
    EXPECT_EQ(expand("${}", env).error, "empty env placeholder");
    EXPECT_EQ(expand("${   }", env).error, "empty env placeholder");
    EXPECT_EQ(expand("${A}${DITTO_TEST_NOPE_2}", env).error, "missing env var: DITTO_TEST_NOPE_2");
    EXPECT_EQ(expand("${A}${DITTO_TEST_NOPE_2}", env).value, std::nullopt);
}

TEST(ConfigExpand, NoDefaultSyntax) {
    const env_lookup env;
    EXPECT_EQ(expand("${DITTO_TEST_NOPE_3:-fallback}", env).error,
              "invalid env var name \"DITTO_TEST_NOPE_3:-fallback\"");
}

TEST(ConfigExpand, BlankValueInLookupMapIsEmpty) {
    // parse_dotenv never yields a blank value; a map built by hand can, and that is the one
    // case where "empty" (set but blank) differs from "missing" (not set).
    const env_lookup env(env_map{{"BLANK", "  "}});
    EXPECT_EQ(expand("${BLANK}", env).error, "env var is empty: BLANK");
    EXPECT_EQ(expand("os.environ/BLANK", env).error, "env var is empty: BLANK");
}

TEST(ConfigExpand, ProcessEnvironmentIsUsed) {
    scoped_env v("DITTO_TEST_EXPAND_P", "proc-value");
    const env_lookup env;
    EXPECT_EQ(expand("${DITTO_TEST_EXPAND_P}", env).value,
              std::optional<std::string>("proc-value"));
}

// ---- secrets --------------------------------------------------------------------------------

TEST(ConfigSecrets, EnvSecret) {
    const env_lookup env(env_map{{"REAL_TOKEN", "vk-1"}});
    EXPECT_EQ(expand("secret://env/REAL_TOKEN", env).value, std::optional<std::string>("vk-1"));
    EXPECT_EQ(expand("  secret://env/REAL_TOKEN ", env).value, std::optional<std::string>("vk-1"));
}

TEST(ConfigSecrets, SecretReferenceProducedByExpansion) {
    const env_lookup env(env_map{{"REF", "secret://env/REAL"}, {"REAL", "the-secret"}});
    EXPECT_EQ(expand("${REF}", env).value, std::optional<std::string>("the-secret"));
}

TEST(ConfigSecrets, FileSecretTrimsTrailingNewline) {
    temp_file f("  file-secret \n");
    const env_lookup env;
    EXPECT_EQ(expand("secret://file?path=" + f.path(), env).value,
              std::optional<std::string>("  file-secret"));
}

TEST(ConfigSecrets, FileSecretPathIsPercentDecoded) {
    temp_file f("s3cr3t\r\n");
    std::string encoded;
    for (char c : f.path()) {
        if (c == '_') {
            encoded += "%5F";
        } else {
            encoded += c;
        }
    }
    const env_lookup env;
    EXPECT_EQ(expand("secret://file?path=" + encoded, env).value,
              std::optional<std::string>("s3cr3t"));
}

TEST(ConfigSecrets, Failures) {
    const env_lookup env;
    EXPECT_EQ(expand("secret://env/DITTO_TEST_NOPE_4", env).error,
              "failed to resolve secret for value: missing env var: DITTO_TEST_NOPE_4");
    EXPECT_EQ(expand("secret://file?path=/nonexistent/ditto/secret", env).error,
              "failed to resolve secret for value: cannot read secret file "
              "/nonexistent/ditto/secret: No such file or directory");
    EXPECT_EQ(expand("secret://file?path=relative/x", env).error,
              "failed to resolve secret for value: secret file path must be absolute");
    EXPECT_EQ(expand("secret://file?mode=x", env).error,
              "failed to resolve secret for value: secret://file requires a path parameter "
              "(secret://file?path=/abs/path)");
    temp_file empty("\n\n");
    EXPECT_EQ(expand("secret://file?path=" + empty.path(), env).error,
              "failed to resolve secret for value: secret file is empty: " + empty.path());
}

// Regression (tests/fuzz/corpus/fuzz_config/crash-secret-in-error): a secret reference built
// from placeholders failed with a reason quoting the name or path it read, which held the
// substituted value, so a mistaken `secret://env/${API_KEY}` printed the key.
TEST(ConfigSecrets, FailuresBuiltFromPlaceholdersWithholdTheirValues) {
    const env_lookup env(env_map{{"API_KEY", "sk-live-0123456789"},
                                 {"DIR", "/nonexistent/ditto"},
                                 {"ENCODED", "%2Fnonexistent%2Fsk-live-0123456789"},
                                 {"REF", "secret://env/sk-live-0123456789"}});
    for (const char* value : {"secret://env/${API_KEY}", "secret://env/ ${API_KEY} ",
                              "secret://file?path=${DIR}/${API_KEY}",
                              "secret://file?path=${ENCODED}", "os.environ/REF"}) {
        const auto r = expand(value, env);
        EXPECT_FALSE(r.value.has_value()) << value;
        EXPECT_EQ(r.error.find("sk-live"), std::string::npos) << r.error;
        EXPECT_EQ(r.error.find("nonexistent"), std::string::npos) << r.error;
        EXPECT_TRUE(
            r.error.starts_with("failed to resolve secret for value: the reference built "
                                "from "))
            << r.error;
    }
    EXPECT_EQ(expand("secret://file?path=${DIR}/${API_KEY}", env).error,
              "failed to resolve secret for value: the reference built from ${DIR}, ${API_KEY} "
              "does not resolve (the reason is withheld: it would show their values)");
    // Without placeholders the reason is given in full, as before.
    EXPECT_EQ(expand("secret://env/NOT_SET_9", env).error,
              "failed to resolve secret for value: missing env var: NOT_SET_9");
}

TEST(ConfigSecrets, LabelNamesTheField) {
    const env_lookup env;
    std::string error;
    EXPECT_EQ(expand_value("secret://env/DITTO_TEST_NOPE_5", env, "virtual_keys[3].token", error),
              std::nullopt);
    EXPECT_EQ(error,
              "failed to resolve secret for virtual_keys[3].token: missing env var: "
              "DITTO_TEST_NOPE_5");
}

TEST(ConfigSecrets, ErrorsNeverContainSecretValues) {
    const env_lookup env(env_map{{"GOOD", "sk-supersecret-123"}});
    // A resolved secret followed by a failing placeholder.
    EXPECT_EQ(expand("Bearer ${GOOD}${DITTO_TEST_NOPE_6}", env).error,
              "missing env var: DITTO_TEST_NOPE_6");
    // An unsupported reference whose tail is a literal credential.
    const expanded unsupported = expand("secret://vault/sk-live-abcdef", env);
    EXPECT_EQ(unsupported.error,
              "failed to resolve secret for value: unsupported secret reference (expected "
              "secret://env/NAME or secret://file?path=/abs/path)");
    EXPECT_EQ(unsupported.error.find("sk-live"), std::string::npos);
}

// ---- expand_env -----------------------------------------------------------------------------

gateway_config sample_config() {
    gateway_config cfg;
    backend_config b;
    b.name = "${NOT_EXPANDED}";
    b.base_url = "os.environ/BASE";
    b.headers = {{"authorization", "Bearer ${KEY}"}, {"x-plain", "plain"}};
    b.query_params = {{"api-version", "${VER}"}};
    b.model_map = {{"${M}", "${M}"}};
    cfg.backends.push_back(b);
    virtual_key_config k;
    k.id = "${ID}";
    k.token = "secret://env/VK";
    k.route = "${ROUTE}";
    cfg.virtual_keys.push_back(k);
    return cfg;
}

TEST(ConfigExpandEnv, ExpandsOnlyTheNamedFields) {
    gateway_config cfg = sample_config();
    const env_lookup env(env_map{
        {"BASE", "https://api.example.com"}, {"KEY", "sk-1"}, {"VER", " 2024 "}, {"VK", "vk-1"}});
    diagnostics diag;
    expand_env(cfg, env, diag);
    EXPECT_EQ(diag.errors, strings{});
    const backend_config& b = cfg.backends[0];
    EXPECT_EQ(b.base_url, "https://api.example.com");
    EXPECT_EQ(b.headers, (env_map{{"authorization", "Bearer sk-1"}, {"x-plain", "plain"}}));
    // Query values are trimmed after expansion too (docs/configuration.md).
    EXPECT_EQ(b.query_params, (env_map{{"api-version", "2024"}}));
    EXPECT_EQ(b.name, "${NOT_EXPANDED}");
    EXPECT_EQ(b.model_map, (env_map{{"${M}", "${M}"}}));
    EXPECT_EQ(cfg.virtual_keys[0].token, "vk-1");
    EXPECT_EQ(cfg.virtual_keys[0].id, "${ID}");
    EXPECT_EQ(cfg.virtual_keys[0].route, std::optional<std::string>("${ROUTE}"));
}

TEST(ConfigExpandEnv, CollectsEveryErrorWithItsPath) {
    gateway_config cfg = sample_config();
    virtual_key_config k2;
    k2.id = "k2";
    k2.token = "${VK_TOKEN}";
    cfg.virtual_keys.push_back(k2);
    const env_lookup env(env_map{{"DITTO_TEST_UNUSED", "x"}});
    diagnostics diag;
    expand_env(cfg, env, diag);
    EXPECT_EQ(diag.errors,
              (strings{
                  "backends[0].base_url: missing env var: BASE",
                  "backends[0].headers.authorization: missing env var: KEY",
                  "backends[0].query_params.api-version: missing env var: VER",
                  "failed to resolve secret for virtual_keys[0].token: missing env var: VK",
                  "virtual_keys[1].token: missing env var: VK_TOKEN",
              }));
    // A failed field keeps its unexpanded text.
    EXPECT_EQ(cfg.virtual_keys[1].token, "${VK_TOKEN}");
}

TEST(ConfigExpandEnv, SecretErrorForHeaderNamesTheHeader) {
    gateway_config cfg;
    backend_config b;
    b.name = "b";
    b.base_url = "http://x";
    b.headers = {{"authorization", "secret://file?path=/nonexistent/ditto/key"}};
    cfg.backends.push_back(b);
    diagnostics diag;
    expand_env(cfg, env_lookup{}, diag);
    EXPECT_EQ(diag.errors,
              strings{"failed to resolve secret for backends[0].headers.authorization: "
                      "cannot read secret file /nonexistent/ditto/key: No such file "
                      "or directory"});
}

}  // namespace
}  // namespace ditto::config
