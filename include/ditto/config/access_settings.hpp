#pragma once

// gateway.json `access` (docs/access.md): operators signing in through an OpenID Connect
// provider, and `/v1/*` clients presenting a JWT in place of a virtual key. Plain structs;
// parsed in src/config/parse.cpp.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ditto::config {

struct virtual_key_config;

/// One token issuer: where its keys come from and what its tokens must say.
struct issuer_config {
    std::string issuer;                  ///< `iss`, and where discovery is fetched from
    std::vector<std::string> audiences;  ///< `aud` must hold one of them
    /// The JWKS URL; absent: the discovery document's `jwks_uri`.
    std::optional<std::string> jwks_uri;
    std::vector<std::string> algorithms{"RS256", "ES256", "EdDSA"};
    std::uint32_t leeway_seconds = 60;            ///< on exp, nbf and iat
    std::uint32_t jwks_refresh_seconds = 300;     ///< the keys are fetched again this often
    std::uint32_t jwks_timeout_ms = 2000;         ///< one fetch; and the longest a request waits
    std::uint32_t jwks_min_refetch_seconds = 10;  ///< an unknown kid refetches at most this often
    std::optional<std::string> tls_ca_file;       ///< PEM bundle for the issuer's https
    bool operator==(const issuer_config&) const = default;
};

/// `access.operators`: the Admin API and the console (docs/access.md, "Operators").
struct operator_access_config {
    issuer_config idp;
    std::string client_id;  ///< the console's public client (authorization code + PKCE)
    std::string scopes = "openid profile email";
    std::string roles_claim = "groups";  ///< a dotted path into the claims
    /// Claim value → role (admin, viewer, auditor, tenant-admin:<t>, tenant-viewer:<t>).
    /// Empty: the claim's values are role names themselves.
    std::map<std::string, std::string> roles;
    bool operator==(const operator_access_config&) const = default;
};

/// One entry of `access.clients.templates`: the first whose `when` matches makes the key.
struct client_template_config {
    std::optional<std::string> claim;  ///< absent: matches every identity
    std::optional<std::string> value;  ///< the claim (a string or an array) must hold it
    /// A virtual key without id and token; tenant_id, project_id and user_id may name claims
    /// as `{claim:NAME}`. Held by pointer: the key's struct is defined after this one.
    std::shared_ptr<const virtual_key_config> key;
};

/// `access.clients`: `/v1/*` with a JWT (docs/access.md, "Clients").
struct client_access_config {
    issuer_config idp;
    std::string identity_claim = "sub";  ///< names the key: `jwt:<value>`
    std::vector<client_template_config> templates;
};

struct access_config {
    std::optional<operator_access_config> operators;
    std::optional<client_access_config> clients;
};

/// A role name as `access.operators.roles` takes it: admin, viewer, auditor, or
/// tenant-admin:<t> / tenant-viewer:<t> with a non-empty tenant.
bool is_operator_role(std::string_view role);

/// `localhost`, `::1` or an IPv4 address in 127.0.0.0/8 (parsed, not a text prefix).
bool is_loopback_host(std::string_view host);

/// A claim's value fit to name a key or a scope (docs/access.md, "Clients"): printable, at most
/// 256 bytes, no `:` or `#` (scope ids are joined with them), and not shaped like a budget
/// period's ledger (`…@<digits>-<digits>`): one identity cannot name another's counters.
bool is_safe_claim_id(std::string_view v);

}  // namespace ditto::config
