#include "support/jwt_signer.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <chrono>
#include <stdexcept>
#include <vector>

namespace ditto::test {

struct signing_key::impl {
    EVP_PKEY* pkey = nullptr;
    ~impl() { EVP_PKEY_free(pkey); }
};

std::string b64url(std::string_view in) {
    static constexpr char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], a[v & 63]};
    }
    if (in.size() - i == 1) {
        const unsigned v = static_cast<unsigned char>(in[i]) << 16;
        out += {a[v >> 18], a[(v >> 12) & 63]};
    } else if (in.size() - i == 2) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8);
        out += {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63]};
    }
    return out;
}

long long unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

namespace {

std::string bn_param(EVP_PKEY* k, const char* name, int pad = 0) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(k, name, &bn) != 1)
        throw std::runtime_error("jwt_signer: no key parameter");
    std::vector<unsigned char> buf(static_cast<std::size_t>(pad ? pad : BN_num_bytes(bn)));
    BN_bn2binpad(bn, buf.data(), static_cast<int>(buf.size()));
    BN_free(bn);
    return {buf.begin(), buf.end()};
}

}  // namespace

signing_key::signing_key(std::string alg, std::string kid, int rsa_bits)
    : alg_(std::move(alg)), kid_(std::move(kid)), impl_(std::make_unique<impl>()) {
    if (alg_ == "RS256")
        impl_->pkey =
            EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(rsa_bits));
    else if (alg_ == "ES256")
        impl_->pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    else if (alg_ == "EdDSA")
        impl_->pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (!impl_->pkey)
        throw std::runtime_error("jwt_signer: cannot make a " + alg_ + " key");
}

signing_key::~signing_key() = default;
signing_key::signing_key(signing_key&&) noexcept = default;
signing_key& signing_key::operator=(signing_key&&) noexcept = default;

std::string signing_key::jwk() const {
    auto* k = impl_->pkey;
    std::string body;
    if (alg_ == "RS256") {
        body = R"("kty":"RSA","n":")" + b64url(bn_param(k, OSSL_PKEY_PARAM_RSA_N)) + R"(","e":")" +
               b64url(bn_param(k, OSSL_PKEY_PARAM_RSA_E)) + '"';
    } else if (alg_ == "ES256") {
        body = R"("kty":"EC","crv":"P-256","x":")" +
               b64url(bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, 32)) + R"(","y":")" +
               b64url(bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32)) + '"';
    } else {
        unsigned char raw[32];
        std::size_t len = sizeof raw;
        EVP_PKEY_get_raw_public_key(k, raw, &len);
        body = R"("kty":"OKP","crv":"Ed25519","x":")" +
               b64url(std::string_view(reinterpret_cast<const char*>(raw), len)) + '"';
    }
    return "{" + body + R"(,"kid":")" + kid_ + R"(","alg":")" + alg_ + R"(","use":"sig"})";
}

std::string signing_key::sign(std::string_view header_json, std::string_view payload_json) const {
    const std::string input = b64url(header_json) + "." + b64url(payload_json);
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    const EVP_MD* digest = alg_ == "EdDSA" ? nullptr : EVP_sha256();
    std::size_t len = 0;
    std::vector<unsigned char> sig;
    if (EVP_DigestSignInit(md, nullptr, digest, nullptr, impl_->pkey) != 1 ||
        EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) != 1) {
        EVP_MD_CTX_free(md);
        throw std::runtime_error("jwt_signer: sign failed");
    }
    sig.resize(len);
    EVP_DigestSign(md, sig.data(), &len, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    EVP_MD_CTX_free(md);
    sig.resize(len);
    std::string out(sig.begin(), sig.end());
    if (alg_ == "ES256") {  // DER → R||S (RFC 7518, 3.4)
        const unsigned char* p = sig.data();
        ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
        unsigned char rs[64];
        BN_bn2binpad(ECDSA_SIG_get0_r(s), rs, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(s), rs + 32, 32);
        ECDSA_SIG_free(s);
        out.assign(reinterpret_cast<const char*>(rs), 64);
    }
    return input + "." + b64url(out);
}

std::string signing_key::token(std::string_view payload_json) const {
    return sign(R"({"alg":")" + alg_ + R"(","typ":"JWT","kid":")" + kid_ + R"("})", payload_json);
}

}  // namespace ditto::test
