// Microbenchmark: what a client's JWT costs the gateway (docs/access.md, "Cost"): a full check
// (parse, signature, claims) per algorithm, which a worker pays once per token, and the lookup
// of a token it has verified before, which every later request of that token pays (the same
// map and time check identity_provider::verify_now does on a hit).
// Build and run: bench/micro/run.sh
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>

#include "ditto/access/jwt.hpp"
#include "support/jwt_signer.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

template <class F>
double ns_per(int n, F&& f) {
    const auto t0 = clock_type::now();
    for (int i = 0; i < n; ++i)
        f(i);
    return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() / n;
}

}  // namespace

int main() {
    using namespace ditto;
    const std::string iss = "https://idp.example.test/realms/acme";
    access::verify_options o;
    o.issuer = iss;
    o.audiences = {"ditto-clients"};
    const auto now = test::unix_now();
    const std::string claims =
        R"({"iss":")" + iss +
        R"(","aud":"ditto-clients","sub":"3f1c2a9e-7b1d-4c55-9a0e-2b8f6d1e4c77",)"
        R"("email":"ana@example.test","groups":["team-a","engineering"],"iat":)" +
        std::to_string(now) + R"(,"exp":)" + std::to_string(now + 3600) +
        R"(,"azp":"cli","scope":"openid email profile","jti":"b7a1e0c4-58f2-4f7c-9c8e-1d2e3f405162"})";
    for (const char* alg : {"RS256", "ES256", "EdDSA"}) {
        test::signing_key k(alg, std::string("k-") + alg);
        std::string error;
        auto set = access::key_set::parse(R"({"keys":[)" + k.jwk() + "]}", error);
        const auto token = k.token(claims);
        int bad = 0;
        const int n = 4000;
        const double full = ns_per(n, [&](int) {
            bad += access::verify(token, *set, o, now).error != access::jwt_error::none;
        });
        // A hit: the token string hashed and compared in a map of a worker's 4096 tokens,
        // then its exp and nbf judged again.
        std::unordered_map<std::string, std::shared_ptr<const access::verified_token>> seen;
        const auto v = access::verify(token, *set, o, now).token;
        for (int i = 0; i < 4095; ++i)
            seen.emplace(token + std::to_string(i), v);
        seen.emplace(token, v);
        const int m = 2'000'000;
        const double hit = ns_per(m, [&](int) {
            auto it = seen.find(token);
            bad += access::check_times(*it->second, 60, now) != access::jwt_error::none;
        });
        std::printf(
            "jwt %-5s token %4zu B: full check %7.2f us (once per token and worker), "
            "remembered %6.3f us%s\n",
            alg, token.size(), full / 1000, hit / 1000, bad ? "  (FAILED CHECKS)" : "");
    }
    return 0;
}
