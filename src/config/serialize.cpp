// Virtual keys and the router → canonical JSON (docs/configuration.md, "Canonical JSON").
// nlohmann's ordered_json keeps members in insertion order, which is what makes the output
// deterministic: the order below is the struct's declaration order, the one docs/configuration.md
// fixes for the config hashes (docs/admin-api.md).

#include "ditto/config/serialize.hpp"

#include <charconv>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/config/load.hpp"
#include "ditto/core/json_scan.hpp"
#include "ditto/core/rfc3339.hpp"
#include "ditto/core/strings.hpp"

namespace ditto::config {
namespace {

using ojson = nlohmann::ordered_json;

constexpr std::string_view k_hash_prefix = "sha256:";

// A key is written by appending text, not through a DOM: config hashes serialise every key
// (a million at start-up), and the DOM cost seconds there. The output is byte for byte what
// nlohmann's dump() of the same members writes (tests/unit/config/serialize_test.cpp checks
// it round-trips), so hashes did not change.

/// A string as nlohmann writes it: json_quote_into does the same for valid UTF-8 without
/// \b or \f (which nlohmann writes short); anything else goes through nlohmann itself.
void put_string(std::string& out, std::string_view s) {
    if (s.find_first_of("\b\f") == std::string_view::npos && core::is_valid_utf8(s)) {
        core::json_quote_into(out, s);
        return;
    }
    out += ojson(std::string(s)).dump(-1, ' ', false, ojson::error_handler_t::replace);
}

void put_list(std::string& out, const std::vector<std::string>& items) {
    out += '[';
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i)
            out += ',';
        put_string(out, items[i]);
    }
    out += ']';
}

/// Appends one object member by member, in the order of the calls.
class object_text {
  public:
    explicit object_text(std::string& out) : out_(out) { out_ += '{'; }
    object_text& str(std::string_view name, std::string_view v) {
        put_string(key(name), v);
        return *this;
    }
    object_text& num(std::string_view name, std::uint64_t v) {
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);
        key(name).append(buf, r.ptr);
        return *this;
    }
    /// `null` for an unset value: the canonical JSON writes the nulls inside limits, budget, cache.
    template <typename T>
    object_text& num_or_null(std::string_view name, const std::optional<T>& v) {
        return v ? num(name, *v) : null(name);
    }
    object_text& null(std::string_view name) {
        key(name) += "null";
        return *this;
    }
    object_text& boolean(std::string_view name, bool v) {
        key(name) += v ? "true" : "false";
        return *this;
    }
    object_text& list(std::string_view name, const std::vector<std::string>& v) {
        put_list(key(name), v);
        return *this;
    }
    /// A member written by `put(out, value)`; skipped when `value` is an empty optional.
    template <typename T, typename Put>
    object_text& nested(std::string_view name, const T& value, Put put) {
        put(key(name), value);
        return *this;
    }
    template <typename T, typename Put>
    object_text& nested(std::string_view name, const std::optional<T>& value, Put put) {
        if (value)
            put(key(name), *value);
        return *this;
    }
    void close() { out_ += '}'; }

  private:
    // Escaped: a member name may come from the config (a model_limits pattern).
    std::string& key(std::string_view name) {
        if (!first_)
            out_ += ',';
        first_ = false;
        put_string(out_, name);
        out_ += ':';
        return out_;
    }
    std::string& out_;
    bool first_ = true;
};

/// `tenant_<what>`, `project_<what>`, `user_<what>`, each when set.
template <typename T, typename Put>
void per_scope(object_text& o, std::string_view what, const std::optional<T>& tenant,
               const std::optional<T>& project, const std::optional<T>& user, Put put) {
    std::string name;
    for (const auto& [scope, value] :
         {std::pair{"tenant_", &tenant}, std::pair{"project_", &project},
          std::pair{"user_", &user}}) {
        name.assign(scope).append(what);
        o.nested(name, *value, put);
    }
}

void put_limits(std::string& out, const limits_config& l) {
    object_text(out).num_or_null("rpm", l.rpm).num_or_null("tpm", l.tpm).close();
}

void put_budget(std::string& out, const budget_config& b) {
    object_text o(out);
    o.num_or_null("total_tokens", b.total_tokens)
        .num_or_null("total_usd_micros", b.total_usd_micros);
    // Written only when set: a lifetime budget's canonical JSON (and so the config version
    // hashes, docs/admin-api.md) stays what it was before periods existed.
    if (b.period != budget_period::lifetime) {
        o.str("period", period_name(b.period));
        if (!b.timezone.empty())
            o.str("timezone", b.timezone);
    }
    o.close();
}

void put_model_limit(std::string& out, const model_limit_config& m) {
    object_text o(out);
    o.num_or_null("rpm", m.rpm).num_or_null("tpm", m.tpm).nested("budget", m.budget, put_budget);
    o.close();
}

void put_model_limits(std::string& out, const std::map<std::string, model_limit_config>& all) {
    object_text o(out);
    for (const auto& [pattern, m] : all)
        o.nested(pattern, m, put_model_limit);
    o.close();
}

void put_cache(std::string& out, const cache_config& c) {
    object_text(out)
        .boolean("enabled", c.enabled)
        .num_or_null("ttl_seconds", c.ttl_seconds)
        .num("max_entries", c.max_entries)
        .num("max_body_bytes", c.max_body_bytes)
        .num("max_total_body_bytes", c.max_total_body_bytes)
        .close();
}

void put_passthrough(std::string& out, const passthrough_config& p) {
    object_text(out).boolean("allow", p.allow).boolean("bypass_cache", p.bypass_cache).close();
}

void put_guardrails(std::string& out, const guardrails_config& g) {
    object_text o(out);
    o.list("banned_phrases", g.banned_phrases)
        .list("banned_regexes", g.banned_regexes)
        .boolean("block_pii", g.block_pii)
        .boolean("validate_schema", g.validate_schema);
    // Unlike limits/budget/cache, the canonical JSON has no null here: omitted when unset.
    if (g.max_input_tokens)
        o.num("max_input_tokens", *g.max_input_tokens);
    o.list("allow_models", g.allow_models).list("deny_models", g.deny_models).close();
}

/// True for `sha256:` + exactly 64 hex characters, the form token_lookup_key() takes as an
/// already computed key rather than hashing it again (docs/configuration.md).
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
    if (rule.guardrails) {
        std::string g;
        put_guardrails(g, *rule.guardrails);
        out["guardrails"] = ojson::parse(g);  // one writer of guardrails, not two
    }
    return out;
}

/// Compact; invalid UTF-8 (possible in a struct built in code, never in one parsed from
/// JSON) is replaced instead of throwing, so serialising never fails.
std::string dump(const ojson& j) {
    return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

}  // namespace

std::string key_to_json(const virtual_key_config& k, token_form form) {
    std::string out;
    out.reserve(400);
    append_key_json(out, k, form);
    return out;
}

void append_key_json(std::string& out, const virtual_key_config& k, token_form form) {
    object_text o(out);
    o.str("id", k.id);
    // No copy for the raw form: the config hash writes every key's token.
    if (form == token_form::raw)
        o.str("token", k.token);
    else
        o.str("token", token_text(k.token, form));
    o.boolean("enabled", k.enabled);
    per_scope(o, "id", k.tenant_id, k.project_id, k.user_id, put_string);
    per_scope(o, "budget", k.tenant_budget, k.project_budget, k.user_budget, put_budget);
    per_scope(o, "limits", k.tenant_limits, k.project_limits, k.user_limits, put_limits);
    o.nested("limits", k.limits, put_limits)
        .nested("budget", k.budget, put_budget)
        .nested("cache", k.cache, put_cache)
        .nested("guardrails", k.guardrails, put_guardrails)
        .nested("passthrough", k.passthrough, put_passthrough);
    // `route` is always written, null when unset (docs/configuration.md).
    if (k.route)
        o.str("route", *k.route);
    else
        o.null("route");
    // Written only when set, like a budget's period (the canonical JSON of older keys stays).
    if (!k.model_limits.empty())
        o.nested("model_limits", k.model_limits, put_model_limits);
    if (k.expires_at_ms)
        o.str("expires_at", core::format_rfc3339_utc(*k.expires_at_ms));
    if (k.previous_token && k.previous_token_expires_at_ms) {
        if (form == token_form::raw)
            o.str("previous_token", *k.previous_token);
        else
            o.str("previous_token", token_text(*k.previous_token, form));
        o.str("previous_token_expires_at",
              core::format_rfc3339_utc(*k.previous_token_expires_at_ms));
    }
    o.close();
}

namespace {

ojson router_json(const router_config& r) {
    ojson out = ojson::object();
    out["default_backends"] = weighted_list_json(r.default_backends);
    ojson rules = ojson::array();
    for (const route_rule& rule : r.rules)
        rules.push_back(rule_json(rule));
    out["rules"] = std::move(rules);
    // Only when present: a router without one hashes as it always did (docs/admin-api.md).
    if (r.canary && r.canary->router) {
        ojson c = ojson::object();
        c["percent"] = r.canary->percent;
        c["router"] = router_json(*r.canary->router);
        out["canary"] = std::move(c);
    }
    return out;
}

}  // namespace

std::string router_to_json(const router_config& r) {
    return dump(router_json(r));
}

}  // namespace ditto::config
