// Virtual keys and the router → canonical JSON (SPEC §1.2-§1.3). nlohmann's ordered_json keeps
// members in insertion order, which is what makes the output deterministic: the order below
// is the struct's declaration order, the one SPEC §1.2 fixes for config hashes (§7.4).

#include "ditto/config/serialize.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/config/load.hpp"
#include "ditto/core/strings.hpp"

namespace ditto::config {
namespace {

using ojson = nlohmann::ordered_json;

constexpr std::string_view k_hash_prefix = "sha256:";

/// `null` for an unset value: SPEC §1.2 writes the nulls inside limits, budget and cache.
template <typename T>
ojson value_or_null(const std::optional<T>& v) {
    return v ? ojson(*v) : ojson(nullptr);
}

ojson limits_json(const limits_config& l) {
    ojson out = ojson::object();
    out["rpm"] = value_or_null(l.rpm);
    out["tpm"] = value_or_null(l.tpm);
    return out;
}

ojson budget_json(const budget_config& b) {
    ojson out = ojson::object();
    out["total_tokens"] = value_or_null(b.total_tokens);
    out["total_usd_micros"] = value_or_null(b.total_usd_micros);
    return out;
}

ojson cache_json(const cache_config& c) {
    ojson out = ojson::object();
    out["enabled"] = c.enabled;
    out["ttl_seconds"] = value_or_null(c.ttl_seconds);
    out["max_entries"] = c.max_entries;
    out["max_body_bytes"] = c.max_body_bytes;
    out["max_total_body_bytes"] = c.max_total_body_bytes;
    return out;
}

ojson passthrough_json(const passthrough_config& p) {
    ojson out = ojson::object();
    out["allow"] = p.allow;
    out["bypass_cache"] = p.bypass_cache;
    return out;
}

ojson string_list_json(const std::vector<std::string>& items) {
    ojson out = ojson::array();
    for (const std::string& s : items)
        out.push_back(s);
    return out;
}

ojson guardrails_json(const guardrails_config& g) {
    ojson out = ojson::object();
    out["banned_phrases"] = string_list_json(g.banned_phrases);
    out["banned_regexes"] = string_list_json(g.banned_regexes);
    out["block_pii"] = g.block_pii;
    out["validate_schema"] = g.validate_schema;
    // Unlike limits/budget/cache, SPEC §1.2 lists no null here: omitted when unset.
    if (g.max_input_tokens)
        out["max_input_tokens"] = *g.max_input_tokens;
    out["allow_models"] = string_list_json(g.allow_models);
    out["deny_models"] = string_list_json(g.deny_models);
    return out;
}

/// True for `sha256:` + exactly 64 hex characters, the form token_lookup_key() takes as an
/// already computed key rather than hashing it again (SPEC §1.2).
bool is_hashed_token(std::string_view token) {
    const std::string_view t = core::trim(token);
    if (!t.starts_with(k_hash_prefix))
        return false;
    const std::string_view hex = t.substr(k_hash_prefix.size());
    return hex.size() == 64 && core::is_hex(hex);
}

std::string token_text(const std::string& token, token_form form) {
    switch (form) {
        case token_form::raw:
            return token;
        case token_form::sha256:
            // Re-hashing a stored hash would lock the key out, so it is kept verbatim.
            if (is_hashed_token(token))
                return token;
            return std::string(k_hash_prefix) + token_lookup_key(token);
        case token_form::redacted:
            return "redacted";
    }
    return "redacted";  // unreachable; fail closed rather than leak the secret
}

ojson weighted_list_json(const std::vector<weighted_backend>& list) {
    ojson out = ojson::array();
    for (const weighted_backend& wb : list) {
        ojson item = ojson::object();
        item["backend"] = wb.backend;
        // nlohmann writes the shortest text that reads back to the same double (and NaN or
        // infinity as null, since JSON has neither).
        item["weight"] = wb.weight;
        out.push_back(std::move(item));
    }
    return out;
}

ojson rule_json(const route_rule& rule) {
    ojson out = ojson::object();
    out["model_prefix"] = rule.model_prefix;
    if (rule.exact)
        out["exact"] = true;
    out["backend"] = rule.backend;
    out["backends"] = weighted_list_json(rule.backends);
    if (rule.guardrails)
        out["guardrails"] = guardrails_json(*rule.guardrails);
    return out;
}

/// Compact; invalid UTF-8 (possible in a struct built in code, never in one parsed from
/// JSON) is replaced instead of throwing, so serialising never fails.
std::string dump(const ojson& j) {
    return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

}  // namespace

std::string key_to_json(const virtual_key_config& k, token_form form) {
    ojson out = ojson::object();
    out["id"] = k.id;
    out["token"] = token_text(k.token, form);
    out["enabled"] = k.enabled;
    auto opt_string = [&](const char* name, const std::optional<std::string>& v) {
        if (v)
            out[name] = *v;
    };
    auto opt_budget = [&](const char* name, const std::optional<budget_config>& v) {
        if (v)
            out[name] = budget_json(*v);
    };
    auto opt_limits = [&](const char* name, const std::optional<limits_config>& v) {
        if (v)
            out[name] = limits_json(*v);
    };
    opt_string("tenant_id", k.tenant_id);
    opt_string("project_id", k.project_id);
    opt_string("user_id", k.user_id);
    opt_budget("tenant_budget", k.tenant_budget);
    opt_budget("project_budget", k.project_budget);
    opt_budget("user_budget", k.user_budget);
    opt_limits("tenant_limits", k.tenant_limits);
    opt_limits("project_limits", k.project_limits);
    opt_limits("user_limits", k.user_limits);
    out["limits"] = limits_json(k.limits);
    out["budget"] = budget_json(k.budget);
    out["cache"] = cache_json(k.cache);
    out["guardrails"] = guardrails_json(k.guardrails);
    out["passthrough"] = passthrough_json(k.passthrough);
    // SPEC §1.2: `route` is always written, null when unset.
    out["route"] = value_or_null(k.route);
    return dump(out);
}

std::string router_to_json(const router_config& r) {
    ojson out = ojson::object();
    out["default_backends"] = weighted_list_json(r.default_backends);
    ojson rules = ojson::array();
    for (const route_rule& rule : r.rules)
        rules.push_back(rule_json(rule));
    out["rules"] = std::move(rules);
    return dump(out);
}

}  // namespace ditto::config
