// validate (docs/configuration.md, "Validation messages", our backend checks included),
// token_lookup_key (docs/configuration.md) and load_gateway_file.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "ditto/config/load.hpp"
#include "ditto/core/hash.hpp"

namespace ditto::config {
namespace {

using strings = std::vector<std::string>;

constexpr const char* k_sha256_abc =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

class temp_path {
  public:
    temp_path() {
        path_ = std::filesystem::temp_directory_path() /
                ("ditto_validate_test_" + std::to_string(::getpid()) + "_" +
                 std::to_string(counter_++));
    }
    ~temp_path() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_path(const temp_path&) = delete;
    temp_path& operator=(const temp_path&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string str() const { return path_.string(); }
    void write(const std::string& contents) const {
        std::ofstream(path_, std::ios::binary) << contents;
    }

  private:
    static inline int counter_ = 0;
    std::filesystem::path path_;
};

backend_config backend(const std::string& name, const std::string& url) {
    backend_config b;
    b.name = name;
    b.base_url = url;
    return b;
}

virtual_key_config key(const std::string& id, const std::string& token) {
    virtual_key_config k;
    k.id = id;
    k.token = token;
    return k;
}

gateway_config valid_config() {
    gateway_config cfg;
    cfg.backends = {backend("primary", "https://api.example.com/v1"),
                    backend("secondary", "http://127.0.0.1:8081")};
    cfg.backends[0].headers = {{"Authorization", "Bearer sk-1"}, {"x-tab", "a\tb"}};
    cfg.virtual_keys = {key("k0", "t0"), key("k1", "t1")};
    cfg.virtual_keys[0].route = "primary";
    cfg.virtual_keys[1].guardrails.banned_regexes = {"\\d{16}", "  "};
    cfg.router.default_backends = {{"primary", 1.0}};
    route_rule rule;
    rule.model_prefix = "claude";
    rule.backends = {{"secondary", -3.0}};  // weights are not validated
    cfg.router.rules = {rule};
    return cfg;
}

strings errors_of(const gateway_config& cfg) {
    diagnostics diag;
    validate(cfg, diag);
    return diag.errors;
}

TEST(ConfigValidate, ValidConfigPasses) {
    diagnostics diag;
    validate(valid_config(), diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(diag.warnings, strings{});
}

TEST(ConfigValidate, EmptyConfigPasses) {
    EXPECT_EQ(errors_of(gateway_config{}), strings{});
}

// ---- backends -------------------------------------------------------------------------------

TEST(ConfigValidate, BackendNames) {
    gateway_config cfg = valid_config();
    cfg.backends.push_back(backend("  ", "http://a"));
    cfg.backends.push_back(backend(" primary ", "http://b"));
    cfg.backends.push_back(backend("primary", "http://c"));
    EXPECT_EQ(errors_of(cfg),
              (strings{
                  "backends[2].name cannot be empty",
                  "duplicate backend name `primary` (first at index 0, duplicate at index 3)",
                  "duplicate backend name `primary` (first at index 0, duplicate at index 4)",
              }));
}

TEST(ConfigValidate, BackendBaseUrl) {
    gateway_config cfg;
    cfg.backends = {backend("a", ""),
                    backend("b", "  "),
                    backend("c", "ftp://x"),
                    backend("d", "http://"),
                    backend("e", "https://h ost"),
                    backend("f", "api.example.com"),
                    backend("g", "HTTPS://Example.com"),
                    backend("h", " http://x")};
    EXPECT_EQ(errors_of(cfg), (strings{
                                  "backends[0].base_url cannot be empty",
                                  "backends[1].base_url cannot be empty",
                                  "backends[2].base_url must be an http:// or https:// URL",
                                  "backends[3].base_url must be an http:// or https:// URL",
                                  "backends[4].base_url must be an http:// or https:// URL",
                                  "backends[5].base_url must be an http:// or https:// URL",
                                  "backends[7].base_url must be an http:// or https:// URL",
                              }));
}

TEST(ConfigValidate, BackendMaxResponseSecondsAtMostAYear) {
    gateway_config cfg;
    cfg.backends = {backend("a", "http://a"), backend("b", "http://b")};
    cfg.backends[0].max_response_seconds = 365ULL * 24 * 3600;
    cfg.backends[0].min_response_bytes_per_second = ~0ULL;  // saturates, never overflows
    cfg.backends[1].max_response_seconds = 365ULL * 24 * 3600 + 1;
    EXPECT_EQ(errors_of(cfg),
              (strings{"backends[1].max_response_seconds must be at most 31536000 (a year)"}));
}

TEST(ConfigValidate, BackendHeaders) {
    gateway_config cfg;
    cfg.backends = {backend("a", "http://a")};
    cfg.backends[0].headers = {
        {"bad name", "v"},
        {"x:y", "v"},
        {"", "v"},
        {"x-crlf", "a\r\nx-injected: 1"},
        {"x-lf", "a\nb"},
        {"x-nul", std::string("a\0b", 3)},
        {"x-ok", "visible \t text \x80"},
        {"x-ctl\n", "v"},
    };
    EXPECT_EQ(errors_of(cfg), (strings{
                                  "invalid header name: ",
                                  "invalid header name: bad name",
                                  "invalid header value for x-crlf",
                                  "invalid header name: x-ctl?",
                                  "invalid header value for x-lf",
                                  "invalid header value for x-nul",
                                  "invalid header name: x:y",
                              }));
}

TEST(ConfigValidate, HeaderValueNeverAppearsInMessage) {
    gateway_config cfg;
    cfg.backends = {backend("a", "http://a")};
    cfg.backends[0].headers = {{"authorization", "Bearer sk-live-secret\r\n"}};
    const strings errors = errors_of(cfg);
    ASSERT_EQ(errors, strings{"invalid header value for authorization"});
    EXPECT_EQ(errors[0].find("sk-live"), std::string::npos);
}

TEST(ConfigValidate, TlsCaFile) {
    temp_path readable;
    readable.write("-----BEGIN CERTIFICATE-----\n");
    temp_path dir;
    std::filesystem::create_directory(dir.path());

    gateway_config cfg;
    cfg.backends = {backend("a", "https://a"), backend("b", "https://b"), backend("c", "https://c"),
                    backend("d", "https://d")};
    cfg.backends[0].tls_ca_file = readable.str();
    cfg.backends[1].tls_ca_file = "/nonexistent/ditto/ca.pem";
    cfg.backends[2].tls_ca_file = dir.str();
    cfg.backends[3].tls_ca_file = " ";
    EXPECT_EQ(errors_of(cfg),
              (strings{
                  "backends[1].tls_ca_file: cannot read /nonexistent/ditto/ca.pem: No such file "
                  "or directory",
                  "backends[2].tls_ca_file: cannot read " + dir.str() + ": is a directory",
                  "backends[3].tls_ca_file cannot be empty",
              }));
}

TEST(ConfigValidate, InsecureTlsIsAWarning) {
    gateway_config cfg;
    cfg.backends = {backend("a", "https://a")};
    cfg.backends[0].tls_insecure_skip_verify = true;
    diagnostics diag;
    validate(cfg, diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(diag.warnings,
              strings{"backends[0].tls_insecure_skip_verify is set: upstream TLS certificates "
                      "are not verified"});
}

// ---- observability --------------------------------------------------------------------------

TEST(ConfigValidate, RedactionReplacementMustNotBeBlank) {
    for (const char* replacement : {"", "   ", "\t\n"}) {
        gateway_config cfg;
        cfg.observability.redaction.replacement = replacement;
        EXPECT_EQ(errors_of(cfg), strings{"observability.redaction.replacement must not be empty"});
    }
}

TEST(ConfigValidate, RedactionRegexesCompileWithRe2) {
    gateway_config cfg;
    cfg.observability.redaction.redact_regexes = {"ok-[0-9]+", " ( ", "", "[a", "a**"};
    EXPECT_EQ(errors_of(cfg), (strings{
                                  "invalid observability.redaction regex '(': missing ): (",
                                  "invalid observability.redaction regex '[a': missing ]: [a",
                                  "invalid observability.redaction regex 'a**': bad repetition "
                                  "operator: **",
                              }));
}

TEST(ConfigValidate, DefaultRedactionRegexesAreValid) {
    gateway_config cfg;
    EXPECT_EQ(cfg.observability.redaction.redact_regexes.size(), 2u);
    EXPECT_EQ(errors_of(cfg), strings{});
}

TEST(ConfigValidate, RedactionJsonPointers) {
    gateway_config cfg;
    cfg.observability.redaction.redact_json_pointers = {"/a/b~0c/~1d", "", "a/b", "/x/~2", "/y~"};
    EXPECT_EQ(errors_of(cfg),
              (strings{
                  "observability.redaction.redact_json_pointers must start with '/': a/b",
                  "invalid observability.redaction json pointer segment '~2': invalid '~' "
                  "escape (expected ~0 or ~1)",
                  "invalid observability.redaction json pointer segment 'y~': dangling '~' "
                  "escape",
              }));
}

TEST(ConfigValidate, SamplingRates) {
    gateway_config cfg;
    cfg.observability.sampling.json_logs_rate = -0.1;
    cfg.observability.sampling.audit_rate = 1.5;
    cfg.observability.sampling.devtools_rate = std::nan("");
    EXPECT_EQ(errors_of(cfg),
              (strings{
                  "observability.sampling.json_logs_rate must be a finite value between 0.0 "
                  "and 1.0",
                  "observability.sampling.audit_rate must be a finite value between 0.0 and 1.0",
                  "observability.sampling.devtools_rate must be a finite value between 0.0 and "
                  "1.0",
              }));

    gateway_config edges;
    edges.observability.sampling.json_logs_rate = 0.0;
    edges.observability.sampling.audit_rate = 1.0;
    edges.observability.sampling.devtools_rate = std::numeric_limits<double>::infinity();
    EXPECT_EQ(errors_of(edges),
              strings{"observability.sampling.devtools_rate must be a finite value between 0.0 "
                      "and 1.0"});
}

// ---- virtual keys ---------------------------------------------------------------------------

TEST(ConfigValidate, KeyIdsAndTokens) {
    gateway_config cfg;
    cfg.virtual_keys = {key("a", "t-a"),
                        key("  ", "t-b"),
                        key(" a ", "t-c"),
                        key("d", "  "),
                        key("e", " t-a "),
                        key("a", "t-f"),
                        key("g", std::string("sha256:") + k_sha256_abc),
                        key("h", "abc")};
    EXPECT_EQ(errors_of(cfg),
              (strings{
                  "virtual_keys[1].id cannot be empty",
                  "duplicate virtual key id `a` (first at index 0, duplicate at index 2)",
                  "virtual_keys[3].token cannot be empty",
                  "duplicate virtual key token (first at index 0, duplicate at index 4)",
                  "duplicate virtual key id `a` (first at index 0, duplicate at index 5)",
                  "duplicate virtual key token (first at index 6, duplicate at index 7)",
              }));
}

TEST(ConfigValidate, KeyRoutes) {
    gateway_config cfg = valid_config();
    cfg.virtual_keys[0].route = "   ";
    cfg.virtual_keys[1].route = "nowhere";
    cfg.virtual_keys.push_back(key("k2", "t2"));
    cfg.virtual_keys[2].route = " secondary ";
    EXPECT_EQ(errors_of(cfg), (strings{
                                  "virtual_keys[0].route cannot be empty",
                                  "virtual_keys[1].route references unknown backend: nowhere",
                              }));
}

TEST(ConfigValidate, KeyGuardrailsRegexesAreCompiledCaseInsensitive) {
    gateway_config cfg = valid_config();
    cfg.virtual_keys[0].guardrails.banned_regexes = {"(?i)ok", "(", "fine"};
    cfg.virtual_keys[1].guardrails.banned_regexes = {" [z "};
    EXPECT_EQ(errors_of(cfg), (strings{
                                  "virtual_keys[0].guardrails invalid: invalid banned_regex (: "
                                  "missing ): (",
                                  "virtual_keys[1].guardrails invalid: invalid banned_regex [z: "
                                  "missing ]: [z",
                              }));
}

// ---- router ---------------------------------------------------------------------------------

TEST(ConfigValidate, RouterInvalidFieldsInOneMessage) {
    gateway_config cfg = valid_config();
    cfg.router.default_backends = {{"primary", 1.0}, {"  ", 1.0}};
    route_rule r0;
    r0.model_prefix = " ";
    r0.backend = "primary";
    route_rule r1;
    r1.model_prefix = "m";
    r1.backends = {{"secondary", 1.0}, {"", 1.0}};
    route_rule r2;
    r2.model_prefix = "n";
    r2.backends = {{" ", 1.0}};
    cfg.router.rules = {r0, r1, r2};
    EXPECT_EQ(errors_of(cfg),
              strings{"invalid router config fields: router.default_backends[1].backend, "
                      "router.rules[0].model_prefix, router.rules[1].backends[1].backend, "
                      "router.rules[2].backends[0].backend, router.rules[2] requires `backend` "
                      "or non-empty `backends[]`"});
}

TEST(ConfigValidate, RouterUnknownBackendsSortedAndDeduplicated) {
    gateway_config cfg = valid_config();
    cfg.router.default_backends = {{"zeta", 1.0}, {"primary", 1.0}};
    route_rule r0;
    r0.model_prefix = "a";
    r0.backend = " alpha ";
    r0.backends = {{"zeta", 1.0}, {"mid", 1.0}};
    cfg.router.rules = {r0};
    EXPECT_EQ(errors_of(cfg), strings{"router references unknown backends: alpha, mid, zeta"});
}

TEST(ConfigValidate, RouterRuleGuardrails) {
    gateway_config cfg = valid_config();
    cfg.router.rules[0].guardrails = guardrails_config{};
    cfg.router.rules[0].guardrails->banned_regexes = {"ok", "a**"};
    EXPECT_EQ(errors_of(cfg),
              strings{"router.rules[0].guardrails invalid: invalid banned_regex a**: bad "
                      "repetition operator: **"});
}

TEST(ConfigValidate, RouterChecksRunInSpecOrder) {
    gateway_config cfg = valid_config();
    cfg.router.default_backends = {{"", 1.0}, {"ghost", 1.0}};
    cfg.router.rules[0].guardrails = guardrails_config{};
    cfg.router.rules[0].guardrails->banned_regexes = {"("};
    EXPECT_EQ(errors_of(cfg),
              (strings{
                  "invalid router config fields: router.default_backends[0].backend",
                  "router references unknown backends: ghost",
                  "router.rules[0].guardrails invalid: invalid banned_regex (: missing ): (",
              }));
}

TEST(ConfigValidate, AllErrorsCollectedInOrder) {
    gateway_config cfg = valid_config();
    cfg.backends.push_back(backend("", "gopher://x"));
    cfg.observability.redaction.replacement = " ";
    cfg.observability.redaction.redact_regexes = {"("};
    cfg.observability.sampling.audit_rate = 2.0;
    cfg.virtual_keys.push_back(key("k0", "t0"));
    cfg.virtual_keys[0].route = "ghost";
    cfg.virtual_keys[1].guardrails.banned_regexes = {"["};
    cfg.router.default_backends = {{"phantom", 1.0}};
    cfg.router.rules[0].model_prefix = "";
    EXPECT_EQ(errors_of(cfg),
              (strings{
                  "backends[2].name cannot be empty",
                  "backends[2].base_url must be an http:// or https:// URL",
                  "observability.redaction.replacement must not be empty",
                  "invalid observability.redaction regex '(': missing ): (",
                  "observability.sampling.audit_rate must be a finite value between 0.0 and 1.0",
                  "duplicate virtual key id `k0` (first at index 0, duplicate at index 2)",
                  "duplicate virtual key token (first at index 0, duplicate at index 2)",
                  "virtual_keys[0].route references unknown backend: ghost",
                  "virtual_keys[1].guardrails invalid: invalid banned_regex [: missing ]: [",
                  "invalid router config fields: router.rules[0].model_prefix",
                  "router references unknown backends: phantom",
              }));
}

// ---- token_lookup_key -----------------------------------------------------------------------

TEST(ConfigTokenLookupKey, PlainTokenIsHashedAfterTrimming) {
    EXPECT_EQ(token_lookup_key("abc"), k_sha256_abc);
    EXPECT_EQ(token_lookup_key("  abc \n"), k_sha256_abc);
    EXPECT_EQ(token_lookup_key("abc"), core::sha256_hex("abc"));
}

TEST(ConfigTokenLookupKey, StoredHashIsUsedAsIs) {
    EXPECT_EQ(token_lookup_key(std::string("sha256:") + k_sha256_abc), k_sha256_abc);
    EXPECT_EQ(token_lookup_key(std::string("  sha256:") + k_sha256_abc + " "), k_sha256_abc);
}

TEST(ConfigTokenLookupKey, UppercaseHexIsLowercased) {
    EXPECT_EQ(token_lookup_key("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F"
                               "20015AD"),
              k_sha256_abc);
}

// The digest form (what the key index holds) spells the same key as the hex form, for every
// kind of stored token.
TEST(ConfigTokenLookupKey, DigestIsTheBytesOfTheHexKey) {
    const auto hex_of = [](const core::sha256_digest& d) {
        static constexpr char digits[] = "0123456789abcdef";
        std::string out;
        for (const unsigned char b : d) {
            out += digits[b >> 4];
            out += digits[b & 0xf];
        }
        return out;
    };
    for (const std::string& token :
         {std::string("abc"), std::string("  abc \n"), std::string("sha256:") + k_sha256_abc,
          std::string("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
          std::string("sha256:") + std::string(k_sha256_abc).substr(1),
          std::string("sha256:") + std::string(63, 'a') + "g"}) {
        EXPECT_EQ(hex_of(token_lookup_digest(token)), token_lookup_key(token)) << token;
    }
}

TEST(ConfigTokenLookupKey, MalformedHashIsHashedLiterally) {
    const std::string short_hex = std::string("sha256:") + std::string(k_sha256_abc).substr(1);
    EXPECT_EQ(token_lookup_key(short_hex), core::sha256_hex(short_hex));
    const std::string long_hex = std::string("sha256:") + k_sha256_abc + "0";
    EXPECT_EQ(token_lookup_key(long_hex), core::sha256_hex(long_hex));
    const std::string not_hex = "sha256:" + std::string(63, 'a') + "g";
    EXPECT_EQ(token_lookup_key(not_hex), core::sha256_hex(not_hex));
    EXPECT_EQ(token_lookup_key("sha256:"), core::sha256_hex("sha256:"));
    // The prefix is case-sensitive.
    const std::string upper_prefix = std::string("SHA256:") + k_sha256_abc;
    EXPECT_EQ(token_lookup_key(upper_prefix), core::sha256_hex(upper_prefix));
}

// ---- load_gateway_file ----------------------------------------------------------------------

constexpr const char* k_file_config = R"({
  "backends": [{"name": "primary", "base_url": "https://api.example.com",
                "headers": {"authorization": "Bearer ${DITTO_FILE_KEY}"}}],
  "virtual_keys": [{"id": "k", "token": "${DITTO_FILE_VK}", "enabled": true, "limits": {},
                    "budget": {}, "cache": {"enabled": false}, "guardrails": {},
                    "passthrough": {"allow": false, "bypass_cache": false}}],
  "router": {"default_backends": [{"backend": "primary"}]}
})";

TEST(ConfigLoadFile, LoadsParsesExpandsAndValidates) {
    temp_path file;
    file.write(k_file_config);
    const env_lookup env(
        std::map<std::string, std::string>{{"DITTO_FILE_KEY", "sk-1"}, {"DITTO_FILE_VK", "vk-1"}});
    diagnostics diag;
    const gateway_config cfg = load_gateway_file(file.path(), env, diag);
    EXPECT_EQ(diag.errors, strings{});
    ASSERT_EQ(cfg.backends.size(), 1u);
    EXPECT_EQ(cfg.backends[0].headers.at("authorization"), "Bearer sk-1");
    ASSERT_EQ(cfg.virtual_keys.size(), 1u);
    EXPECT_EQ(cfg.virtual_keys[0].token, "vk-1");
}

TEST(ConfigLoadFile, MissingFile) {
    diagnostics diag;
    load_gateway_file("/nonexistent/ditto/gateway.json", env_lookup{}, diag);
    EXPECT_EQ(diag.errors, strings{"cannot read config file /nonexistent/ditto/gateway.json: No "
                                   "such file or directory"});
}

TEST(ConfigLoadFile, DirectoryIsNotAFile) {
    temp_path dir;
    std::filesystem::create_directory(dir.path());
    diagnostics diag;
    load_gateway_file(dir.path(), env_lookup{}, diag);
    EXPECT_EQ(diag.errors, strings{"cannot read config file " + dir.str() + ": Is a directory"});
}

TEST(ConfigLoadFile, ParseErrorsStopBeforeExpansion) {
    temp_path file;
    // The token's placeholder cannot resolve, but parsing already failed (missing router).
    file.write(R"({"virtual_keys":[{"id":"k","token":"${DITTO_FILE_NOPE}","enabled":true,)"
               R"("limits":{},"budget":{},"cache":{"enabled":false},"guardrails":{},)"
               R"("passthrough":{"allow":false,"bypass_cache":false}}]})");
    diagnostics diag;
    load_gateway_file(file.path(), env_lookup{}, diag);
    EXPECT_EQ(diag.errors, strings{"router: missing required field"});
}

TEST(ConfigLoadFile, ExpansionErrorsStopBeforeValidation) {
    temp_path file;
    // Two problems: an unresolvable token and an unknown default backend. Only the first
    // stage's error is reported.
    file.write(R"({"virtual_keys":[{"id":"k","token":"${DITTO_FILE_NOPE}","enabled":true,)"
               R"("limits":{},"budget":{},"cache":{"enabled":false},"guardrails":{},)"
               R"("passthrough":{"allow":false,"bypass_cache":false}}],)"
               R"("router":{"default_backends":[{"backend":"ghost"}]}})");
    diagnostics diag;
    load_gateway_file(file.path(), env_lookup{}, diag);
    EXPECT_EQ(diag.errors, strings{"virtual_keys[0].token: missing env var: DITTO_FILE_NOPE"});
}

TEST(ConfigLoadFile, ValidationErrorsAreReported) {
    temp_path file;
    file.write(R"({"virtual_keys":[],"router":{"default_backends":[{"backend":"ghost"}]},)"
               R"("extra":true})");
    diagnostics diag;
    load_gateway_file(file.path(), env_lookup{}, diag);
    EXPECT_EQ(diag.errors, strings{"router references unknown backends: ghost"});
    EXPECT_EQ(diag.warnings, strings{"unknown field ignored: extra"});
}

}  // namespace
}  // namespace ditto::config
