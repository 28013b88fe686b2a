#include "ditto/admin/admin_tokens.hpp"

#include "ditto/core/hash.hpp"
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

std::optional<principal> admin_tokens::authenticate(const http::request& req) const {
    const auto token = presented(req);
    if (token.empty())
        return std::nullopt;
    // Every comparison runs; the first match wins, in order of privilege.
    std::optional<principal> found;
    auto check = [&](const std::optional<std::string>& t, role r, const std::string& tenant) {
        if (t && core::constant_time_equal(token, *t) && !found)
            found = principal{r, tenant};
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
