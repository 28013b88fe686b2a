#pragma once

// Admin API credentials (docs/admin-api.md, "Tokens and mounting"): a write token, a global read
// token, and write or read tokens per tenant. Compared in constant time, every configured token
// every time, so the answer's timing says nothing about which token (or how much of one) matched.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/config/cli.hpp"
#include "ditto/config/load.hpp"
#include "ditto/http/message.hpp"

namespace ditto::admin {

enum class role : std::uint8_t { write, read, tenant_write, tenant_read, auditor };

/// Who is calling the Admin API: a static token's holder, or an operator signed in through the
/// identity provider (docs/access.md).
struct principal {
    role kind = role::read;
    std::string tenant;                ///< for the tenant roles
    bool oidc = false;                 ///< signed in through access.operators
    std::string subject;               ///< `sub` (OIDC)
    std::optional<std::string> email;  ///< `email` (OIDC), when present
    std::string role_name;             ///< the mapped role (OIDC): admin, viewer, ...
    bool can_write() const { return kind == role::write || kind == role::tenant_write; }
    bool tenant_scoped() const { return kind == role::tenant_write || kind == role::tenant_read; }
    bool global() const { return !tenant_scoped(); }
    /// The `actor` of an audit record: {"via":"oidc","sub":…,"email":…,"role":…} or
    /// {"via":"token","role":…[,"tenant_id":…]}. Never a token.
    std::string actor_json() const;
};

/// The role names of GET /admin/whoami: write, read, tenant_write, tenant_read, auditor.
std::string_view role_label(role r);

/// An operator's principal from a verified token's claims (docs/access.md, "Roles"): the
/// `roles_claim` values, through `roles` when configured, else taken as role names. The first
/// that applies of admin, tenant-admin:<t>, viewer, tenant-viewer:<t>, auditor. nullopt with
/// `refusal` when no role applies or the roles name two tenants.
std::optional<principal> operator_principal(const std::vector<std::string>& claim_values,
                                            const std::map<std::string, std::string>& role_map,
                                            std::string subject, std::optional<std::string> email,
                                            std::string& refusal);

struct admin_tokens {
    std::optional<std::string> write;
    std::optional<std::string> read;
    std::map<std::string, std::string> tenant_write;  ///< tenant → token
    std::map<std::string, std::string> tenant_read;

    /// Some token is configured: the Admin API is mounted.
    bool any() const { return write || read || !tenant_write.empty() || !tenant_read.empty(); }
    bool any_write_capable() const { return write || !tenant_write.empty(); }
    bool any_global() const { return write || read; }

    /// `Authorization: Bearer …` first, then `x-admin-token`; nullopt for a missing or
    /// unknown token.
    std::optional<principal> authenticate(const http::request& req) const;
};

/// The tokens the flags configure: `-env` forms read from the dotenv file or environment,
/// `secret://` values resolved. nullopt with `error` (never holding a token) when a variable
/// is missing or blank, or a secret cannot be resolved.
std::optional<admin_tokens> resolve_admin_tokens(const config::cli_options& o,
                                                 const config::env_lookup& env, std::string& error);

}  // namespace ditto::admin
