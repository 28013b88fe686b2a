#pragma once

// Keys and tokens made by the test itself with OpenSSL (docs/access.md, "Tests"): an identity
// provider's signing keys, their JWKS entries, and compact JWS tokens over any header and claims
// the test chooses (expired, wrong audience, unknown kid, tampered, ...). Independent of the
// gateway's own JWT code, which it is there to check.

#include <memory>
#include <string>
#include <string_view>

namespace ditto::test {

class signing_key {
  public:
    /// `alg`: RS256 (an RSA key of `rsa_bits`), ES256 (P-256) or EdDSA (Ed25519).
    signing_key(std::string alg, std::string kid, int rsa_bits = 2048);
    ~signing_key();
    signing_key(signing_key&&) noexcept;
    signing_key& operator=(signing_key&&) noexcept;

    const std::string& alg() const { return alg_; }
    const std::string& kid() const { return kid_; }
    /// The public key as a JWK object (with kid, alg and use "sig").
    std::string jwk() const;
    /// `header.payload.signature` over the given JSON texts, signed with this key.
    std::string sign(std::string_view header_json, std::string_view payload_json) const;
    /// A token with the usual header {"alg","typ":"JWT","kid"}.
    std::string token(std::string_view payload_json) const;

  private:
    struct impl;
    std::string alg_, kid_;
    std::unique_ptr<impl> impl_;
};

std::string b64url(std::string_view bytes);
/// Unix seconds now.
long long unix_now();

}  // namespace ditto::test
