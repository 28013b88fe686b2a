#pragma once

// JSON Web Tokens signed by an identity provider (docs/access.md): the JWKS that holds its
// public keys, and the checks a token must pass (RFC 7519, RFC 7515, RFC 8037): a compact JWS
// of three base64url parts, `alg` one of RS256, ES256 or EdDSA as allowed, a signature by the
// key its `kid` names, `iss` exact, `aud` holding an accepted audience, `exp` required, and
// `exp`, `nbf` and `iat` judged with a leeway. No OpenSSL or JSON library in this header.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ditto::access {

/// A public key of a JWKS, ready to verify with.
class public_key;

struct jwk {
    std::string kid;
    std::string alg;  ///< RS256, ES256 or EdDSA: the JWK's own `alg`, else the one its type implies
    std::shared_ptr<const public_key> key;
};

/// The usable keys of one JWKS document. Keys that are not for signatures, of another type
/// or curve, or too weak (RSA under 2048 bits) are skipped, each with a reason.
class key_set {
  public:
    /// False with `error` when the document is not a JWKS (no `keys` array).
    static std::optional<key_set> parse(std::string_view jwks_json, std::string& error,
                                        std::vector<std::string>* skipped = nullptr);
    const jwk* find(std::string_view kid) const;
    const std::vector<jwk>& keys() const { return keys_; }
    bool empty() const { return keys_.empty(); }

  private:
    std::vector<jwk> keys_;
};

/// The claims of a verified token, read by dotted path (`realm_access.roles`).
class claims {
  public:
    explicit claims(std::string_view payload_json);  ///< a JSON object (checked by verify)
    ~claims();
    claims(const claims&) = delete;
    claims& operator=(const claims&) = delete;
    /// A string claim as one value, an array's string elements, else nothing.
    std::vector<std::string> strings(std::string_view path) const;
    /// A string claim, else nullopt.
    std::optional<std::string> string(std::string_view path) const;

  private:
    struct doc;
    std::unique_ptr<doc> doc_;
};

/// What a token proved.
struct verified_token {
    std::string subject;               ///< `sub` (may be empty)
    std::optional<std::string> email;  ///< `email`, when a string
    std::int64_t expires_at = 0;       ///< `exp`, unix seconds
    std::optional<std::int64_t> not_before;
    std::string kid;
    std::shared_ptr<const claims> all;
};

enum class jwt_error : std::uint8_t {
    none,
    malformed,      ///< not three base64url parts of JSON objects
    algorithm,      ///< `alg` none, unknown, not allowed, or not the key's
    unknown_kid,    ///< no key of the set has the token's `kid`
    signature,      ///< the signature does not verify
    expired,        ///< `exp` + leeway has passed, or no `exp`
    not_yet_valid,  ///< `nbf` or `iat` - leeway is in the future
    issuer,         ///< `iss` is not the issuer
    audience,       ///< `aud` holds none of the audiences
};

/// A short English reason for a refusal, safe to show a client (names no secret).
std::string_view describe(jwt_error e);

struct verify_options {
    std::string issuer;
    std::vector<std::string> audiences;
    std::vector<std::string> algorithms{"RS256", "ES256", "EdDSA"};
    std::int64_t leeway_seconds = 60;
};

struct verify_result {
    jwt_error error = jwt_error::none;
    std::string kid;  ///< the token's `kid`, for unknown_kid
    std::shared_ptr<const verified_token> token;
};

/// Checks `token` against `keys` at unix time `now`.
verify_result verify(std::string_view token, const key_set& keys, const verify_options& o,
                     std::int64_t now);

/// The time-only checks again (a token remembered as verified, judged at a later `now`).
jwt_error check_times(const verified_token& t, std::int64_t leeway_seconds, std::int64_t now);

/// Looks like a compact JWS (two dots, base64url characters): worth verifying as a JWT rather
/// than looking up as a virtual key.
bool looks_like_jwt(std::string_view token);

/// Base64url without padding (RFC 7515, Appendix C); nullopt for anything else.
std::optional<std::string> base64url_decode(std::string_view in);
std::string base64url_encode(std::string_view in);

}  // namespace ditto::access
