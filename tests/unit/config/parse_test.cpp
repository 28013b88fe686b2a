// parse_gateway_json: schema coverage, defaults, paths in type errors, warnings.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ditto/config/load.hpp"

namespace ditto::config {
namespace {

using strings = std::vector<std::string>;

gateway_config parse(const std::string& text, diagnostics& diag) {
    return parse_gateway_json(text, diag);
}

// A minimal valid virtual key, as JSON, with `extra` spliced in before the closing brace.
std::string key_json(const std::string& id, const std::string& extra = "") {
    return R"({"id":")" + id + R"(","token":"tok-)" + id +
           R"(","enabled":true,"limits":{},"budget":{},"cache":{"enabled":false},)"
           R"("guardrails":{},"passthrough":{"allow":false,"bypass_cache":false})" +
           extra + "}";
}

constexpr const char* k_full_config = R"json({
  "backends": [
    {
      "name": "primary",
      "base_url": "https://api.example.com/v1",
      "max_in_flight": 16,
      "timeout_seconds": 30,
      "headers": {"authorization": "Bearer ${OPENAI_KEY}", "x-org": "acme"},
      "query_params": {"api-version": "2024-01-01"},
      "model_map": {"gpt-4o": "gpt-4o-2024-08-06", "*": "gpt-4o-mini"},
      "tls_ca_file": "/etc/ssl/ca.pem",
      "tls_insecure_skip_verify": true,
      "max_response_seconds": 600,
      "min_response_bytes_per_second": 10
    },
    {"name": "secondary", "base_url": "http://localhost:9000"}
  ],
  "virtual_keys": [
    {
      "id": "key-1",
      "token": "vk-secret-1",
      "enabled": false,
      "tenant_id": "  tenant-a ",
      "project_id": "proj-b",
      "user_id": "user-c",
      "tenant_budget": {"total_tokens": 1000, "total_usd_micros": 2000},
      "project_budget": {"total_tokens": 3000},
      "user_budget": {"total_usd_micros": 4000},
      "tenant_limits": {"rpm": 10, "tpm": 20},
      "project_limits": {"rpm": 30},
      "user_limits": {"tpm": 40},
      "limits": {"rpm": 60, "tpm": 4294967295},
      "budget": {"total_tokens": 18446744073709551615, "total_usd_micros": 5000000},
      "cache": {"enabled": true, "ttl_seconds": 120, "max_entries": 10,
                "max_body_bytes": 2048, "max_total_body_bytes": 4096},
      "guardrails": {
        "banned_phrases": ["forbidden", "secret plan"],
        "banned_regexes": ["\\d{16}"],
        "block_pii": true,
        "validate_schema": true,
        "max_input_tokens": 8000,
        "allow_models": ["gpt-4o*"],
        "deny_models": ["gpt-3.5*"]
      },
      "passthrough": {"allow": true, "bypass_cache": true},
      "route": "secondary"
    }
  ],
  "router": {
    "default_backends": [{"backend": "primary", "weight": 3.5}, {"backend": "secondary"}],
    "rules": [
      {"model_prefix": "gpt-4o", "exact": true, "backend": "primary",
       "backends": [{"backend": "secondary", "weight": 0.25}],
       "guardrails": {"block_pii": true, "deny_models": ["x"]}},
      {"model_prefix": "claude", "backend": "secondary"}
    ]
  },
  "observability": {
    "redaction": {
      "replacement": "***",
      "redact_headers": ["x-secret"],
      "redact_key_names": ["pin"],
      "redact_query_params": ["sig"],
      "redact_json_pointers": ["/a/b"],
      "redact_regexes": ["tok-[0-9]+"],
      "sanitize_query_in_keys": ["link"]
    },
    "sampling": {"json_logs_rate": 0.5, "audit_rate": 0, "devtools_rate": 1}
  }
})json";

TEST(ConfigParse, FullConfigFillsEveryField) {
    diagnostics diag;
    const gateway_config cfg = parse(k_full_config, diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(diag.warnings, strings{});

    ASSERT_EQ(cfg.backends.size(), 2u);
    const backend_config& b = cfg.backends[0];
    EXPECT_EQ(b.name, "primary");
    EXPECT_EQ(b.base_url, "https://api.example.com/v1");
    EXPECT_EQ(b.max_in_flight, std::optional<std::uint64_t>(16));
    EXPECT_EQ(b.timeout_seconds, 30u);
    EXPECT_EQ(b.effective_timeout_seconds(), 30u);
    EXPECT_EQ(b.headers, (std::map<std::string, std::string>{
                             {"authorization", "Bearer ${OPENAI_KEY}"}, {"x-org", "acme"}}));
    EXPECT_EQ(b.query_params, (std::map<std::string, std::string>{{"api-version", "2024-01-01"}}));
    EXPECT_EQ(b.model_map, (std::map<std::string, std::string>{{"gpt-4o", "gpt-4o-2024-08-06"},
                                                               {"*", "gpt-4o-mini"}}));
    EXPECT_EQ(b.tls_ca_file, std::optional<std::string>("/etc/ssl/ca.pem"));
    EXPECT_TRUE(b.tls_insecure_skip_verify);
    EXPECT_EQ(b.max_response_seconds, std::optional<std::uint64_t>(600));
    EXPECT_EQ(b.min_response_bytes_per_second, std::optional<std::uint64_t>(10));

    const backend_config& b2 = cfg.backends[1];
    EXPECT_EQ(b2.name, "secondary");
    EXPECT_EQ(b2.base_url, "http://localhost:9000");
    EXPECT_EQ(b2.max_in_flight, std::nullopt);
    EXPECT_EQ(b2.timeout_seconds, 0u);
    EXPECT_EQ(b2.effective_timeout_seconds(), 300u);
    EXPECT_TRUE(b2.headers.empty());
    EXPECT_EQ(b2.tls_ca_file, std::nullopt);
    EXPECT_FALSE(b2.tls_insecure_skip_verify);
    EXPECT_EQ(b2.max_response_seconds, std::nullopt);  // off unless set
    EXPECT_EQ(b2.min_response_bytes_per_second, std::nullopt);

    ASSERT_EQ(cfg.virtual_keys.size(), 1u);
    virtual_key_config want;
    want.id = "key-1";
    want.token = "vk-secret-1";
    want.enabled = false;
    want.tenant_id = "tenant-a";
    want.project_id = "proj-b";
    want.user_id = "user-c";
    want.tenant_budget = budget_config{1000, 2000};
    want.project_budget = budget_config{3000, std::nullopt};
    want.user_budget = budget_config{std::nullopt, 4000};
    want.tenant_limits = limits_config{10, 20};
    want.project_limits = limits_config{30, std::nullopt};
    want.user_limits = limits_config{std::nullopt, 40};
    want.limits = limits_config{60, 4294967295u};
    want.budget = budget_config{18446744073709551615ull, 5000000};
    want.cache = cache_config{true, 120, 10, 2048, 4096};
    want.guardrails.banned_phrases = {"forbidden", "secret plan"};
    want.guardrails.banned_regexes = {"\\d{16}"};
    want.guardrails.block_pii = true;
    want.guardrails.validate_schema = true;
    want.guardrails.max_input_tokens = 8000;
    want.guardrails.allow_models = {"gpt-4o*"};
    want.guardrails.deny_models = {"gpt-3.5*"};
    want.passthrough = passthrough_config{true, true};
    want.route = "secondary";
    EXPECT_EQ(cfg.virtual_keys[0], want);

    router_config want_router;
    want_router.default_backends = {{"primary", 3.5}, {"secondary", 1.0}};
    route_rule r0;
    r0.model_prefix = "gpt-4o";
    r0.exact = true;
    r0.backend = "primary";
    r0.backends = {{"secondary", 0.25}};
    r0.guardrails = guardrails_config{};
    r0.guardrails->block_pii = true;
    r0.guardrails->deny_models = {"x"};
    route_rule r1;
    r1.model_prefix = "claude";
    r1.backend = "secondary";
    want_router.rules = {r0, r1};
    EXPECT_EQ(cfg.router, want_router);

    const redaction_config& red = cfg.observability.redaction;
    EXPECT_EQ(red.replacement, "***");
    EXPECT_EQ(red.redact_headers, strings{"x-secret"});
    EXPECT_EQ(red.redact_key_names, strings{"pin"});
    EXPECT_EQ(red.redact_query_params, strings{"sig"});
    EXPECT_EQ(red.redact_json_pointers, strings{"/a/b"});
    EXPECT_EQ(red.redact_regexes, strings{"tok-[0-9]+"});
    EXPECT_EQ(red.sanitize_query_in_keys, strings{"link"});
    EXPECT_EQ(cfg.observability.sampling.json_logs_rate, 0.5);
    EXPECT_EQ(cfg.observability.sampling.audit_rate, 0.0);
    EXPECT_EQ(cfg.observability.sampling.devtools_rate, 1.0);
}

TEST(ConfigParse, MinimalConfigUsesDefaults) {
    diagnostics diag;
    const gateway_config cfg = parse(R"({"virtual_keys":[],"router":{}})", diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(diag.warnings, strings{});
    EXPECT_TRUE(cfg.backends.empty());
    EXPECT_TRUE(cfg.virtual_keys.empty());
    EXPECT_TRUE(cfg.router.default_backends.empty());
    EXPECT_TRUE(cfg.router.rules.empty());
    const redaction_config defaults;
    EXPECT_EQ(cfg.observability.redaction.replacement, "<redacted>");
    EXPECT_EQ(cfg.observability.redaction.redact_headers, defaults.redact_headers);
    EXPECT_EQ(cfg.observability.redaction.redact_regexes,
              (strings{R"((?i)bearer\s+[^\s]+)", R"(sk-[A-Za-z0-9]{10,})"}));
    EXPECT_EQ(cfg.observability.sampling.audit_rate, 1.0);
}

TEST(ConfigParse, MinimalKeyDefaults) {
    diagnostics diag;
    const gateway_config cfg =
        parse(R"({"virtual_keys":[)" + key_json("k") + R"(],"router":{}})", diag);
    EXPECT_EQ(diag.errors, strings{});
    ASSERT_EQ(cfg.virtual_keys.size(), 1u);
    const virtual_key_config& k = cfg.virtual_keys[0];
    EXPECT_EQ(k.tenant_id, std::nullopt);
    EXPECT_EQ(k.route, std::nullopt);
    EXPECT_EQ(k.cache.max_entries, 1024u);
    EXPECT_EQ(k.cache.max_body_bytes, 1024u * 1024u);
    EXPECT_EQ(k.cache.max_total_body_bytes, 64u * 1024u * 1024u);
    EXPECT_EQ(k.cache.ttl_seconds, std::nullopt);
    EXPECT_EQ(k.guardrails, guardrails_config{});
}

TEST(ConfigParse, NullMeansAbsentForOptionalFields) {
    diagnostics diag;
    const std::string text =
        R"({"backends":[{"name":"b","base_url":"http://x","timeout_seconds":null,)"
        R"("max_in_flight":null,"headers":null,"provider":null,"provider_config":null}],)"
        R"("virtual_keys":[{"id":"k","token":"t","enabled":true,"limits":{"rpm":null},)"
        R"("budget":{"total_tokens":null},"cache":{"enabled":true,"max_entries":null,)"
        R"("ttl_seconds":null},"guardrails":{"banned_phrases":null},)"
        R"("passthrough":{"allow":false,"bypass_cache":false},"route":null,"tenant_id":null}],)"
        R"("router":{"default_backend":null,"rules":null},"observability":null})";
    const gateway_config cfg = parse(text, diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(diag.warnings, strings{});
    ASSERT_EQ(cfg.virtual_keys.size(), 1u);
    EXPECT_EQ(cfg.virtual_keys[0].limits.rpm, std::nullopt);
    EXPECT_EQ(cfg.virtual_keys[0].cache.max_entries, 1024u);
    EXPECT_EQ(cfg.virtual_keys[0].route, std::nullopt);
    EXPECT_EQ(cfg.backends[0].timeout_seconds, 0u);
}

TEST(ConfigParse, ScopeIdsAreTrimmedAndBlankIsAbsent) {
    diagnostics diag;
    const gateway_config cfg =
        parse(R"({"virtual_keys":[)" +
                  key_json("k", R"(,"tenant_id":"  t1  ","project_id":"   ","user_id":"")") +
                  R"(],"router":{}})",
              diag);
    EXPECT_EQ(diag.errors, strings{});
    ASSERT_EQ(cfg.virtual_keys.size(), 1u);
    EXPECT_EQ(cfg.virtual_keys[0].tenant_id, std::optional<std::string>("t1"));
    EXPECT_EQ(cfg.virtual_keys[0].project_id, std::nullopt);
    EXPECT_EQ(cfg.virtual_keys[0].user_id, std::nullopt);
}

TEST(ConfigParse, QueryParamsAreTrimmedAndEmptyNamesDropped) {
    diagnostics diag;
    const gateway_config cfg =
        parse(R"({"backends":[{"name":"b","base_url":"http://x",)"
              R"("query_params":{" v ":" 1 ","  ":"dropped","":"dropped2","k":""}}],)"
              R"("virtual_keys":[],"router":{}})",
              diag);
    EXPECT_EQ(diag.errors, strings{});
    ASSERT_EQ(cfg.backends.size(), 1u);
    EXPECT_EQ(cfg.backends[0].query_params,
              (std::map<std::string, std::string>{{"v", "1"}, {"k", ""}}));
}

TEST(ConfigParse, MissingTopLevelFields) {
    diagnostics diag;
    parse("{}", diag);
    EXPECT_EQ(diag.errors,
              (strings{"virtual_keys: missing required field", "router: missing required field"}));
}

TEST(ConfigParse, TopLevelMustBeObject) {
    for (const char* text : {"[]", "null", "42", "\"x\""}) {
        diagnostics diag;
        parse(text, diag);
        EXPECT_EQ(diag.errors, strings{"invalid config: the top level must be a JSON object"})
            << text;
    }
}

TEST(ConfigParse, JsonSyntaxErrorNamesLineAndColumn) {
    diagnostics diag;
    parse("{\n  \"virtual_keys\": ,\n  \"router\": {}\n}", diag);
    ASSERT_EQ(diag.errors.size(), 1u);
    EXPECT_EQ(diag.errors[0],
              "invalid JSON at line 2 column 19: syntax error while parsing value - unexpected "
              "','; expected '[', '{', or a literal");
}

TEST(ConfigParse, JsonSyntaxErrorAtEndOfInput) {
    diagnostics diag;
    parse("", diag);
    ASSERT_EQ(diag.errors.size(), 1u);
    EXPECT_EQ(diag.errors[0],
              "invalid JSON at line 1 column 0: syntax error while parsing value - unexpected end "
              "of input; expected '[', '{', or a literal");
}

TEST(ConfigParse, NeverThrowsOnBadInput) {
    const std::vector<std::string> inputs = {
        "",
        "{",
        "}",
        "\xff\xfe",
        "{\"virtual_keys\":\"\xff\"}",
        std::string(10000, '['),
        "{\"virtual_keys\":[1,2,3],\"router\":[],\"backends\":{}}",
        "{\"virtual_keys\":[{\"id\":{}}],\"router\":{\"rules\":[1,{\"backends\":7}]}}"};
    for (const std::string& text : inputs) {
        diagnostics diag;
        EXPECT_NO_THROW(parse(text, diag));
        EXPECT_FALSE(diag.ok());
    }
}

TEST(ConfigParse, MissingRequiredKeyFields) {
    diagnostics diag;
    parse(R"({"virtual_keys":[{"id":"k","token":"t","enabled":true,"limits":{},)"
          R"("cache":{},"guardrails":{},"passthrough":{"allow":true}}],"router":{}})",
          diag);
    // budget may be left out (it defaults to none); a section that is given must be whole.
    EXPECT_EQ(diag.errors, (strings{
                               "virtual_keys[0].cache.enabled: missing required field",
                               "virtual_keys[0].passthrough.bypass_cache: missing required field",
                           }));
}

TEST(ConfigParse, EmptyKeyObjectReportsEveryRequiredField) {
    diagnostics diag;
    parse(R"({"virtual_keys":[{}],"router":{}})", diag);
    EXPECT_EQ(diag.errors, (strings{
                               "virtual_keys[0].id: missing required field",
                               "virtual_keys[0].token: missing required field",
                           }));
}

// A first gateway.json names a key by id and token alone (docs/configuration.md): enabled, no
// limits, no budget, cache off, no guardrails, passthrough off; the same key as written out in
// full, so the canonical JSON the Admin API writes does not change.
TEST(ConfigParse, BareKeyTakesTheDocumentedDefaults) {
    diagnostics bare_diag;
    const gateway_config bare =
        parse(R"({"virtual_keys":[{"id":"k","token":"t"}],"router":{}})", bare_diag);
    EXPECT_EQ(bare_diag.errors, strings{});
    EXPECT_EQ(bare_diag.warnings, strings{});
    ASSERT_EQ(bare.virtual_keys.size(), 1u);
    const virtual_key_config& k = bare.virtual_keys[0];
    EXPECT_TRUE(k.enabled);
    EXPECT_EQ(k.limits, limits_config{});
    EXPECT_EQ(k.budget, budget_config{});
    EXPECT_FALSE(k.cache.enabled);
    EXPECT_EQ(k.guardrails, guardrails_config{});
    EXPECT_FALSE(k.passthrough.allow);
    EXPECT_FALSE(k.passthrough.bypass_cache);

    diagnostics full_diag;
    const gateway_config full =
        parse(R"({"virtual_keys":[{"id":"k","token":"t","enabled":true,"limits":{},"budget":{},)"
              R"("cache":{"enabled":false},"guardrails":{},)"
              R"("passthrough":{"allow":false,"bypass_cache":false}}],"router":{}})",
              full_diag);
    EXPECT_EQ(full_diag.errors, strings{});
    EXPECT_EQ(bare.virtual_keys, full.virtual_keys);

    diagnostics null_diag;
    const gateway_config nulls = parse(
        R"({"virtual_keys":[{"id":"k","token":"t","enabled":null,"limits":null,"budget":null,)"
        R"("cache":null,"guardrails":null,"passthrough":null}],"router":{}})",
        null_diag);
    EXPECT_EQ(null_diag.errors, strings{});
    EXPECT_EQ(nulls.virtual_keys, full.virtual_keys);
}

TEST(ConfigParse, TypeErrorsNameTheirPath) {
    diagnostics diag;
    parse(R"({
      "backends": [
        {"name": "a", "base_url": "http://a", "max_response_seconds": "10",
         "min_response_bytes_per_second": -1},
        {"name": "b", "base_url": "http://b", "headers": {"x-a": 5}},
        {"name": "c", "base_url": "http://c", "timeout_seconds": "30"},
        {"name": "d", "base_url": 7, "timeout_seconds": -1, "max_in_flight": 1.5},
        {"name": 1, "tls_insecure_skip_verify": "yes", "model_map": []}
      ],
      "virtual_keys": [
        {"id": "k", "token": "t", "enabled": "yes",
         "limits": {"rpm": 4294967296, "tpm": -1},
         "budget": {"total_tokens": 1e3},
         "cache": {"enabled": true, "max_entries": "many"},
         "guardrails": {"banned_phrases": ["ok", 2], "block_pii": 1},
         "passthrough": {"allow": false, "bypass_cache": false},
         "route": 5, "tenant_id": false}
      ],
      "router": {"default_backends": [{"backend": "a", "weight": "heavy"}],
                 "rules": {}},
      "observability": {"sampling": {"audit_rate": "1"}, "redaction": {"redact_regexes": "x"}}
    })",
          diag);
    EXPECT_EQ(diag.errors, (strings{
                               "backends[0].max_response_seconds: expected a non-negative integer",
                               "backends[0].min_response_bytes_per_second: expected a non-negative "
                               "integer",
                               "backends[1].headers.x-a: expected a string",
                               "backends[2].timeout_seconds: expected a non-negative integer",
                               "backends[3].base_url: expected a string",
                               "backends[3].max_in_flight: expected a non-negative integer",
                               "backends[3].timeout_seconds: expected a non-negative integer",
                               "backends[4].name: expected a string",
                               "backends[4].model_map: expected an object",
                               "backends[4].tls_insecure_skip_verify: expected a boolean",
                               "virtual_keys[0].enabled: expected a boolean",
                               "virtual_keys[0].tenant_id: expected a string",
                               "virtual_keys[0].limits.rpm: expected an integer between 0 and "
                               "4294967295",
                               "virtual_keys[0].limits.tpm: expected an integer between 0 and "
                               "4294967295",
                               "virtual_keys[0].budget.total_tokens: expected a non-negative "
                               "integer",
                               "virtual_keys[0].cache.max_entries: expected a non-negative integer",
                               "virtual_keys[0].guardrails.banned_phrases[1]: expected a string",
                               "virtual_keys[0].guardrails.block_pii: expected a boolean",
                               "virtual_keys[0].route: expected a string",
                               "router.default_backends[0].weight: expected a number",
                               "router.rules: expected an array",
                               "observability.redaction.redact_regexes: expected an array",
                               "observability.sampling.audit_rate: expected a number",
                           }));
}

TEST(ConfigParse, WrongContainerTypes) {
    diagnostics diag;
    parse(R"({"backends":{},"virtual_keys":[7],"router":"r","observability":[]})", diag);
    EXPECT_EQ(diag.errors, (strings{
                               "backends: expected an array",
                               "virtual_keys[0]: expected an object",
                               "router: expected an object",
                               "observability: expected an object",
                           }));
}

TEST(ConfigParse, NullForRequiredFieldIsATypeError) {
    diagnostics diag;
    parse(R"({"virtual_keys":null,"router":{}})", diag);
    EXPECT_EQ(diag.errors, strings{"virtual_keys: expected an array"});
}

TEST(ConfigParse, UnknownFieldsWarnWithTheirPath) {
    diagnostics diag;
    const gateway_config cfg =
        parse(R"({"extra":1,"backends":[{"name":"b","base_url":"http://x","foo":true}],)"
              R"("virtual_keys":[)" +
                  key_json("k", R"(,"colour":"red")") +
                  R"(],"router":{"rules":[{"model_prefix":"m","backend":"b","prio":1}],"x":0},)"
                  R"("observability":{"redaction":{"mask":"#"},"sampling":{"rate":1},"otel":{}}})",
              diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(diag.warnings, (strings{
                                 "unknown field ignored: backends[0].foo",
                                 "unknown field ignored: virtual_keys[0].colour",
                                 "unknown field ignored: router.rules[0].prio",
                                 "unknown field ignored: router.x",
                                 "unknown field ignored: observability.redaction.mask",
                                 "unknown field ignored: observability.sampling.rate",
                                 "unknown field ignored: observability.otel",
                                 "unknown field ignored: extra",
                             }));
    EXPECT_EQ(cfg.backends.size(), 1u);
}

TEST(ConfigParse, UnknownFieldInNestedKeyObjects) {
    diagnostics diag;
    parse(R"({"virtual_keys":[{"id":"k","token":"t","enabled":true,"limits":{"rpd":1},)"
          R"("budget":{"usd":1},"cache":{"enabled":true,"size":1},"guardrails":{"pii":true},)"
          R"("passthrough":{"allow":false,"bypass_cache":false,"x":1}}],"router":{}})",
          diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(diag.warnings, (strings{
                                 "unknown field ignored: virtual_keys[0].limits.rpd",
                                 "unknown field ignored: virtual_keys[0].budget.usd",
                                 "unknown field ignored: virtual_keys[0].cache.size",
                                 "unknown field ignored: virtual_keys[0].guardrails.pii",
                                 "unknown field ignored: virtual_keys[0].passthrough.x",
                             }));
}

TEST(ConfigParse, McpServersAndA2aAgentsAreIgnoredWithAWarning) {
    diagnostics diag;
    parse(R"({"virtual_keys":[],"router":{},"mcp_servers":[{"server_id":"s","url":"http://m"}],)"
          R"("a2a_agents":[{"agent_id":"a"}]})",
          diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(diag.warnings,
              (strings{"mcp_servers is not supported by this gateway and is ignored",
                       "a2a_agents is not supported by this gateway and is ignored"}));
}

TEST(ConfigParse, EmptyMcpServersListIsSilent) {
    diagnostics diag;
    parse(R"({"virtual_keys":[],"router":{},"mcp_servers":[],"a2a_agents":[]})", diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(diag.warnings, strings{});
}

TEST(ConfigParse, ProviderIsOpenAIOrAnthropicAndProviderConfigIsRejected) {
    diagnostics diag;
    const gateway_config cfg = parse(R"({"backends":[{"name":"a","base_url":"http://a"},)"
                                     R"({"name":"b","base_url":"http://b","provider":"anthropic"},)"
                                     R"({"name":"c","provider_config":{"base_url":"x"}},)"
                                     R"({"name":"d","provider":"bedrock"}],)"
                                     R"("virtual_keys":[],"router":{}})",
                                     diag);
    EXPECT_EQ(diag.errors,
              (strings{"backends[2]: translation backends (provider_config) are not supported; "
                       "use an OpenAI-compatible base_url",
                       "backends[3].provider: must be \"openai\" or \"anthropic\"; translation "
                       "backends of other providers are not supported: use an OpenAI-compatible "
                       "base_url"}));
    EXPECT_EQ(diag.warnings, strings{});
    ASSERT_EQ(cfg.backends.size(), 4u);
    EXPECT_EQ(cfg.backends[0].provider, "openai");
    EXPECT_EQ(cfg.backends[1].provider, "anthropic");
}

TEST(ConfigParse, ResponsesModeDefaultsToAutoAndRefusesOtherWords) {
    using rm = ditto::config::backend_config::responses_mode;
    diagnostics diag;
    const gateway_config cfg =
        parse(R"({"backends":[{"name":"a","base_url":"http://a"},)"
              R"({"name":"b","base_url":"http://b","responses":"translate"},)"
              R"({"name":"c","base_url":"http://c","responses":"passthrough"},)"
              R"({"name":"d","base_url":"http://d","responses":"never"}],)"
              R"("virtual_keys":[],"router":{}})",
              diag);
    EXPECT_EQ(diag.errors,
              strings{R"(backends[3].responses: must be "auto", "passthrough" or "translate")"});
    ASSERT_EQ(cfg.backends.size(), 4u);
    EXPECT_EQ(cfg.backends[0].responses, rm::auto_detect);
    EXPECT_EQ(cfg.backends[1].responses, rm::translate);
    EXPECT_EQ(cfg.backends[2].responses, rm::passthrough);
}

TEST(ConfigParse, LegacyDefaultBackendIsFolded) {
    diagnostics diag;
    const gateway_config cfg =
        parse(R"({"virtual_keys":[],"router":{"default_backend":"primary"}})", diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(diag.warnings,
              strings{"router.default_backend is deprecated; use router.default_backends"});
    EXPECT_EQ(cfg.router.default_backends, (std::vector<weighted_backend>{{"primary", 1.0}}));
}

TEST(ConfigParse, LegacyDefaultBackendWithEmptyListIsFolded) {
    diagnostics diag;
    const gateway_config cfg = parse(
        R"({"virtual_keys":[],"router":{"default_backends":[],"default_backend":"p"}})", diag);
    EXPECT_EQ(diag.errors, strings{});
    EXPECT_EQ(cfg.router.default_backends, (std::vector<weighted_backend>{{"p", 1.0}}));
}

TEST(ConfigParse, LegacyAndNewDefaultBackendsConflict) {
    diagnostics diag;
    parse(R"({"virtual_keys":[],"router":{"default_backends":[{"backend":"a"}],)"
          R"("default_backend":"b"}})",
          diag);
    EXPECT_EQ(diag.errors,
              strings{"router.default_backend is deprecated; use router.default_backends only"});
}

TEST(ConfigParse, RuleDefaults) {
    diagnostics diag;
    const gateway_config cfg =
        parse(R"({"virtual_keys":[],"router":{"rules":[{"model_prefix":"gpt"}]}})", diag);
    EXPECT_EQ(diag.errors, strings{});
    ASSERT_EQ(cfg.router.rules.size(), 1u);
    EXPECT_EQ(cfg.router.rules[0], (route_rule{"gpt", false, "", {}, std::nullopt}));
}

TEST(ConfigParse, RouterRequiredNestedFields) {
    diagnostics diag;
    parse(R"({"virtual_keys":[],"router":{"default_backends":[{"weight":2}],)"
          R"("rules":[{"backend":"a","backends":[{}]}]}})",
          diag);
    EXPECT_EQ(diag.errors, (strings{
                               "router.default_backends[0].backend: missing required field",
                               "router.rules[0].model_prefix: missing required field",
                               "router.rules[0].backends[0].backend: missing required field",
                           }));
}

TEST(ConfigParse, ExplicitRedactionListReplacesDefaultOthersKeepDefaults) {
    diagnostics diag;
    const gateway_config cfg = parse(
        R"({"virtual_keys":[],"router":{},"observability":{"redaction":{"redact_regexes":[]}}})",
        diag);
    EXPECT_EQ(diag.errors, strings{});
    const redaction_config defaults;
    EXPECT_EQ(cfg.observability.redaction.redact_regexes, strings{});
    EXPECT_EQ(cfg.observability.redaction.redact_key_names, defaults.redact_key_names);
    EXPECT_EQ(cfg.observability.redaction.replacement, "<redacted>");
}

TEST(ConfigParse, IntegerBounds) {
    diagnostics diag;
    const gateway_config cfg =
        parse(R"({"virtual_keys":[{"id":"k","token":"t","enabled":true,)"
              R"("limits":{"rpm":0,"tpm":4294967295},)"
              R"("budget":{"total_tokens":18446744073709551615,"total_usd_micros":0},)"
              R"("cache":{"enabled":false},"guardrails":{},)"
              R"("passthrough":{"allow":false,"bypass_cache":false}}],"router":{}})",
              diag);
    EXPECT_EQ(diag.errors, strings{});
    ASSERT_EQ(cfg.virtual_keys.size(), 1u);
    EXPECT_EQ(cfg.virtual_keys[0].limits.rpm, std::optional<std::uint32_t>(0));
    EXPECT_EQ(cfg.virtual_keys[0].limits.tpm, std::optional<std::uint32_t>(4294967295u));
    EXPECT_EQ(cfg.virtual_keys[0].budget.total_tokens,
              std::optional<std::uint64_t>(18446744073709551615ull));

    diagnostics over;
    parse(R"({"virtual_keys":[],"router":{},"backends":[{"name":"b",)"
          R"("timeout_seconds":18446744073709551616}]})",
          over);
    EXPECT_EQ(over.errors, strings{"backends[0].timeout_seconds: expected a non-negative integer"});
}

}  // namespace
}  // namespace ditto::config
