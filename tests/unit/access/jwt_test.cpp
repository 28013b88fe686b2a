// docs/access.md, "How a token is checked": JWKS parsing and every refusal, against keys and
// tokens the test makes with OpenSSL (tests/support/jwt_signer.*).

#include "ditto/access/jwt.hpp"

#include <gtest/gtest.h>

#include <string>

#include "support/jwt_signer.hpp"

namespace ditto::access {
namespace {

using test::signing_key;

const std::string issuer = "https://idp.example.test/realms/acme";

std::string jwks(std::initializer_list<const signing_key*> keys) {
    std::string out = R"({"keys":[)";
    bool first = true;
    for (const auto* k : keys) {
        out += (first ? "" : ",") + k->jwk();
        first = false;
    }
    return out + "]}";
}

key_set parse_ok(const std::string& text) {
    std::string error;
    auto set = key_set::parse(text, error);
    EXPECT_TRUE(set) << error;
    return set ? std::move(*set) : key_set{};
}

std::string claims(long long exp_in = 300, const std::string& extra = "",
                   const std::string& aud = R"("ditto-gateway")") {
    const auto now = test::unix_now();
    return R"({"iss":")" + issuer + R"(","aud":)" + aud +
           R"(,"sub":"u-1","email":"ana@example.test","iat":)" + std::to_string(now) +
           R"(,"exp":)" + std::to_string(now + exp_in) + extra + "}";
}

verify_options opts() {
    verify_options o;
    o.issuer = issuer;
    o.audiences = {"ditto-gateway"};
    return o;
}

TEST(Jwt, EachAlgorithmVerifiesWithItsKey) {
    for (const char* alg : {"RS256", "ES256", "EdDSA"}) {
        signing_key k(alg, std::string("k-") + alg);
        const auto set = parse_ok(jwks({&k}));
        ASSERT_EQ(set.keys().size(), 1U) << alg;
        const auto r = verify(k.token(claims()), set, opts(), test::unix_now());
        ASSERT_EQ(r.error, jwt_error::none) << alg << ": " << describe(r.error);
        EXPECT_EQ(r.token->subject, "u-1");
        EXPECT_EQ(r.token->email.value_or(""), "ana@example.test");
        EXPECT_EQ(r.token->all->strings("sub"), std::vector<std::string>{"u-1"});
    }
}

TEST(Jwt, EveryRefusalHasItsReason) {
    signing_key rsa("RS256", "r1");
    signing_key ec("ES256", "e1");
    const auto set = parse_ok(jwks({&rsa, &ec}));
    const auto now = test::unix_now();
    auto check = [&](const std::string& token, jwt_error want, const char* what) {
        EXPECT_EQ(verify(token, set, opts(), now).error, want) << what;
    };
    check(rsa.token(claims(-120)), jwt_error::expired, "expired beyond the leeway");
    check(rsa.token(claims(-30)), jwt_error::none, "expired within the 60 s leeway");
    check(rsa.token(claims(300, R"(,"nbf":)" + std::to_string(now + 600))),
          jwt_error::not_yet_valid, "nbf in the future");
    {
        auto c = claims();
        const auto at = c.find("\"iat\":") + 6;
        c.replace(at, c.find(',', at) - at, std::to_string(now + 900));
        check(rsa.token(c), jwt_error::not_yet_valid, "issued in the future");
    }
    check(rsa.token(claims(300, "", R"("someone-else")")), jwt_error::audience, "wrong audience");
    check(rsa.token(claims(300, "", R"(["a","ditto-gateway"])")), jwt_error::none,
          "audience in an array");
    check(rsa.token(claims(300, "", R"([])")), jwt_error::audience, "empty audience array");
    {
        auto c = claims();
        c.replace(c.find(issuer), issuer.size(), issuer + "/");
        check(rsa.token(c), jwt_error::issuer, "another issuer (a trailing slash)");
    }
    {
        const auto now_s = std::to_string(now);
        check(rsa.token(R"({"iss":")" + issuer + R"(","aud":"ditto-gateway","iat":)" + now_s + "}"),
              jwt_error::expired, "no exp: never accepted");
        check(rsa.token(R"({"iss":")" + issuer + R"(","aud":"ditto-gateway","exp":"soon"})"),
              jwt_error::malformed, "exp not a number");
    }
    signing_key stranger("RS256", "r9");
    check(stranger.token(claims()), jwt_error::unknown_kid, "a kid the set does not hold");
    check(stranger.sign(R"({"alg":"RS256","kid":"r1"})", claims()), jwt_error::signature,
          "another key's signature under a held kid");
    check(ec.sign(R"({"alg":"RS256","kid":"e1"})", claims()), jwt_error::algorithm,
          "RS256 named for an EC key");
    check(rsa.sign(R"({"alg":"none","kid":"r1"})", claims()), jwt_error::algorithm, "alg none");
    check(rsa.sign(R"({"alg":"HS256","kid":"r1"})", claims()), jwt_error::algorithm, "HMAC");
    check(rsa.sign(R"({"alg":"RS256","kid":"r1","crit":["exp"]})", claims()), jwt_error::malformed,
          "a crit header");
    // Tampering: the payload swapped under a valid signature.
    {
        auto good = rsa.token(claims());
        auto other = rsa.token(claims(300, R"(,"groups":["admin"])"));
        const auto d1 = good.find('.'), d2 = good.rfind('.');
        const auto o1 = other.find('.'), o2 = other.rfind('.');
        check(good.substr(0, d1) + other.substr(o1, o2 - o1) + good.substr(d2),
              jwt_error::signature, "payload swapped");
    }
    check("abc", jwt_error::malformed, "not three parts");
    check("a.b.c.d", jwt_error::malformed, "four parts");
    check(rsa.token(claims()) + "!", jwt_error::signature, "a stray character in the signature");
    // Only the set's own algorithms: ES256 refused when the options allow RS256 alone.
    auto rs_only = opts();
    rs_only.algorithms = {"RS256"};
    EXPECT_EQ(verify(ec.token(claims()), set, rs_only, now).error, jwt_error::algorithm);
}

TEST(Jwt, NoKidOnlyWithOneKeyOfTheAlgorithm) {
    signing_key a("ES256", "a"), b("ES256", "b");
    const auto one = parse_ok(jwks({&a}));
    const auto two = parse_ok(jwks({&a, &b}));
    const auto tok = a.sign(R"({"alg":"ES256"})", claims());
    EXPECT_EQ(verify(tok, one, opts(), test::unix_now()).error, jwt_error::none);
    EXPECT_EQ(verify(tok, two, opts(), test::unix_now()).error, jwt_error::unknown_kid);
}

TEST(Jwt, WeakAndForeignKeysAreSkippedWithAReason) {
    signing_key weak("RS256", "weak", 1024);
    signing_key ok("EdDSA", "ok");
    std::string error;
    std::vector<std::string> skipped;
    const std::string text =
        R"({"keys":[)" + weak.jwk() + "," + ok.jwk() +
        R"(,{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},)"
        R"({"kty":"EC","crv":"P-256","kid":"off","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"},)" +
        [&] {
            auto j = ok.jwk();
            j.replace(j.find(R"("use":"sig")"), 11, R"("use":"enc")");
            j.replace(j.find(R"("kid":"ok")"), 10, R"("kid":"enc")");
            return j;
        }() +
        "," + ok.jwk() + "]}";
    auto set = key_set::parse(text, error, &skipped);
    ASSERT_TRUE(set) << error;
    ASSERT_EQ(set->keys().size(), 1U);
    EXPECT_EQ(set->keys()[0].kid, "ok");
    ASSERT_EQ(skipped.size(), 5U);
    EXPECT_NE(skipped[0].find("2048"), std::string::npos) << skipped[0];
    EXPECT_NE(skipped[1].find("oct"), std::string::npos) << skipped[1];
    EXPECT_NE(skipped[2].find("curve"), std::string::npos) << skipped[2];
    EXPECT_NE(skipped[3].find("use"), std::string::npos) << skipped[3];
    EXPECT_NE(skipped[4].find("same kid"), std::string::npos) << skipped[4];
    EXPECT_FALSE(key_set::parse(R"({"nokeys":[]})", error));
    EXPECT_FALSE(key_set::parse("not json", error));
}

TEST(Jwt, ClaimsByDottedPath) {
    signing_key k("RS256", "k");
    const auto set = parse_ok(jwks({&k}));
    const auto r = verify(
        k.token(claims(300, R"(,"realm_access":{"roles":["viewer",7,"auditor"]},"groups":"one",)"
                            R"("https://acme.example/roles":["admin"])")),
        set, opts(), test::unix_now());
    ASSERT_EQ(r.error, jwt_error::none);
    EXPECT_EQ(r.token->all->strings("realm_access.roles"),
              (std::vector<std::string>{"viewer", "auditor"}));
    EXPECT_EQ(r.token->all->strings("groups"), std::vector<std::string>{"one"});
    EXPECT_TRUE(r.token->all->strings("realm_access.nothing").empty());
    EXPECT_FALSE(r.token->all->string("realm_access"));
    // A namespaced claim whose name holds dots (Auth0's style) is found whole.
    EXPECT_EQ(r.token->all->strings("https://acme.example/roles"),
              std::vector<std::string>{"admin"});
}

TEST(Jwt, TimesAreJudgedAgainForARememberedToken) {
    signing_key k("ES256", "k");
    const auto set = parse_ok(jwks({&k}));
    const auto now = test::unix_now();
    const auto r = verify(k.token(claims(10)), set, opts(), now);
    ASSERT_EQ(r.error, jwt_error::none);
    EXPECT_EQ(check_times(*r.token, 0, now), jwt_error::none);
    EXPECT_EQ(check_times(*r.token, 0, now + 10), jwt_error::expired);
    EXPECT_EQ(check_times(*r.token, 60, now + 69), jwt_error::none);
}

TEST(Jwt, Base64UrlRoundTripAndShape) {
    for (const std::string& s :
         std::vector<std::string>{"", "f", "fo", "foo", "foob", std::string("\xff\x00\xfe", 3)}) {
        EXPECT_EQ(base64url_decode(base64url_encode(s)).value_or("?"), s);
        EXPECT_EQ(base64url_encode(s), test::b64url(s));
    }
    EXPECT_FALSE(base64url_decode("ab+c"));
    EXPECT_FALSE(base64url_decode("abc="));
    EXPECT_FALSE(base64url_decode("a"));
    EXPECT_TRUE(looks_like_jwt("eyJhbGciOiJub25lIn0.eyJ9.c2ln"));
    EXPECT_FALSE(looks_like_jwt("sk-ditto-0123456789abcdef"));
    EXPECT_FALSE(looks_like_jwt("a.b.c.d"));
}

TEST(Jwt, AHostileJwksCannotCostSecondsOrMemory) {
    // A modulus over 8192 bits is refused before OpenSSL checks it (that check takes seconds).
    const std::string huge = test::b64url(std::string(1025, '\xff'));
    std::string error;
    std::vector<std::string> skipped;
    auto set =
        key_set::parse(R"({"keys":[{"kty":"RSA","kid":"big","n":")" + huge + R"(","e":"AQAB"}]})",
                       error, &skipped);
    ASSERT_TRUE(set) << error;
    EXPECT_TRUE(set->empty());
    ASSERT_EQ(skipped.size(), 1U);
    EXPECT_NE(skipped[0].find("8192"), std::string::npos) << skipped[0];
    // At most 64 keys are kept; the rest are named as skipped.
    signing_key k("EdDSA", "x");
    std::string many = R"({"keys":[)";
    for (int i = 0; i < 70; ++i) {
        auto j = k.jwk();
        j.replace(j.find(R"("kid":"x")"), 9, R"("kid":"k)" + std::to_string(i) + R"(")");
        many += (i ? "," : "") + j;
    }
    skipped.clear();
    set = key_set::parse(many + "]}", error, &skipped);
    ASSERT_TRUE(set) << error;
    EXPECT_EQ(set->keys().size(), 64U);
    ASSERT_EQ(skipped.size(), 1U);
    EXPECT_NE(skipped[0].find("64"), std::string::npos) << skipped[0];
}

}  // namespace
}  // namespace ditto::access
