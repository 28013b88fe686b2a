#pragma once

// Plain structs for gateway.json (docs/configuration.md). No JSON library here: parsing lives in
// src/config/parse.cpp so that only that file pays for nlohmann.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/config/access_settings.hpp"

namespace ditto::config {

/// One upstream (docs/configuration.md, `backends[]`).
struct backend_config {
    std::string name;
    std::string base_url;
    std::optional<std::uint64_t> max_in_flight;  ///< 0 counts as 1
    std::uint64_t timeout_seconds = 0;           ///< 0 means 300
    std::map<std::string, std::string> headers;  ///< injected upstream, replacing client's
    std::map<std::string, std::string> query_params;
    std::map<std::string, std::string> model_map;  ///< model -> upstream model; "*" = any
    // Ours (docs/configuration.md): TLS to the upstream.
    std::optional<std::string> tls_ca_file;  ///< PEM bundle instead of the system store
    bool tls_insecure_skip_verify = false;   ///< testing only; logged as a warning
    // Ours (issue 19): a trickling upstream cannot hold a connection. Absent or 0: off.
    std::optional<std::uint64_t> max_response_seconds;           ///< request sent → last byte
    std::optional<std::uint64_t> min_response_bytes_per_second;  ///< per timeout window
    // Ours (docs/dialects.md): which client dialects the backend serves natively.
    /// `POST /v1/responses`: forwarded as is first and translated to chat completions on a
    /// 404/405/501 (auto), always forwarded (passthrough), or always translated (translate).
    enum class responses_mode : std::uint8_t { auto_detect, passthrough, translate };
    responses_mode responses = responses_mode::auto_detect;
    /// "openai" (chat completions and the OpenAI API) or "anthropic" (also serves Anthropic
    /// Messages, so `POST /v1/messages` goes to it as is instead of translated).
    std::string provider = "openai";

    /// Absent or 0 means 300 s (docs/configuration.md).
    std::uint64_t effective_timeout_seconds() const {
        return timeout_seconds == 0 ? 300 : timeout_seconds;
    }
    bool operator==(const backend_config&) const = default;
};

struct limits_config {
    std::optional<std::uint32_t> rpm;  ///< 0 = always block
    std::optional<std::uint32_t> tpm;
    bool operator==(const limits_config&) const = default;
};

/// The calendar period a budget counts in (docs/governance.md, "Budget periods"): one ledger
/// for ever, or one per local day (from midnight), ISO week (from Monday) or month (from the
/// 1st) in `timezone`.
enum class budget_period : std::uint8_t { lifetime, day, week, month };

struct budget_config {
    std::optional<std::uint64_t> total_tokens;
    std::optional<std::uint64_t> total_usd_micros;
    budget_period period = budget_period::lifetime;
    std::string timezone;  ///< an IANA name; empty: UTC. Only with a period other than lifetime.
    bool operator==(const budget_config&) const = default;
};

/// "lifetime", "day", "week", "month".
std::string_view period_name(budget_period p);

/// One `model_limits` entry of a key (docs/governance.md, "Per-model limits"): limits and a
/// budget that apply, on top of the key's own, to the requests for the models it matches.
struct model_limit_config {
    std::optional<std::uint32_t> rpm;
    std::optional<std::uint32_t> tpm;
    std::optional<budget_config> budget;
    bool operator==(const model_limit_config&) const = default;
};

struct cache_config {
    bool enabled = false;
    std::optional<std::uint64_t> ttl_seconds;
    std::uint64_t max_entries = 1024;
    std::uint64_t max_body_bytes = 1024 * 1024;
    std::uint64_t max_total_body_bytes = 64 * 1024 * 1024;
    bool operator==(const cache_config&) const = default;
};

struct passthrough_config {
    bool allow = false;
    bool bypass_cache = false;
    bool operator==(const passthrough_config&) const = default;
};

struct guardrails_config {
    std::vector<std::string> banned_phrases;
    std::vector<std::string> banned_regexes;
    bool block_pii = false;
    bool validate_schema = false;
    std::optional<std::uint64_t> max_input_tokens;
    std::vector<std::string> allow_models;
    std::vector<std::string> deny_models;
    bool operator==(const guardrails_config&) const = default;
};

/// docs/configuration.md, `virtual_keys[]`. Required: id and token; the rest defaults to an enabled
/// key with no limits, no budget, cache off, no guardrails and passthrough off (the member
/// initialisers below).
struct virtual_key_config {
    std::string id;
    std::string token;
    bool enabled = true;
    std::optional<std::string> tenant_id;  ///< trimmed; blank counts as absent
    std::optional<std::string> project_id;
    std::optional<std::string> user_id;
    std::optional<budget_config> tenant_budget;
    std::optional<budget_config> project_budget;
    std::optional<budget_config> user_budget;
    std::optional<limits_config> tenant_limits;
    std::optional<limits_config> project_limits;
    std::optional<limits_config> user_limits;
    limits_config limits;
    budget_config budget;
    cache_config cache;
    guardrails_config guardrails;
    passthrough_config passthrough;
    std::optional<std::string> route;
    /// By model pattern: `gpt-4o` (exact) or `gpt-4o*` (prefix); docs/governance.md.
    std::map<std::string, model_limit_config> model_limits;
    /// Unix ms after which the key answers 401 key_expired (docs/governance.md, "Key expiry").
    std::optional<std::int64_t> expires_at_ms;
    /// The token a rotation replaced (same forms as `token`), accepted until
    /// previous_token_expires_at_ms (docs/governance.md, "Rotation").
    std::optional<std::string> previous_token;
    std::optional<std::int64_t> previous_token_expires_at_ms;
    bool operator==(const virtual_key_config&) const = default;
};

struct weighted_backend {
    std::string backend;
    double weight = 1.0;
    bool operator==(const weighted_backend&) const = default;
};

struct route_rule {
    std::string model_prefix;
    bool exact = false;
    std::string backend;
    std::vector<weighted_backend> backends;
    std::optional<guardrails_config> guardrails;
    bool operator==(const route_rule&) const = default;
};

struct router_config;

/// docs/routing.md, "Canary": a candidate router that routes a share of requests, chosen by
/// request id, until it is promoted or rolled back.
struct router_canary {
    double percent = 0;                             ///< (0, 100]
    std::shared_ptr<const router_config> router;    ///< the candidate; no canary of its own
    bool operator==(const router_canary& o) const;  ///< by content
};

/// docs/configuration.md, `router`. A legacy `default_backend` is folded into default_backends by
/// the parser.
struct router_config {
    std::vector<weighted_backend> default_backends;
    std::vector<route_rule> rules;
    std::optional<router_canary> canary;
    bool operator==(const router_config&) const = default;
};

inline bool router_canary::operator==(const router_canary& o) const {
    return percent == o.percent &&
           (router == o.router || (router && o.router && *router == *o.router));
}

/// Redaction defaults (docs/configuration.md, `observability`).
struct redaction_config {
    std::string replacement = "<redacted>";
    std::vector<std::string> redact_headers = {"authorization", "proxy-authorization",
                                               "x-api-key",     "x-litellm-api-key",
                                               "x-admin-token", "x-ditto-virtual-key"};
    std::vector<std::string> redact_key_names = {
        "virtual_key",   "api_key",       "apikey", "token",    "access_token",
        "refresh_token", "client_secret", "secret", "password", "session_token"};
    std::vector<std::string> redact_query_params = {
        "api_key", "api-key", "key", "token", "access_token", "refresh_token", "authorization"};
    std::vector<std::string> redact_json_pointers;
    std::vector<std::string> redact_regexes = {R"((?i)bearer\s+[^\s]+)", R"(sk-[A-Za-z0-9]{10,})"};
    std::vector<std::string> sanitize_query_in_keys = {"path", "url", "base_url", "endpoint"};
};

struct sampling_config {
    double json_logs_rate = 1.0;
    double audit_rate = 1.0;
    double devtools_rate = 1.0;
    double traces_rate = 1.0;  ///< docs/observability.md, "Tracing"
};

struct observability_config {
    redaction_config redaction;
    sampling_config sampling;
};

/// The whole gateway.json.
struct gateway_config {
    std::vector<backend_config> backends;
    std::vector<virtual_key_config> virtual_keys;
    router_config router;
    observability_config observability;
    access_config access;  ///< docs/access.md
};

}  // namespace ditto::config
