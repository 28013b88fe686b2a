// gateway.json → plain structs (docs/configuration.md). Documents are read with core::json_dom
// (one pass, no allocation per member: a million virtual keys parse in about a second);
// nlohmann is used only to word the message of a document that does not parse. Bad input
// never throws: every problem becomes a diagnostic naming its JSON path
// (`backends[2].timeout_seconds: ...`), and parsing carries on so that one run reports
// every error. Paths are built only for a message, never for a value that reads fine.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ditto/config/load.hpp"
#include "ditto/config/serialize.hpp"
#include "ditto/core/json_dom.hpp"
#include "ditto/core/rfc3339.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/core/time_zone.hpp"

namespace ditto::config {

std::string_view period_name(budget_period p) {
    switch (p) {
        case budget_period::day:
            return "day";
        case budget_period::week:
            return "week";
        case budget_period::month:
            return "month";
        case budget_period::lifetime:
            break;
    }
    return "lifetime";
}

namespace {

std::optional<budget_period> parse_period(std::string_view name) {
    for (auto p :
         {budget_period::lifetime, budget_period::day, budget_period::week, budget_period::month}) {
        if (period_name(p) == name)
            return p;
    }
    return std::nullopt;
}

using json = core::json_node;

constexpr std::string_view k_missing = "missing required field";
constexpr std::string_view k_expect_string = "expected a string";
constexpr std::string_view k_expect_bool = "expected a boolean";
constexpr std::string_view k_expect_u64 = "expected a non-negative integer";
constexpr std::string_view k_expect_u32 = "expected an integer between 0 and 4294967295";
constexpr std::string_view k_expect_number = "expected a number";
constexpr std::string_view k_expect_object = "expected an object";
constexpr std::string_view k_expect_array = "expected an array";

/// Where a value is: a chain of member names and array indices on the stack of the parse
/// functions, spelled out (`virtual_keys[3].limits.rpm`) only when a message needs it.
struct path_ref {
    const path_ref* parent = nullptr;
    std::string_view name;  ///< a member name; for the root, the document's own prefix
    std::size_t index = std::string_view::npos;  ///< an array index instead of a name

    std::string str() const {
        if (!parent)
            return std::string(name);
        std::string out = parent->str();
        if (index != std::string_view::npos) {
            out += '[';
            out += std::to_string(index);
            out += ']';
        } else {
            if (!out.empty())
                out += '.';
            out += name;
        }
        return out;
    }
    path_ref member(std::string_view key) const { return {this, key}; }
    path_ref at(std::size_t i) const { return {this, {}, i}; }
};

class parse_context {
  public:
    explicit parse_context(diagnostics& diag) : diag_(diag) {}

    void error(const path_ref& path, std::string_view message) {
        diag_.errors.push_back(path.str() + ": " + std::string(message));
    }
    void error(std::string_view path, std::string_view message) {
        diag_.errors.push_back(std::string(path) + ": " + std::string(message));
    }
    void error_plain(std::string message) { diag_.errors.push_back(std::move(message)); }
    void warning(std::string message) { diag_.warnings.push_back(std::move(message)); }

    bool read_string(const json& v, const path_ref& path, std::string& out) {
        if (!v.is_string()) {
            error(path, k_expect_string);
            return false;
        }
        out = v.str();
        return true;
    }

    bool read_bool(const json& v, const path_ref& path, bool& out) {
        if (!v.is_boolean()) {
            error(path, k_expect_bool);
            return false;
        }
        out = v.boolean();
        return true;
    }

    bool read_u64(const json& v, const path_ref& path, std::uint64_t& out) {
        // Every non-negative integer literal that fits is unsigned; a negative one is
        // signed, and a fraction (or an integer past 64 bits) is a double.
        if (v.is_number_unsigned()) {
            out = v.u64();
            return true;
        }
        if (v.is_number_integer() && v.i64() >= 0) {
            out = static_cast<std::uint64_t>(v.i64());
            return true;
        }
        error(path, k_expect_u64);
        return false;
    }

    bool read_u32(const json& v, const path_ref& path, std::uint32_t& out) {
        if (v.is_number_unsigned() && v.u64() <= std::numeric_limits<std::uint32_t>::max()) {
            out = static_cast<std::uint32_t>(v.u64());
            return true;
        }
        error(path, k_expect_u32);
        return false;
    }

    bool read_f64(const json& v, const path_ref& path, double& out) {
        if (!v.is_number()) {
            error(path, k_expect_number);
            return false;
        }
        out = v.f64();
        return true;
    }

    bool read_string_list(const json& v, const path_ref& path, std::vector<std::string>& out) {
        if (!v.is_array()) {
            error(path, k_expect_array);
            return false;
        }
        std::vector<std::string> items;
        items.reserve(v.size());
        bool ok = true;
        std::size_t i = 0;
        for (const auto& item : v) {
            std::string text;
            if (read_string(item, path.at(i++), text)) {
                items.push_back(std::move(text));
            } else {
                ok = false;
            }
        }
        out = std::move(items);
        return ok;
    }

    bool read_string_map(const json& v, const path_ref& path,
                         std::map<std::string, std::string>& out) {
        if (!v.is_object()) {
            error(path, k_expect_object);
            return false;
        }
        bool ok = true;
        for (const auto& member : v) {
            // A repeated name: only its last value counts (and is checked).
            if (v.find(member.key()) != &member)
                continue;
            std::string s;
            if (read_string(member, path.member(member.key()), s)) {
                out[std::string(member.key())] = std::move(s);
            } else {
                ok = false;
            }
        }
        return ok;
    }

  private:
    diagnostics& diag_;
};

/// Walks one JSON object: every field the schema knows is claimed through required() or
/// optional(); finish() then warns about the rest, naming their full path.
class object_reader {
  public:
    object_reader(parse_context& ctx, const json& obj, const path_ref& path)
        : ctx_(ctx), obj_(obj), path_(path) {}

    object_reader(const object_reader&) = delete;
    object_reader& operator=(const object_reader&) = delete;

    const path_ref& path() const { return path_; }
    path_ref path_of(std::string_view key) const { return path_.member(key); }

    /// Present (even null, which the typed reader then rejects) or an error.
    const json* required(std::string_view key) {
        known_.push_back(key);
        const json* f = obj_.find(key);
        if (!f)
            ctx_.error(path_of(key), k_missing);
        return f;
    }

    /// Absent and null both mean "use the default", as serde's Option/default do.
    const json* optional(std::string_view key) {
        known_.push_back(key);
        const json* f = obj_.find(key);
        return f && !f->is_null() ? f : nullptr;
    }

    /// Warns about every member nobody claimed, in name order, each name once.
    void finish() {
        std::set<std::string_view> unknown;
        for (const auto& member : obj_) {
            if (std::find(known_.begin(), known_.end(), member.key()) == known_.end())
                unknown.insert(member.key());
        }
        for (const auto name : unknown)
            ctx_.warning("unknown field ignored: " + path_of(name).str());
    }

  private:
    parse_context& ctx_;
    const json& obj_;
    const path_ref& path_;
    std::vector<std::string_view> known_;  ///< claimed names (literals); a handful per object
};

bool expect_object(parse_context& ctx, const json& v, const path_ref& path) {
    if (v.is_object())
        return true;
    ctx.error(path, k_expect_object);
    return false;
}

template <typename T, typename Read>
void read_optional(parse_context& ctx, object_reader& r, std::string_view key,
                   std::optional<T>& out, Read read) {
    if (const json* v = r.optional(key)) {
        T value{};
        if ((ctx.*read)(*v, r.path_of(key), value))
            out = value;
    }
}

limits_config parse_limits(parse_context& ctx, const json& v, const path_ref& path) {
    limits_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    read_optional(ctx, r, "rpm", out.rpm, &parse_context::read_u32);
    read_optional(ctx, r, "tpm", out.tpm, &parse_context::read_u32);
    r.finish();
    return out;
}

budget_config parse_budget(parse_context& ctx, const json& v, const path_ref& path) {
    budget_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    read_optional(ctx, r, "total_tokens", out.total_tokens, &parse_context::read_u64);
    read_optional(ctx, r, "total_usd_micros", out.total_usd_micros, &parse_context::read_u64);
    if (const json* f = r.optional("period")) {
        std::string name;
        if (ctx.read_string(*f, r.path_of("period"), name)) {
            const auto p = parse_period(name);
            if (p)
                out.period = *p;
            else
                ctx.error(r.path_of("period"), "must be one of lifetime, day, week, month");
        }
    }
    if (const json* f = r.optional("timezone")) {
        if (ctx.read_string(*f, r.path_of("timezone"), out.timezone)) {
            std::string why;
            if (out.period == budget_period::lifetime)
                ctx.error(r.path_of("timezone"), "applies only to a day, week or month period");
            else if (!core::time_zone::locate(out.timezone, why))
                ctx.error(r.path_of("timezone"), why);
        }
    }
    r.finish();
    return out;
}

// `model_limits`: {"<pattern>": {rpm?, tpm?, budget?}}; a `*` only at the end (a prefix).
void read_model_limits(parse_context& ctx, object_reader& r,
                       std::map<std::string, model_limit_config>& out) {
    const json* f = r.optional("model_limits");
    if (f == nullptr || f->is_null())
        return;
    const auto path = r.path_of("model_limits");
    if (!f->is_object()) {
        ctx.error(path, k_expect_object);
        return;
    }
    for (const auto& member : *f) {
        if (f->find(member.key()) != &member)
            continue;  // a repeated name: its last value counts
        const std::string pattern(member.key());
        const auto at = path.member(member.key());
        // Model names are plain: a pattern of other characters is a typo or an attack on
        // whatever prints it (logs, the Admin API, Redis field names).
        const auto star = pattern.find('*');
        const bool plain = std::all_of(pattern.begin(), pattern.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                   std::string_view("._:/@-*").find(c) != std::string_view::npos;
        });
        if (pattern.empty() || pattern.size() > 200 || !plain ||
            (star != std::string::npos && star + 1 != pattern.size())) {
            ctx.error(at,
                      "a model pattern is a model name ([A-Za-z0-9._:/@-], at most 200), or "
                      "such a prefix ending in one *");
            continue;
        }
        model_limit_config m;
        if (!expect_object(ctx, member, at))
            continue;
        object_reader mr(ctx, member, at);
        read_optional(ctx, mr, "rpm", m.rpm, &parse_context::read_u32);
        read_optional(ctx, mr, "tpm", m.tpm, &parse_context::read_u32);
        if (const json* b = mr.optional("budget"))
            m.budget = parse_budget(ctx, *b, mr.path_of("budget"));
        mr.finish();
        out[pattern] = std::move(m);
    }
}

// `expires_at` and the like: RFC 3339, kept as unix ms.
void read_timestamp(parse_context& ctx, object_reader& r, std::string_view key,
                    std::optional<std::int64_t>& out) {
    const json* f = r.optional(key);
    if (f == nullptr || f->is_null())
        return;
    std::string text;
    if (!ctx.read_string(*f, r.path_of(key), text))
        return;
    out = core::parse_rfc3339_ms(text);
    if (!out)
        ctx.error(r.path_of(key), "must be an RFC 3339 timestamp such as 2027-01-31T00:00:00Z");
}

cache_config parse_cache(parse_context& ctx, const json& v, const path_ref& path) {
    cache_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    if (const json* f = r.required("enabled"))
        ctx.read_bool(*f, r.path_of("enabled"), out.enabled);
    read_optional(ctx, r, "ttl_seconds", out.ttl_seconds, &parse_context::read_u64);
    if (const json* f = r.optional("max_entries")) {
        ctx.read_u64(*f, r.path_of("max_entries"), out.max_entries);
    }
    if (const json* f = r.optional("max_body_bytes")) {
        ctx.read_u64(*f, r.path_of("max_body_bytes"), out.max_body_bytes);
    }
    if (const json* f = r.optional("max_total_body_bytes")) {
        ctx.read_u64(*f, r.path_of("max_total_body_bytes"), out.max_total_body_bytes);
    }
    r.finish();
    return out;
}

passthrough_config parse_passthrough(parse_context& ctx, const json& v, const path_ref& path) {
    passthrough_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    if (const json* f = r.required("allow"))
        ctx.read_bool(*f, r.path_of("allow"), out.allow);
    if (const json* f = r.required("bypass_cache")) {
        ctx.read_bool(*f, r.path_of("bypass_cache"), out.bypass_cache);
    }
    r.finish();
    return out;
}

guardrails_config parse_guardrails(parse_context& ctx, const json& v, const path_ref& path) {
    guardrails_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    auto list = [&](std::string_view key, std::vector<std::string>& field) {
        if (const json* f = r.optional(key))
            ctx.read_string_list(*f, r.path_of(key), field);
    };
    auto flag = [&](std::string_view key, bool& field) {
        if (const json* f = r.optional(key))
            ctx.read_bool(*f, r.path_of(key), field);
    };
    list("banned_phrases", out.banned_phrases);
    list("banned_regexes", out.banned_regexes);
    flag("block_pii", out.block_pii);
    flag("validate_schema", out.validate_schema);
    read_optional(ctx, r, "max_input_tokens", out.max_input_tokens, &parse_context::read_u64);
    list("allow_models", out.allow_models);
    list("deny_models", out.deny_models);
    r.finish();
    return out;
}

/// tenant_id/project_id/user_id: trimmed, and a blank value counts as absent
/// (docs/configuration.md).
void read_scope_id(parse_context& ctx, object_reader& r, std::string_view key,
                   std::optional<std::string>& out) {
    const json* f = r.optional(key);
    if (f == nullptr)
        return;
    std::string s;
    if (!ctx.read_string(*f, r.path_of(key), s))
        return;
    const std::string_view trimmed = core::trim(s);
    if (!trimmed.empty())
        out = std::string(trimmed);
}

// A key template (`access.clients.templates[].key`, docs/access.md) is a key without id and
// token: the identity in the client's JWT names it, and the JWT is its credential.
enum class key_form : std::uint8_t { key, template_key };

virtual_key_config parse_virtual_key(parse_context& ctx, const json& v, const path_ref& path,
                                     key_form form = key_form::key) {
    virtual_key_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);

    if (form == key_form::template_key) {
        for (const std::string_view name : {"id", "token", "previous_token"}) {
            if (r.optional(name))
                ctx.error(r.path_of(name),
                          "a key template has none: the client's JWT names the key");
        }
    } else {
        if (const json* f = r.required("id"))
            ctx.read_string(*f, r.path_of("id"), out.id);
        if (const json* f = r.required("token"))
            ctx.read_string(*f, r.path_of("token"), out.token);
    }
    // Everything but id and token has a default (docs/configuration.md): a first gateway.json
    // holds `{"id": "k", "token": "t"}`, and the original's full keys load unchanged.
    if (const json* f = r.optional("enabled"))
        ctx.read_bool(*f, r.path_of("enabled"), out.enabled);

    read_scope_id(ctx, r, "tenant_id", out.tenant_id);
    read_scope_id(ctx, r, "project_id", out.project_id);
    read_scope_id(ctx, r, "user_id", out.user_id);

    auto opt_budget = [&](std::string_view key, std::optional<budget_config>& field) {
        if (const json* f = r.optional(key))
            field = parse_budget(ctx, *f, r.path_of(key));
    };
    auto opt_limits = [&](std::string_view key, std::optional<limits_config>& field) {
        if (const json* f = r.optional(key))
            field = parse_limits(ctx, *f, r.path_of(key));
    };
    opt_budget("tenant_budget", out.tenant_budget);
    opt_budget("project_budget", out.project_budget);
    opt_budget("user_budget", out.user_budget);
    opt_limits("tenant_limits", out.tenant_limits);
    opt_limits("project_limits", out.project_limits);
    opt_limits("user_limits", out.user_limits);

    if (const json* f = r.optional("limits"))
        out.limits = parse_limits(ctx, *f, r.path_of("limits"));
    if (const json* f = r.optional("budget"))
        out.budget = parse_budget(ctx, *f, r.path_of("budget"));
    if (const json* f = r.optional("cache"))
        out.cache = parse_cache(ctx, *f, r.path_of("cache"));
    if (const json* f = r.optional("guardrails")) {
        out.guardrails = parse_guardrails(ctx, *f, r.path_of("guardrails"));
    }
    if (const json* f = r.optional("passthrough")) {
        out.passthrough = parse_passthrough(ctx, *f, r.path_of("passthrough"));
    }
    if (const json* f = r.optional("route")) {
        std::string route;
        if (ctx.read_string(*f, r.path_of("route"), route))
            out.route = std::move(route);
    }
    read_model_limits(ctx, r, out.model_limits);
    read_timestamp(ctx, r, "expires_at", out.expires_at_ms);
    if (const json* f = r.optional("previous_token"); f != nullptr && !f->is_null()) {
        std::string token;
        if (ctx.read_string(*f, r.path_of("previous_token"), token))
            out.previous_token = std::move(token);
    }
    read_timestamp(ctx, r, "previous_token_expires_at", out.previous_token_expires_at_ms);
    if (out.previous_token.has_value() != out.previous_token_expires_at_ms.has_value())
        ctx.error(path.str(), "previous_token and previous_token_expires_at go together");
    r.finish();
    return out;
}

// ---- access (docs/access.md) ----

// One value or a list of them: `"audience": "x"` and `"audience": ["x", "y"]`.
void read_one_or_list(parse_context& ctx, const json& v, const path_ref& path,
                      std::vector<std::string>& out) {
    if (v.is_string()) {
        out = {std::string(v.str())};
        return;
    }
    ctx.read_string_list(v, path, out);
}

issuer_config parse_issuer(parse_context& ctx, object_reader& r) {
    issuer_config out;
    if (const json* f = r.required("issuer")) {
        if (ctx.read_string(*f, r.path_of("issuer"), out.issuer) && out.issuer.empty())
            ctx.error(r.path_of("issuer"), "must not be empty");
    }
    if (const json* f = r.required("audience")) {
        read_one_or_list(ctx, *f, r.path_of("audience"), out.audiences);
        if (out.audiences.empty() || std::any_of(out.audiences.begin(), out.audiences.end(),
                                                 [](const std::string& a) { return a.empty(); })) {
            ctx.error(r.path_of("audience"), "must name at least one non-empty audience");
        }
    }
    if (const json* f = r.optional("jwks_uri")) {
        std::string uri;
        if (ctx.read_string(*f, r.path_of("jwks_uri"), uri))
            out.jwks_uri = std::move(uri);
    }
    if (const json* f = r.optional("algorithms")) {
        if (ctx.read_string_list(*f, r.path_of("algorithms"), out.algorithms)) {
            for (const auto& a : out.algorithms) {
                if (a != "RS256" && a != "ES256" && a != "EdDSA")
                    ctx.error(r.path_of("algorithms"), "each must be RS256, ES256 or EdDSA");
            }
            if (out.algorithms.empty())
                ctx.error(r.path_of("algorithms"), "must name at least one algorithm");
        }
    }
    // Each a u32 within its bounds (docs/access.md, "Fields").
    auto bounded = [&](std::string_view key, std::uint32_t& field, std::uint32_t lo,
                       std::uint32_t hi) {
        if (const json* f = r.optional(key)) {
            if (ctx.read_u32(*f, r.path_of(key), field) && (field < lo || field > hi)) {
                ctx.error(r.path_of(key),
                          "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
            }
        }
    };
    bounded("leeway_seconds", out.leeway_seconds, 0, 600);
    bounded("jwks_refresh_seconds", out.jwks_refresh_seconds, 1, 86400);
    bounded("jwks_timeout_ms", out.jwks_timeout_ms, 100, 60000);
    bounded("jwks_min_refetch_seconds", out.jwks_min_refetch_seconds, 1, 3600);
    if (const json* f = r.optional("tls_ca_file")) {
        std::string file;
        if (ctx.read_string(*f, r.path_of("tls_ca_file"), file))
            out.tls_ca_file = std::move(file);
    }
    return out;
}

operator_access_config parse_operators(parse_context& ctx, const json& v, const path_ref& path) {
    operator_access_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    out.idp = parse_issuer(ctx, r);
    if (const json* f = r.optional("client_id"))
        ctx.read_string(*f, r.path_of("client_id"), out.client_id);
    if (const json* f = r.optional("scopes"))
        ctx.read_string(*f, r.path_of("scopes"), out.scopes);
    if (const json* f = r.optional("roles_claim")) {
        if (ctx.read_string(*f, r.path_of("roles_claim"), out.roles_claim) &&
            out.roles_claim.empty())
            ctx.error(r.path_of("roles_claim"), "must not be empty");
    }
    if (const json* f = r.optional("roles")) {
        if (ctx.read_string_map(*f, r.path_of("roles"), out.roles)) {
            for (const auto& [claim, role] : out.roles) {
                if (!is_operator_role(role)) {
                    ctx.error(r.path_of("roles").member(claim),
                              "must be admin, viewer, auditor, tenant-admin:<tenant> or "
                              "tenant-viewer:<tenant>");
                }
            }
        }
    }
    r.finish();
    return out;
}

client_template_config parse_client_template(parse_context& ctx, const json& v,
                                             const path_ref& path) {
    client_template_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    if (const json* f = r.optional("when")) {
        const auto wpath = r.path_of("when");
        if (expect_object(ctx, *f, wpath)) {
            object_reader w(ctx, *f, wpath);
            std::string claim, value;
            if (const json* c = w.required("claim");
                c && ctx.read_string(*c, w.path_of("claim"), claim))
                out.claim = std::move(claim);
            if (const json* c = w.required("value");
                c && ctx.read_string(*c, w.path_of("value"), value))
                out.value = std::move(value);
            w.finish();
        }
    }
    if (const json* f = r.required("key")) {
        out.key = std::make_shared<const virtual_key_config>(
            parse_virtual_key(ctx, *f, r.path_of("key"), key_form::template_key));
    }
    r.finish();
    return out;
}

client_access_config parse_clients(parse_context& ctx, const json& v, const path_ref& path) {
    client_access_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    out.idp = parse_issuer(ctx, r);
    if (const json* f = r.optional("identity_claim")) {
        if (ctx.read_string(*f, r.path_of("identity_claim"), out.identity_claim) &&
            out.identity_claim.empty())
            ctx.error(r.path_of("identity_claim"), "must not be empty");
    }
    if (const json* f = r.required("templates")) {
        const auto tpath = r.path_of("templates");
        if (f->is_array() && !f->empty()) {
            std::size_t i = 0;
            for (const auto& item : *f)
                out.templates.push_back(parse_client_template(ctx, item, tpath.at(i++)));
        } else {
            ctx.error(tpath, "expected a non-empty array");
        }
    }
    r.finish();
    return out;
}

access_config parse_access(parse_context& ctx, const json& v, const path_ref& path) {
    access_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    if (const json* f = r.optional("operators"))
        out.operators = parse_operators(ctx, *f, r.path_of("operators"));
    if (const json* f = r.optional("clients"))
        out.clients = parse_clients(ctx, *f, r.path_of("clients"));
    r.finish();
    return out;
}

backend_config parse_backend(parse_context& ctx, const json& v, const path_ref& path) {
    backend_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);

    if (const json* f = r.required("name"))
        ctx.read_string(*f, r.path_of("name"), out.name);
    // Optional here: translation backends had no base_url in the original. validate()
    // reports a missing one, since every backend we accept is a proxy backend.
    if (const json* f = r.optional("base_url")) {
        ctx.read_string(*f, r.path_of("base_url"), out.base_url);
    }
    read_optional(ctx, r, "max_in_flight", out.max_in_flight, &parse_context::read_u64);
    if (const json* f = r.optional("timeout_seconds")) {
        ctx.read_u64(*f, r.path_of("timeout_seconds"), out.timeout_seconds);
    }
    if (const json* f = r.optional("headers")) {
        ctx.read_string_map(*f, r.path_of("headers"), out.headers);
    }
    if (const json* f = r.optional("query_params")) {
        // docs/configuration.md: names and values are trimmed and empty names dropped. Values are
        // trimmed again after env expansion.
        std::map<std::string, std::string> raw;
        ctx.read_string_map(*f, r.path_of("query_params"), raw);
        for (const auto& [name, value] : raw) {
            const std::string_view n = core::trim(name);
            if (n.empty())
                continue;
            out.query_params[std::string(n)] = std::string(core::trim(value));
        }
    }
    if (const json* f = r.optional("model_map")) {
        ctx.read_string_map(*f, r.path_of("model_map"), out.model_map);
    }
    read_optional(ctx, r, "tls_ca_file", out.tls_ca_file, &parse_context::read_string);
    read_optional(ctx, r, "max_response_seconds", out.max_response_seconds,
                  &parse_context::read_u64);
    read_optional(ctx, r, "min_response_bytes_per_second", out.min_response_bytes_per_second,
                  &parse_context::read_u64);
    if (const json* f = r.optional("tls_insecure_skip_verify")) {
        ctx.read_bool(*f, r.path_of("tls_insecure_skip_verify"), out.tls_insecure_skip_verify);
    }
    if (const json* f = r.optional("responses")) {
        std::string mode;
        if (ctx.read_string(*f, r.path_of("responses"), mode)) {
            using rm = backend_config::responses_mode;
            if (mode == "auto") {
                out.responses = rm::auto_detect;
            } else if (mode == "passthrough") {
                out.responses = rm::passthrough;
            } else if (mode == "translate") {
                out.responses = rm::translate;
            } else {
                ctx.error(r.path_of("responses"),
                          "must be \"auto\", \"passthrough\" or \"translate\"");
            }
        }
    }
    if (const json* f = r.optional("provider")) {
        if (ctx.read_string(*f, r.path_of("provider"), out.provider) && out.provider != "openai" &&
            out.provider != "anthropic") {
            ctx.error(r.path_of("provider"),
                      "must be \"openai\" or \"anthropic\"; translation backends of other "
                      "providers are not supported: use an OpenAI-compatible base_url");
        }
    }
    // Claimed even when null so that a null does not also warn as unknown.
    if (r.optional("provider_config") != nullptr) {
        ctx.error(path,
                  "translation backends (provider_config) are not supported; use an "
                  "OpenAI-compatible base_url");
    }
    r.finish();
    return out;
}

weighted_backend parse_weighted_backend(parse_context& ctx, const json& v, const path_ref& path) {
    weighted_backend out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    if (const json* f = r.required("backend")) {
        ctx.read_string(*f, r.path_of("backend"), out.backend);
    }
    if (const json* f = r.optional("weight"))
        ctx.read_f64(*f, r.path_of("weight"), out.weight);
    r.finish();
    return out;
}

std::vector<weighted_backend> parse_weighted_list(parse_context& ctx, const json& v,
                                                  const path_ref& path) {
    std::vector<weighted_backend> out;
    if (!v.is_array()) {
        ctx.error(path, k_expect_array);
        return out;
    }
    std::size_t i = 0;
    for (const auto& item : v)
        out.push_back(parse_weighted_backend(ctx, item, path.at(i++)));
    return out;
}

route_rule parse_rule(parse_context& ctx, const json& v, const path_ref& path) {
    route_rule out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    if (const json* f = r.required("model_prefix")) {
        ctx.read_string(*f, r.path_of("model_prefix"), out.model_prefix);
    }
    if (const json* f = r.optional("exact"))
        ctx.read_bool(*f, r.path_of("exact"), out.exact);
    if (const json* f = r.optional("backend")) {
        ctx.read_string(*f, r.path_of("backend"), out.backend);
    }
    if (const json* f = r.optional("backends")) {
        out.backends = parse_weighted_list(ctx, *f, r.path_of("backends"));
    }
    if (const json* f = r.optional("guardrails")) {
        out.guardrails = parse_guardrails(ctx, *f, r.path_of("guardrails"));
    }
    r.finish();
    return out;
}

router_config parse_router(parse_context& ctx, const json& v, const path_ref& path);

// `router.canary` (docs/routing.md, "Canary"): {"percent": P, "router": {...}}.
router_canary parse_canary(parse_context& ctx, const json& v, const path_ref& path) {
    router_canary out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    if (const json* f = r.required("percent")) {
        // Routed in hundredths of a percent: a smaller share would route nothing.
        if (ctx.read_f64(*f, r.path_of("percent"), out.percent) &&
            !(out.percent >= 0.01 && out.percent <= 100))
            ctx.error(r.path_of("percent"), "must be between 0.01 and 100");
    }
    if (const json* f = r.required("router")) {
        auto candidate = parse_router(ctx, *f, r.path_of("router"));
        if (candidate.canary)
            ctx.error(r.path_of("router"), "a canary router has no canary of its own");
        candidate.canary.reset();
        out.router = std::make_shared<const router_config>(std::move(candidate));
    }
    r.finish();
    return out;
}

router_config parse_router(parse_context& ctx, const json& v, const path_ref& path) {
    router_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    if (const json* f = r.optional("default_backends")) {
        out.default_backends = parse_weighted_list(ctx, *f, r.path_of("default_backends"));
    }
    if (const json* f = r.optional("rules")) {
        if (f->is_array()) {
            const auto rules = r.path_of("rules");
            std::size_t i = 0;
            for (const auto& item : *f)
                out.rules.push_back(parse_rule(ctx, item, rules.at(i++)));
        } else {
            ctx.error(r.path_of("rules"), k_expect_array);
        }
    }
    if (const json* f = r.optional("canary"))
        out.canary = parse_canary(ctx, *f, r.path_of("canary"));
    if (const json* f = r.optional("default_backend")) {
        std::string legacy;
        if (ctx.read_string(*f, r.path_of("default_backend"), legacy)) {
            if (!out.default_backends.empty()) {
                ctx.error_plain(
                    "router.default_backend is deprecated; use router.default_backends only");
            } else {
                // Folded even when blank, so that validation reports the empty backend
                // instead of silently leaving the router without a default.
                out.default_backends.push_back(weighted_backend{std::move(legacy), 1.0});
                ctx.warning("router.default_backend is deprecated; use router.default_backends");
            }
        }
    }
    r.finish();
    return out;
}

redaction_config parse_redaction(parse_context& ctx, const json& v, const path_ref& path) {
    redaction_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    if (const json* f = r.optional("replacement")) {
        ctx.read_string(*f, r.path_of("replacement"), out.replacement);
    }
    // An explicitly given list replaces the default one (serde default semantics).
    auto list = [&](std::string_view key, std::vector<std::string>& field) {
        if (const json* f = r.optional(key))
            ctx.read_string_list(*f, r.path_of(key), field);
    };
    list("redact_headers", out.redact_headers);
    list("redact_key_names", out.redact_key_names);
    list("redact_query_params", out.redact_query_params);
    list("redact_json_pointers", out.redact_json_pointers);
    list("redact_regexes", out.redact_regexes);
    list("sanitize_query_in_keys", out.sanitize_query_in_keys);
    r.finish();
    return out;
}

sampling_config parse_sampling(parse_context& ctx, const json& v, const path_ref& path) {
    sampling_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    auto rate = [&](std::string_view key, double& field) {
        if (const json* f = r.optional(key))
            ctx.read_f64(*f, r.path_of(key), field);
    };
    rate("json_logs_rate", out.json_logs_rate);
    rate("audit_rate", out.audit_rate);
    rate("devtools_rate", out.devtools_rate);
    rate("traces_rate", out.traces_rate);
    r.finish();
    return out;
}

observability_config parse_observability(parse_context& ctx, const json& v, const path_ref& path) {
    observability_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    if (const json* f = r.optional("redaction")) {
        out.redaction = parse_redaction(ctx, *f, r.path_of("redaction"));
    }
    if (const json* f = r.optional("sampling")) {
        out.sampling = parse_sampling(ctx, *f, r.path_of("sampling"));
    }
    r.finish();
    return out;
}

/// Line and column of byte `offset`, counted the way nlohmann's lexer counts them (a '\n'
/// starts a new line at column 0).
std::string position(std::string_view text, std::size_t offset) {
    const std::size_t end = std::min(offset, text.size());
    std::size_t line = 1;
    std::size_t column = 0;
    for (std::size_t i = 0; i < end; ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 0;
        } else {
            ++column;
        }
    }
    return "line " + std::to_string(line) + " column " + std::to_string(column);
}

/// The message for a document json_dom rejected. nlohmann words syntax errors well ("unexpected
/// '}'; expected '[', '{', or a literal"), so its message is used; should nlohmann accept what
/// json_dom refused (nesting past 512, say), json_dom's own reason is given.
std::string describe_parse_error(std::string_view text, const core::json_dom& dom) {
    try {
        const auto accepted = nlohmann::json::parse(text.begin(), text.end());
        (void)accepted;
    } catch (const nlohmann::json::parse_error& e) {
        // what() is "[json.exception.parse_error.101] parse error at line L, column C:
        // <detail>"; keep only the detail, since we print the position ourselves.
        std::string_view what = e.what();
        std::string_view detail = what;
        if (const auto col = what.find("column "); col != std::string_view::npos) {
            if (const auto colon = what.find(": ", col); colon != std::string_view::npos)
                detail = what.substr(colon + 2);
        } else if (const auto bracket = what.find("] "); bracket != std::string_view::npos) {
            detail = what.substr(bracket + 2);
        }
        return "invalid JSON at " + position(text, e.byte) + ": " + std::string(detail);
    } catch (const std::exception& e) {
        return std::string("invalid JSON: ") + e.what();
    }
    return "invalid JSON at " + position(text, dom.error_offset()) + ": " + dom.error();
}

/// `mcp_servers` and `a2a_agents` are out of scope (docs/configuration.md): accepted and ignored.
/// An empty list configures nothing, so only a non-empty one is worth a warning.
void warn_ignored_section(parse_context& ctx, const json& root, std::string_view key) {
    const json* it = root.find(key);
    if (!it || it->is_null() || (it->is_array() && it->empty()) ||
        (it->is_object() && it->empty())) {
        return;
    }
    ctx.warning(std::string(key) + " is not supported by this gateway and is ignored");
}

/// Parses a standalone document (one key, the router) whose errors are prefixed with `path`,
/// since the message alone would not say which document of a batch was broken.
bool parse_document(parse_context& ctx, std::string_view text, const path_ref& path,
                    core::json_dom& out) {
    if (out.parse(text))
        return true;
    ctx.error(path, describe_parse_error(text, out));
    return false;
}

}  // namespace

gateway_config parse_gateway_json(std::string_view text, diagnostics& diag) {
    gateway_config cfg;
    parse_context ctx(diag);

    core::json_dom doc;
    if (!doc.parse(text)) {
        ctx.error_plain(describe_parse_error(text, doc));
        return cfg;
    }
    const json& root = doc.root();
    if (!root.is_object()) {
        ctx.error_plain("invalid config: the top level must be a JSON object");
        return cfg;
    }

    const path_ref top;
    object_reader r(ctx, root, top);
    if (const json* f = r.optional("backends")) {
        const auto path = r.path_of("backends");
        if (f->is_array()) {
            std::size_t i = 0;
            for (const auto& item : *f)
                cfg.backends.push_back(parse_backend(ctx, item, path.at(i++)));
        } else {
            ctx.error(path, k_expect_array);
        }
    }
    if (const json* f = r.required("virtual_keys")) {
        const auto path = r.path_of("virtual_keys");
        if (f->is_array()) {
            cfg.virtual_keys.reserve(f->size());
            std::size_t i = 0;
            for (const auto& item : *f)
                cfg.virtual_keys.push_back(parse_virtual_key(ctx, item, path.at(i++)));
        } else {
            ctx.error(path, k_expect_array);
        }
    }
    if (const json* f = r.required("router"))
        cfg.router = parse_router(ctx, *f, r.path_of("router"));
    if (const json* f = r.optional("observability")) {
        cfg.observability = parse_observability(ctx, *f, r.path_of("observability"));
    }
    if (const json* f = r.optional("access"))
        cfg.access = parse_access(ctx, *f, r.path_of("access"));
    // Claimed so they do not also warn as unknown fields.
    r.optional("mcp_servers");
    r.optional("a2a_agents");
    warn_ignored_section(ctx, root, "mcp_servers");
    warn_ignored_section(ctx, root, "a2a_agents");
    r.finish();
    return cfg;
}

namespace {

// One stand-alone document (a key, a router) parsed with `parse`; errors are counted rather
// than diag.ok() tested, so that a caller's earlier errors in the same diagnostics do not
// turn a good document into a failure.
template <class Parse>
auto parse_one(std::string_view text, diagnostics& diag, const char* name, Parse parse)
    -> std::optional<decltype(parse(std::declval<parse_context&>(), std::declval<const json&>(),
                                    std::declval<const path_ref&>()))> {
    parse_context ctx(diag);
    const std::size_t errors_before = diag.errors.size();
    const path_ref path{nullptr, name};
    core::json_dom doc;
    if (!parse_document(ctx, text, path, doc))
        return std::nullopt;
    auto value = parse(ctx, doc.root(), path);
    if (diag.errors.size() != errors_before)
        return std::nullopt;
    return value;
}

}  // namespace

std::optional<virtual_key_config> parse_virtual_key_json(std::string_view text, diagnostics& diag) {
    return parse_one(text, diag, "virtual_key",
                     [](parse_context& ctx, const json& v, const path_ref& path) {
                         return parse_virtual_key(ctx, v, path);
                     });
}

std::optional<router_config> parse_router_json(std::string_view text, diagnostics& diag) {
    return parse_one(text, diag, "router", parse_router);
}

}  // namespace ditto::config

namespace ditto::config {

bool is_operator_role(std::string_view role) {
    if (role == "admin" || role == "viewer" || role == "auditor")
        return true;
    for (const std::string_view prefix : {"tenant-admin:", "tenant-viewer:"}) {
        if (role.starts_with(prefix))
            return !core::trim(role.substr(prefix.size())).empty();
    }
    return false;
}

}  // namespace ditto::config
