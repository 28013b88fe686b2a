// gateway.json → plain structs (SPEC §1.0-§1.4). The only translation unit that includes
// nlohmann/json for the config. Bad input never throws: every problem becomes a diagnostic
// naming its JSON path (`backends[2].timeout_seconds: ...`), and parsing carries on so that
// one run reports every error.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ditto/config/load.hpp"
#include "ditto/config/serialize.hpp"
#include "ditto/core/strings.hpp"

namespace ditto::config {
namespace {

using json = nlohmann::json;

constexpr std::string_view k_missing = "missing required field";
constexpr std::string_view k_expect_string = "expected a string";
constexpr std::string_view k_expect_bool = "expected a boolean";
constexpr std::string_view k_expect_u64 = "expected a non-negative integer";
constexpr std::string_view k_expect_u32 = "expected an integer between 0 and 4294967295";
constexpr std::string_view k_expect_number = "expected a number";
constexpr std::string_view k_expect_object = "expected an object";
constexpr std::string_view k_expect_array = "expected an array";

std::string join_path(std::string_view parent, std::string_view key) {
    if (parent.empty())
        return std::string(key);
    std::string out(parent);
    out += '.';
    out += key;
    return out;
}

std::string index_path(std::string_view parent, std::size_t i) {
    return std::string(parent) + "[" + std::to_string(i) + "]";
}

class parse_context {
  public:
    explicit parse_context(diagnostics& diag) : diag_(diag) {}

    void error(std::string_view path, std::string_view message) {
        diag_.errors.push_back(std::string(path) + ": " + std::string(message));
    }
    void error_plain(std::string message) { diag_.errors.push_back(std::move(message)); }
    void warning(std::string message) { diag_.warnings.push_back(std::move(message)); }

    bool read_string(const json& v, std::string_view path, std::string& out) {
        if (!v.is_string()) {
            error(path, k_expect_string);
            return false;
        }
        out = v.get_ref<const std::string&>();
        return true;
    }

    bool read_bool(const json& v, std::string_view path, bool& out) {
        if (!v.is_boolean()) {
            error(path, k_expect_bool);
            return false;
        }
        out = v.get<bool>();
        return true;
    }

    bool read_u64(const json& v, std::string_view path, std::uint64_t& out) {
        // nlohmann stores every non-negative integer literal as number_unsigned; a negative
        // one is number_integer and a fraction (or an integer past u64) is number_float.
        if (v.is_number_unsigned()) {
            out = v.get<std::uint64_t>();
            return true;
        }
        if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
            out = static_cast<std::uint64_t>(v.get<std::int64_t>());
            return true;
        }
        error(path, k_expect_u64);
        return false;
    }

    bool read_u32(const json& v, std::string_view path, std::uint32_t& out) {
        if (v.is_number_unsigned() &&
            v.get<std::uint64_t>() <= std::numeric_limits<std::uint32_t>::max()) {
            out = static_cast<std::uint32_t>(v.get<std::uint64_t>());
            return true;
        }
        error(path, k_expect_u32);
        return false;
    }

    bool read_f64(const json& v, std::string_view path, double& out) {
        if (!v.is_number()) {
            error(path, k_expect_number);
            return false;
        }
        out = v.get<double>();
        return true;
    }

    bool read_string_list(const json& v, std::string_view path, std::vector<std::string>& out) {
        if (!v.is_array()) {
            error(path, k_expect_array);
            return false;
        }
        std::vector<std::string> items;
        bool ok = true;
        for (std::size_t i = 0; i < v.size(); ++i) {
            std::string item;
            if (read_string(v[i], index_path(path, i), item)) {
                items.push_back(std::move(item));
            } else {
                ok = false;
            }
        }
        out = std::move(items);
        return ok;
    }

    bool read_string_map(const json& v, std::string_view path,
                         std::map<std::string, std::string>& out) {
        if (!v.is_object()) {
            error(path, k_expect_object);
            return false;
        }
        bool ok = true;
        for (const auto& [key, value] : v.items()) {
            std::string s;
            if (read_string(value, join_path(path, key), s)) {
                out[key] = std::move(s);
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
    object_reader(parse_context& ctx, const json& obj, std::string path)
        : ctx_(ctx), obj_(obj), path_(std::move(path)) {}

    object_reader(const object_reader&) = delete;
    object_reader& operator=(const object_reader&) = delete;

    const std::string& path() const { return path_; }
    std::string path_of(std::string_view key) const { return join_path(path_, key); }

    /// Present (even null, which the typed reader then rejects) or an error.
    const json* required(std::string_view key) {
        known_.emplace(key);
        auto it = obj_.find(std::string(key));
        if (it == obj_.end()) {
            ctx_.error(path_of(key), k_missing);
            return nullptr;
        }
        return &*it;
    }

    /// Absent and null both mean "use the default", as serde's Option/default do.
    const json* optional(std::string_view key) {
        known_.emplace(key);
        auto it = obj_.find(std::string(key));
        if (it == obj_.end() || it->is_null())
            return nullptr;
        return &*it;
    }

    void finish() {
        for (const auto& item : obj_.items()) {
            if (known_.count(item.key()) == 0) {
                ctx_.warning("unknown field ignored: " + path_of(item.key()));
            }
        }
    }

  private:
    parse_context& ctx_;
    const json& obj_;
    std::string path_;
    std::set<std::string, std::less<>> known_;
};

bool expect_object(parse_context& ctx, const json& v, std::string_view path) {
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

limits_config parse_limits(parse_context& ctx, const json& v, const std::string& path) {
    limits_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    read_optional(ctx, r, "rpm", out.rpm, &parse_context::read_u32);
    read_optional(ctx, r, "tpm", out.tpm, &parse_context::read_u32);
    r.finish();
    return out;
}

budget_config parse_budget(parse_context& ctx, const json& v, const std::string& path) {
    budget_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    read_optional(ctx, r, "total_tokens", out.total_tokens, &parse_context::read_u64);
    read_optional(ctx, r, "total_usd_micros", out.total_usd_micros, &parse_context::read_u64);
    r.finish();
    return out;
}

cache_config parse_cache(parse_context& ctx, const json& v, const std::string& path) {
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

passthrough_config parse_passthrough(parse_context& ctx, const json& v, const std::string& path) {
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

guardrails_config parse_guardrails(parse_context& ctx, const json& v, const std::string& path) {
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

/// tenant_id/project_id/user_id: trimmed, and a blank value counts as absent (SPEC §1.2).
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

virtual_key_config parse_virtual_key(parse_context& ctx, const json& v, const std::string& path) {
    virtual_key_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);

    if (const json* f = r.required("id"))
        ctx.read_string(*f, r.path_of("id"), out.id);
    if (const json* f = r.required("token"))
        ctx.read_string(*f, r.path_of("token"), out.token);
    if (const json* f = r.required("enabled"))
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

    if (const json* f = r.required("limits"))
        out.limits = parse_limits(ctx, *f, r.path_of("limits"));
    if (const json* f = r.required("budget"))
        out.budget = parse_budget(ctx, *f, r.path_of("budget"));
    if (const json* f = r.required("cache"))
        out.cache = parse_cache(ctx, *f, r.path_of("cache"));
    if (const json* f = r.required("guardrails")) {
        out.guardrails = parse_guardrails(ctx, *f, r.path_of("guardrails"));
    }
    if (const json* f = r.required("passthrough")) {
        out.passthrough = parse_passthrough(ctx, *f, r.path_of("passthrough"));
    }
    if (const json* f = r.optional("route")) {
        std::string route;
        if (ctx.read_string(*f, r.path_of("route"), route))
            out.route = std::move(route);
    }
    r.finish();
    return out;
}

backend_config parse_backend(parse_context& ctx, const json& v, const std::string& path) {
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
        // SPEC §1.1: names and values are trimmed and empty names dropped. Values are
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
    if (const json* f = r.optional("tls_insecure_skip_verify")) {
        ctx.read_bool(*f, r.path_of("tls_insecure_skip_verify"), out.tls_insecure_skip_verify);
    }
    // Claimed even when null so that a null does not also warn as unknown.
    const bool has_provider = r.optional("provider") != nullptr;
    const bool has_provider_config = r.optional("provider_config") != nullptr;
    if (has_provider || has_provider_config) {
        ctx.error(path,
                  "translation backends (provider/provider_config) are not supported; use an "
                  "OpenAI-compatible base_url");
    }
    r.finish();
    return out;
}

weighted_backend parse_weighted_backend(parse_context& ctx, const json& v,
                                        const std::string& path) {
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
                                                  const std::string& path) {
    std::vector<weighted_backend> out;
    if (!v.is_array()) {
        ctx.error(path, k_expect_array);
        return out;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
        out.push_back(parse_weighted_backend(ctx, v[i], index_path(path, i)));
    }
    return out;
}

route_rule parse_rule(parse_context& ctx, const json& v, const std::string& path) {
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

router_config parse_router(parse_context& ctx, const json& v, const std::string& path) {
    router_config out;
    if (!expect_object(ctx, v, path))
        return out;
    object_reader r(ctx, v, path);
    if (const json* f = r.optional("default_backends")) {
        out.default_backends = parse_weighted_list(ctx, *f, r.path_of("default_backends"));
    }
    if (const json* f = r.optional("rules")) {
        if (f->is_array()) {
            for (std::size_t i = 0; i < f->size(); ++i) {
                out.rules.push_back(parse_rule(ctx, (*f)[i], index_path(r.path_of("rules"), i)));
            }
        } else {
            ctx.error(r.path_of("rules"), k_expect_array);
        }
    }
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

redaction_config parse_redaction(parse_context& ctx, const json& v, const std::string& path) {
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

sampling_config parse_sampling(parse_context& ctx, const json& v, const std::string& path) {
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
    r.finish();
    return out;
}

observability_config parse_observability(parse_context& ctx, const json& v,
                                         const std::string& path) {
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

/// nlohmann reports the byte count read when the error was found; derive line and column
/// the way its own lexer counts them (a '\n' starts a new line at column 0).
std::string describe_parse_error(std::string_view text, const json::parse_error& e) {
    const std::size_t end = std::min<std::size_t>(e.byte, text.size());
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
    // what() is "[json.exception.parse_error.101] parse error at line L, column C: <detail>";
    // keep only the detail, since we print the position ourselves.
    std::string_view what = e.what();
    std::string_view detail = what;
    if (const auto col = what.find("column "); col != std::string_view::npos) {
        if (const auto colon = what.find(": ", col); colon != std::string_view::npos) {
            detail = what.substr(colon + 2);
        }
    } else if (const auto bracket = what.find("] "); bracket != std::string_view::npos) {
        detail = what.substr(bracket + 2);
    }
    return "invalid JSON at line " + std::to_string(line) + " column " + std::to_string(column) +
           ": " + std::string(detail);
}

/// `mcp_servers` and `a2a_agents` are out of scope (SPEC §0.11): accepted and ignored. An
/// empty list configures nothing, so only a non-empty one is worth a warning.
void warn_ignored_section(parse_context& ctx, const json& root, std::string_view key) {
    auto it = root.find(std::string(key));
    if (it == root.end() || it->is_null() || (it->is_array() && it->empty()) ||
        (it->is_object() && it->empty())) {
        return;
    }
    ctx.warning(std::string(key) + " is not supported by this gateway and is ignored");
}

/// Parses a standalone document (one key, the router) whose errors are prefixed with `path`,
/// since the message alone would not say which document of a batch was broken.
bool parse_document(parse_context& ctx, std::string_view text, std::string_view path, json& out) {
    try {
        out = json::parse(text.begin(), text.end());
        return true;
    } catch (const json::parse_error& e) {
        ctx.error(path, describe_parse_error(text, e));
    } catch (const json::exception& e) {
        ctx.error(path, std::string("invalid JSON: ") + e.what());
    }
    return false;
}

}  // namespace

gateway_config parse_gateway_json(std::string_view text, diagnostics& diag) {
    gateway_config cfg;
    parse_context ctx(diag);

    json root;
    try {
        root = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
        ctx.error_plain(describe_parse_error(text, e));
        return cfg;
    } catch (const json::exception& e) {
        ctx.error_plain(std::string("invalid JSON: ") + e.what());
        return cfg;
    }

    if (!root.is_object()) {
        ctx.error_plain("invalid config: the top level must be a JSON object");
        return cfg;
    }

    object_reader r(ctx, root, "");
    if (const json* f = r.optional("backends")) {
        if (f->is_array()) {
            for (std::size_t i = 0; i < f->size(); ++i) {
                cfg.backends.push_back(parse_backend(ctx, (*f)[i], index_path("backends", i)));
            }
        } else {
            ctx.error("backends", k_expect_array);
        }
    }
    if (const json* f = r.required("virtual_keys")) {
        if (f->is_array()) {
            for (std::size_t i = 0; i < f->size(); ++i) {
                cfg.virtual_keys.push_back(
                    parse_virtual_key(ctx, (*f)[i], index_path("virtual_keys", i)));
            }
        } else {
            ctx.error("virtual_keys", k_expect_array);
        }
    }
    if (const json* f = r.required("router"))
        cfg.router = parse_router(ctx, *f, "router");
    if (const json* f = r.optional("observability")) {
        cfg.observability = parse_observability(ctx, *f, "observability");
    }
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
auto parse_one(std::string_view text, diagnostics& diag, const char* path, Parse parse)
    -> std::optional<decltype(parse(std::declval<parse_context&>(), json{}, std::string{}))> {
    parse_context ctx(diag);
    const std::size_t errors_before = diag.errors.size();
    json root;
    if (!parse_document(ctx, text, path, root))
        return std::nullopt;
    auto value = parse(ctx, root, path);
    if (diag.errors.size() != errors_before)
        return std::nullopt;
    return value;
}

}  // namespace

std::optional<virtual_key_config> parse_virtual_key_json(std::string_view text, diagnostics& diag) {
    return parse_one(text, diag, "virtual_key", parse_virtual_key);
}

std::optional<router_config> parse_router_json(std::string_view text, diagnostics& diag) {
    return parse_one(text, diag, "router", parse_router);
}

}  // namespace ditto::config
