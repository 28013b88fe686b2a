#include "ditto/admin/admin_tokens.hpp"

#include <algorithm>

#include "ditto/core/hash.hpp"
#include "ditto/core/json_writer.hpp"
#include "ditto/core/strings.hpp"

namespace ditto::admin {
namespace {

std::string presented(const http::request& req) {
    if (auto a = req.find(http::field::authorization); a != req.end()) {
        const std::string_view v(a->value().data(), a->value().size());
        if (core::iequals_prefix(v, "bearer "))
            return std::string(core::trim(v.substr(7)));
    }
    if (auto x = req.find("x-admin-token"); x != req.end())
        return std::string(core::trim(std::string_view(x->value().data(), x->value().size())));
    return {};
}

}  // namespace

std::string_view role_label(role r) {
    switch (r) {
        case role::write:
            return "write";
        case role::read:
            return "read";
        case role::tenant_write:
            return "tenant_write";
        case role::tenant_read:
            return "tenant_read";
        case role::auditor:
            return "auditor";
    }
    return "read";
}

std::string principal::actor_json() const {
    core::json_object_writer w;
    w.str("via", oidc ? "oidc" : "token");
    if (oidc) {
        w.str("sub", subject);
        if (email)
            w.str("email", *email);
        w.str("role", role_name);
    } else {
        w.str("role", role_label(kind));
    }
    if (tenant_scoped())
        w.str("tenant_id", tenant);
    return w.finish();
}

std::optional<principal> operator_principal(const std::vector<std::string>& claim_values,
                                            const std::map<std::string, std::string>& role_map,
                                            std::string subject, std::optional<std::string> email,
                                            std::string& refusal) {
    std::vector<std::string> roles;
    for (const auto& v : claim_values) {
        // Without a map only `ditto:<role>` values count: a group a user may create and name
        // (`admin`) must not make its members operators.
        if (role_map.empty()) {
            if (v.starts_with("ditto:") && config::is_operator_role(v.substr(6)))
                roles.push_back(v.substr(6));
        } else if (auto it = role_map.find(v); it != role_map.end()) {
            roles.push_back(it->second);
        }
    }
    principal p;
    p.oidc = true;
    p.subject = std::move(subject);
    p.email = std::move(email);
    auto has = [&](std::string_view r) {
        return std::find(roles.begin(), roles.end(), r) != roles.end();
    };
    // A tenant role: the one tenant it names, or a refusal when they name two.
    auto tenant_role = [&](std::string_view prefix, role kind) -> std::optional<bool> {
        std::optional<std::string> tenant;
        for (const auto& r : roles) {
            if (!r.starts_with(prefix))
                continue;
            std::string t(core::trim(std::string_view(r).substr(prefix.size())));
            if (tenant && *tenant != t)
                return std::nullopt;
            tenant = t;
        }
        if (!tenant)
            return false;
        p.kind = kind;
        p.tenant = *tenant;
        p.role_name = std::string(prefix) + *tenant;
        return true;
    };
    if (has("admin")) {
        p.kind = role::write;
        p.role_name = "admin";
        return p;
    }
    for (const auto& [prefix, kind] :
         {std::pair{std::string_view("tenant-admin:"), role::tenant_write},
          std::pair{std::string_view("tenant-viewer:"), role::tenant_read}}) {
        if (kind == role::tenant_read && has("viewer")) {
            p.kind = role::read;
            p.role_name = "viewer";
            return p;
        }
        const auto found = tenant_role(prefix, kind);
        if (!found) {
            refusal = "the identity's roles name more than one tenant";
            return std::nullopt;
        }
        if (*found)
            return p;
    }
    if (has("auditor")) {
        p.kind = role::auditor;
        p.role_name = "auditor";
        return p;
    }
    refusal = "no role for this identity";
    return std::nullopt;
}

std::optional<principal> admin_tokens::authenticate(const http::request& req) const {
    const auto token = presented(req);
    if (token.empty())
        return std::nullopt;
    // Every comparison runs; the first match wins, in order of privilege.
    std::optional<principal> found;
    auto check = [&](const std::optional<std::string>& t, role r, const std::string& tenant) {
        if (t && core::constant_time_equal(token, *t) && !found)
            found = principal{r, tenant, false, {}, {}, {}};
    };
    check(write, role::write, "");
    check(read, role::read, "");
    for (const auto& [tenant, t] : tenant_write)
        check(t, role::tenant_write, tenant);
    for (const auto& [tenant, t] : tenant_read)
        check(t, role::tenant_read, tenant);
    return found;
}

namespace {

// A token flag's value: the literal (secret:// resolved) or the variable's.
std::optional<std::string> resolve(const std::string& value, bool from_env, const std::string& flag,
                                   const config::env_lookup& env, std::string& error) {
    if (from_env) {
        auto v = env.get(value);
        if (!v || core::trim(*v).empty()) {
            error = flag + ": missing or blank env var: " + value;
            return std::nullopt;
        }
        return std::string(core::trim(*v));
    }
    std::string why;
    auto v = config::expand_value(value, env, flag, why);
    if (!v) {
        error = why;
        return std::nullopt;
    }
    if (core::trim(*v).empty()) {
        error = flag + ": the token is blank";
        return std::nullopt;
    }
    return std::string(core::trim(*v));
}

}  // namespace

std::optional<admin_tokens> resolve_admin_tokens(const config::cli_options& o,
                                                 const config::env_lookup& env,
                                                 std::string& error) {
    admin_tokens t;
    auto single = [&](const std::optional<std::string>& literal,
                      const std::optional<std::string>& var, const std::string& flag,
                      std::optional<std::string>& out) {
        if (literal)
            out = resolve(*literal, false, flag, env, error);
        else if (var)
            out = resolve(*var, true, flag + "-env", env, error);
        return error.empty();
    };
    if (!single(o.admin_token, o.admin_token_env, "--admin-token", t.write) ||
        !single(o.admin_read_token, o.admin_read_token_env, "--admin-read-token", t.read)) {
        return std::nullopt;
    }
    auto tenants = [&](const std::vector<std::string>& specs, bool from_env,
                       const std::string& flag, std::map<std::string, std::string>& out) {
        for (const auto& spec : specs) {
            const auto eq = spec.find('=');
            auto v = resolve(spec.substr(eq + 1), from_env, flag, env, error);
            if (!v)
                return false;
            out[std::string(core::trim(spec.substr(0, eq)))] = std::move(*v);
        }
        return true;
    };
    if (!tenants(o.admin_tenant_tokens, false, "--admin-tenant-token", t.tenant_write) ||
        !tenants(o.admin_tenant_token_envs, true, "--admin-tenant-token-env", t.tenant_write) ||
        !tenants(o.admin_tenant_read_tokens, false, "--admin-tenant-read-token", t.tenant_read) ||
        !tenants(o.admin_tenant_read_token_envs, true, "--admin-tenant-read-token-env",
                 t.tenant_read)) {
        return std::nullopt;
    }
    return t;
}

}  // namespace ditto::admin
