#include "ditto/access/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <nlohmann/json.hpp>

namespace ditto::access {

enum class key_type : std::uint8_t { rsa, p256, ed25519 };

namespace {

using json = nlohmann::json;

struct pkey_free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct ctx_free {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct md_free {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct bld_free {
    void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct params_free {
    void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct bn_free {
    void operator()(BIGNUM* p) const { BN_free(p); }
};
struct sig_free {
    void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

}  // namespace

class public_key {
  public:
    key_type type = key_type::rsa;
    std::shared_ptr<EVP_PKEY> pkey;
};

namespace {

constexpr std::array<signed char, 256> b64url_table = [] {
    std::array<signed char, 256> t{};
    t.fill(-1);
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < 64; ++i)
        t[static_cast<unsigned char>(a[i])] = static_cast<signed char>(i);
    return t;
}();

std::string_view alg_of(key_type t) {
    switch (t) {
        case key_type::rsa:
            return "RS256";
        case key_type::p256:
            return "ES256";
        case key_type::ed25519:
            return "EdDSA";
    }
    return "";
}

const json* member(const json& obj, const char* name) {
    auto it = obj.find(name);
    return it == obj.end() ? nullptr : &*it;
}

std::optional<std::string> b64_member(const json& obj, const char* name) {
    const json* v = member(obj, name);
    if (!v || !v->is_string())
        return std::nullopt;
    return base64url_decode(v->get_ref<const std::string&>());
}

// Keys are built with OpenSSL 3's parameter builder: no deprecated RSA/EC_KEY calls.
pkey_ptr from_params(const char* type, OSSL_PARAM_BLD* bld) {
    std::unique_ptr<OSSL_PARAM, params_free> params(OSSL_PARAM_BLD_to_param(bld));
    std::unique_ptr<EVP_PKEY_CTX, ctx_free> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0)
        return nullptr;
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
        return nullptr;
    pkey_ptr key(raw);
    // A point off the curve (or a malformed modulus) is refused here, not at verify time.
    std::unique_ptr<EVP_PKEY_CTX, ctx_free> check(
        EVP_PKEY_CTX_new_from_pkey(nullptr, raw, nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) <= 0)
        return nullptr;
    return key;
}

pkey_ptr rsa_key(const json& k, std::string& why) {
    auto n = b64_member(k, "n");
    auto e = b64_member(k, "e");
    if (!n || !e || n->empty() || e->empty()) {
        why = "RSA key without n and e";
        return nullptr;
    }
    // Checked before OpenSSL sees it: its public check of a huge modulus takes seconds.
    if (n->size() > 1024 || e->size() > 8) {
        why = "RSA key over 8192 bits, or its exponent over 64";
        return nullptr;
    }
    std::unique_ptr<BIGNUM, bn_free> bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                                                  static_cast<int>(n->size()), nullptr));
    std::unique_ptr<BIGNUM, bn_free> be(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                                                  static_cast<int>(e->size()), nullptr));
    std::unique_ptr<OSSL_PARAM_BLD, bld_free> bld(OSSL_PARAM_BLD_new());
    if (!bn || !be || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn.get()) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, be.get())) {
        why = "RSA key not usable";
        return nullptr;
    }
    auto key = from_params("RSA", bld.get());
    if (!key) {
        why = "RSA key not usable";
        return nullptr;
    }
    if (EVP_PKEY_get_bits(key.get()) < 2048) {
        why = "RSA key under 2048 bits";
        return nullptr;
    }
    return key;
}

pkey_ptr p256_key(const json& k, std::string& why) {
    auto x = b64_member(k, "x");
    auto y = b64_member(k, "y");
    if (!x || !y || x->size() != 32 || y->size() != 32) {
        why = "P-256 key without 32-byte x and y";
        return nullptr;
    }
    std::string point = "\x04" + *x + *y;
    std::unique_ptr<OSSL_PARAM_BLD, bld_free> bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                          point.size())) {
        why = "P-256 key not usable";
        return nullptr;
    }
    auto key = from_params("EC", bld.get());
    if (!key)
        why = "P-256 key not on the curve";
    return key;
}

pkey_ptr ed25519_key(const json& k, std::string& why) {
    auto x = b64_member(k, "x");
    if (!x || x->size() != 32) {
        why = "Ed25519 key without a 32-byte x";
        return nullptr;
    }
    pkey_ptr key(EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size()));
    if (!key)
        why = "Ed25519 key not usable";
    return key;
}

// One JWKS entry, or nullopt with the reason it is skipped.
std::optional<jwk> parse_jwk(const json& k, std::string& why) {
    if (!k.is_object()) {
        why = "not an object";
        return std::nullopt;
    }
    const json* kty = member(k, "kty");
    if (!kty || !kty->is_string()) {
        why = "no kty";
        return std::nullopt;
    }
    if (const json* use = member(k, "use"); use && *use != "sig") {
        why = "not a signing key (use)";
        return std::nullopt;
    }
    if (const json* ops = member(k, "key_ops")) {
        if (!ops->is_array() || std::find(ops->begin(), ops->end(), json("verify")) == ops->end()) {
            why = "not a verification key (key_ops)";
            return std::nullopt;
        }
    }
    key_type type{};
    pkey_ptr pkey;
    const auto& t = kty->get_ref<const std::string&>();
    const json* crv = member(k, "crv");
    if (t == "RSA") {
        type = key_type::rsa;
        pkey = rsa_key(k, why);
    } else if (t == "EC" && crv && *crv == "P-256") {
        type = key_type::p256;
        pkey = p256_key(k, why);
    } else if (t == "OKP" && crv && *crv == "Ed25519") {
        type = key_type::ed25519;
        pkey = ed25519_key(k, why);
    } else {
        why = "unsupported key type " + t +
              (crv && crv->is_string() ? " " + crv->get<std::string>() : "");
        return std::nullopt;
    }
    if (!pkey)
        return std::nullopt;
    jwk out;
    out.alg = std::string(alg_of(type));
    if (const json* alg = member(k, "alg")) {
        if (!alg->is_string() || alg->get_ref<const std::string&>() != out.alg) {
            why = "alg does not fit the key type";
            return std::nullopt;
        }
    }
    if (const json* kid = member(k, "kid"); kid && kid->is_string())
        out.kid = kid->get<std::string>();
    auto holder = std::make_shared<public_key>();
    out.key = holder;
    holder->type = type;
    holder->pkey = std::shared_ptr<EVP_PKEY>(pkey.release(), pkey_free{});
    return out;
}

std::optional<json> decode_object(std::string_view part) {
    auto text = base64url_decode(part);
    if (!text)
        return std::nullopt;
    json j = json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return std::nullopt;
    return j;
}

std::optional<std::int64_t> numeric_date(const json& claims, const char* name, bool& bad) {
    const json* v = member(claims, name);
    if (!v)
        return std::nullopt;
    if (v->is_number_integer())
        return v->get<std::int64_t>();
    if (v->is_number_float()) {
        const double d = v->get<double>();
        if (std::isfinite(d) && d > -9.2e18 && d < 9.2e18)
            return static_cast<std::int64_t>(std::floor(d));
    }
    bad = true;
    return std::nullopt;
}

// The signature over `signed_part`; ES256's is R||S (RFC 7518, 3.4), which OpenSSL takes as DER.
bool signature_ok(const public_key& k, std::string_view signed_part, std::string_view sig) {
    std::string der;
    if (k.type == key_type::p256) {
        if (sig.size() != 64)
            return false;
        const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
        std::unique_ptr<ECDSA_SIG, sig_free> s(ECDSA_SIG_new());
        BIGNUM* r = BN_bin2bn(p, 32, nullptr);
        BIGNUM* ss = BN_bin2bn(p + 32, 32, nullptr);
        if (!s || !r || !ss || !ECDSA_SIG_set0(s.get(), r, ss)) {
            BN_free(r);
            BN_free(ss);
            return false;
        }
        unsigned char* out = nullptr;
        const int len = i2d_ECDSA_SIG(s.get(), &out);
        if (len <= 0)
            return false;
        der.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
        OPENSSL_free(out);
        sig = der;
    }
    std::unique_ptr<EVP_MD_CTX, md_free> md(EVP_MD_CTX_new());
    const EVP_MD* digest = k.type == key_type::ed25519 ? nullptr : EVP_sha256();
    if (!md || EVP_DigestVerifyInit(md.get(), nullptr, digest, nullptr, k.pkey.get()) <= 0)
        return false;
    return EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                            sig.size(), reinterpret_cast<const unsigned char*>(signed_part.data()),
                            signed_part.size()) == 1;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view in) {
    if (in.size() % 4 == 1)
        return std::nullopt;
    std::string out;
    out.reserve(in.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        const int v = b64url_table[static_cast<unsigned char>(c)];
        if (v < 0)
            return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    return out;
}

std::string base64url_encode(std::string_view in) {
    static constexpr char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((in.size() * 4 + 2) / 3);
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(a[(acc >> bits) & 63]);
        }
    }
    if (bits > 0)
        out.push_back(a[(acc << (6 - bits)) & 63]);
    return out;
}

bool looks_like_jwt(std::string_view token) {
    int dots = 0;
    for (char c : token) {
        if (c == '.')
            ++dots;
        else if (b64url_table[static_cast<unsigned char>(c)] < 0)
            return false;
    }
    return dots == 2 && token.size() > 10;
}

std::optional<key_set> key_set::parse(std::string_view jwks_json, std::string& error,
                                      std::vector<std::string>* skipped) {
    json doc = json::parse(jwks_json, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        error = "the JWKS is not a JSON object";
        return std::nullopt;
    }
    const json* keys = member(doc, "keys");
    if (!keys || !keys->is_array()) {
        error = "the JWKS has no keys array";
        return std::nullopt;
    }
    key_set out;
    constexpr std::size_t max_keys = 64;  // providers publish a handful; a hostile one, thousands
    for (const auto& k : *keys) {
        if (out.keys_.size() >= max_keys) {
            if (skipped)
                skipped->push_back("(more keys): only the first 64 usable keys are kept");
            break;
        }
        std::string why;
        auto parsed = parse_jwk(k, why);
        if (parsed && !parsed->kid.empty() && out.find(parsed->kid)) {
            parsed.reset();
            why = "a second key with the same kid";
        }
        if (parsed) {
            out.keys_.push_back(std::move(*parsed));
        } else if (skipped) {
            const json* kid = k.is_object() ? member(k, "kid") : nullptr;
            skipped->push_back((kid && kid->is_string() ? kid->get<std::string>() : "(no kid)") +
                               ": " + why);
        }
    }
    return out;
}

const jwk* key_set::find(std::string_view kid) const {
    for (const auto& k : keys_) {
        if (k.kid == kid)
            return &k;
    }
    return nullptr;
}

struct claims::doc {
    json j;
};

claims::claims(std::string_view payload_json) : doc_(std::make_unique<doc>()) {
    doc_->j = json::parse(payload_json, nullptr, false);
    if (doc_->j.is_discarded())
        doc_->j = json::object();
}

claims::~claims() = default;

namespace {

// A claim by dotted path (`realm_access.roles`); a top-level name that itself holds dots
// (`https://acme.example/roles`, as Auth0 namespaces them) is tried whole first.
const json* at_path(const json& root, std::string_view path) {
    if (auto whole = root.find(path); whole != root.end())
        return &*whole;
    const json* cur = &root;
    while (!path.empty()) {
        const auto dot = path.find('.');
        const auto name = path.substr(0, dot);
        if (!cur->is_object())
            return nullptr;
        auto it = cur->find(name);
        if (it == cur->end())
            return nullptr;
        cur = &*it;
        path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
    }
    return cur;
}

}  // namespace

std::vector<std::string> claims::strings(std::string_view path) const {
    std::vector<std::string> out;
    const json* v = at_path(doc_->j, path);
    if (!v)
        return out;
    if (v->is_string()) {
        out.push_back(v->get<std::string>());
    } else if (v->is_array()) {
        for (const auto& e : *v) {
            if (e.is_string())
                out.push_back(e.get<std::string>());
        }
    }
    return out;
}

std::optional<std::string> claims::string(std::string_view path) const {
    const json* v = at_path(doc_->j, path);
    if (!v || !v->is_string())
        return std::nullopt;
    return v->get<std::string>();
}

std::string_view describe(jwt_error e) {
    switch (e) {
        case jwt_error::none:
            return "valid";
        case jwt_error::malformed:
            return "the token is not a well-formed JWT";
        case jwt_error::algorithm:
            return "the token's signing algorithm is not accepted";
        case jwt_error::unknown_kid:
            return "the token is signed by a key the issuer does not publish";
        case jwt_error::signature:
            return "the token's signature does not verify";
        case jwt_error::expired:
            return "the token has expired";
        case jwt_error::not_yet_valid:
            return "the token is not valid yet";
        case jwt_error::issuer:
            return "the token is from another issuer";
        case jwt_error::audience:
            return "the token is not meant for this gateway (audience)";
    }
    return "invalid token";
}

jwt_error check_times(const verified_token& t, std::int64_t leeway, std::int64_t now) {
    // `now` and the leeway are small; `exp` and `nbf` are the issuer's and may be anything.
    if (now - leeway >= t.expires_at)
        return jwt_error::expired;
    if (t.not_before && now + leeway < *t.not_before)
        return jwt_error::not_yet_valid;
    return jwt_error::none;
}

verify_result verify(std::string_view token, const key_set& keys, const verify_options& o,
                     std::int64_t now) {
    verify_result r;
    const auto d1 = token.find('.');
    const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos ||
        d1 == 0 || d2 == d1 + 1 || d2 + 1 == token.size()) {
        r.error = jwt_error::malformed;
        return r;
    }
    auto header = decode_object(token.substr(0, d1));
    if (!header || header->contains("crit")) {  // no extension is understood (RFC 7515, 4.1.11)
        r.error = jwt_error::malformed;
        return r;
    }
    const json* alg = member(*header, "alg");
    if (!alg || !alg->is_string() ||
        std::find(o.algorithms.begin(), o.algorithms.end(), alg->get_ref<const std::string&>()) ==
            o.algorithms.end()) {
        r.error = jwt_error::algorithm;
        return r;
    }
    const auto& alg_name = alg->get_ref<const std::string&>();
    const jwk* key = nullptr;
    if (const json* kid = member(*header, "kid")) {
        if (!kid->is_string()) {
            r.error = jwt_error::malformed;
            return r;
        }
        r.kid = kid->get<std::string>();
        key = keys.find(r.kid);
    } else {
        // No kid: only an issuer with a single key of that algorithm is unambiguous.
        for (const auto& k : keys.keys()) {
            if (k.alg == alg_name) {
                if (key) {
                    key = nullptr;
                    break;
                }
                key = &k;
            }
        }
    }
    if (!key) {
        r.error = jwt_error::unknown_kid;
        return r;
    }
    if (key->alg != alg_name) {
        r.error = jwt_error::algorithm;
        return r;
    }
    auto sig = base64url_decode(token.substr(d2 + 1));
    if (!sig || !signature_ok(*key->key, token.substr(0, d2), *sig)) {
        r.error = jwt_error::signature;
        return r;
    }
    // Signed by the issuer's key: now its claims are worth reading.
    auto payload_text = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
    json payload = payload_text ? json::parse(*payload_text, nullptr, false) : json();
    if (!payload_text || payload.is_discarded() || !payload.is_object()) {
        r.error = jwt_error::malformed;
        return r;
    }
    const json* iss = member(payload, "iss");
    if (!iss || !iss->is_string() || iss->get_ref<const std::string&>() != o.issuer) {
        r.error = jwt_error::issuer;
        return r;
    }
    bool aud_ok = false;
    if (const json* aud = member(payload, "aud")) {
        auto accepted = [&](const json& a) {
            return a.is_string() && std::find(o.audiences.begin(), o.audiences.end(),
                                              a.get_ref<const std::string&>()) != o.audiences.end();
        };
        if (aud->is_array())
            aud_ok = std::any_of(aud->begin(), aud->end(), accepted);
        else
            aud_ok = accepted(*aud);
    }
    if (!aud_ok) {
        r.error = jwt_error::audience;
        return r;
    }
    bool bad = false;
    const auto exp = numeric_date(payload, "exp", bad);
    const auto nbf = numeric_date(payload, "nbf", bad);
    const auto iat = numeric_date(payload, "iat", bad);
    if (bad) {
        r.error = jwt_error::malformed;
        return r;
    }
    if (!exp) {  // a token that never expires is not accepted
        r.error = jwt_error::expired;
        return r;
    }
    auto t = std::make_shared<verified_token>();
    t->expires_at = *exp;
    t->not_before = nbf;
    if (iat && (!t->not_before || *iat > *t->not_before))
        t->not_before = iat;  // issued in the future: not valid until then
    if (auto e = check_times(*t, o.leeway_seconds, now); e != jwt_error::none) {
        r.error = e;
        return r;
    }
    if (const json* sub = member(payload, "sub"); sub && sub->is_string())
        t->subject = sub->get<std::string>();
    if (const json* email = member(payload, "email"); email && email->is_string())
        t->email = email->get<std::string>();
    t->kid = r.kid;
    t->all = std::make_shared<const claims>(*payload_text);
    r.token = std::move(t);
    return r;
}

}  // namespace ditto::access
