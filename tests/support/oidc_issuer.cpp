#include "support/oidc_issuer.hpp"

#include <algorithm>

namespace ditto::test {

oidc_issuer::oidc_issuer() {
    auto server = std::make_unique<raw_server>([this](int fd) { serve(fd); });
    port_ = server->port();
    server_ = std::move(server);
}

std::string oidc_issuer::url() const {
    return "http://127.0.0.1:" + std::to_string(port_.load());
}

const signing_key& oidc_issuer::add_key(const std::string& alg, const std::string& kid,
                                        bool publish_it) {
    auto k = std::make_unique<signing_key>(alg, kid);
    std::lock_guard lock(mu_);
    auto& slot = keys_[kid];
    slot = std::move(k);
    if (publish_it && std::find(published_.begin(), published_.end(), kid) == published_.end())
        published_.push_back(kid);
    return *slot;
}

void oidc_issuer::publish(const std::string& kid, bool on) {
    std::lock_guard lock(mu_);
    published_.erase(std::remove(published_.begin(), published_.end(), kid), published_.end());
    if (on)
        published_.push_back(kid);
}

std::string oidc_issuer::last_jwks_target() const {
    std::lock_guard lock(mu_);
    return last_jwks_target_;
}

std::string oidc_issuer::jwks() const {
    std::lock_guard lock(mu_);
    std::string out = R"({"keys":[)";
    for (std::size_t i = 0; i < published_.size(); ++i)
        out += (i ? "," : "") + keys_.at(published_[i])->jwk();
    return out + "]}";
}

std::string oidc_issuer::token(const std::string& kid, const std::string& extra, long long ttl,
                               const std::string& aud) const {
    return token_for(url(), kid, extra, ttl, aud);
}

std::string oidc_issuer::token_for(const std::string& iss, const std::string& kid,
                                   const std::string& extra, long long ttl,
                                   const std::string& aud) const {
    const auto now = unix_now();
    const std::string claims = R"({"iss":")" + iss + R"(","aud":")" + aud + R"(","iat":)" +
                               std::to_string(now) + R"(,"exp":)" + std::to_string(now + ttl) +
                               (extra.empty() ? "" : "," + extra) + "}";
    std::lock_guard lock(mu_);
    return keys_.at(kid)->token(claims);
}

void oidc_issuer::serve(int fd) {
    std::string buf;
    while (true) {
        auto head = read_request(fd, buf, std::chrono::seconds(30));
        if (!head)
            return;
        if (down_) {
            reset_on_close(fd);
            return;
        }
        const auto sp1 = head->find(' ');
        const auto sp2 = head->find(' ', sp1 + 1);
        const auto target = head->substr(sp1 + 1, sp2 - sp1 - 1);
        const auto path = target.substr(0, target.find('?'));
        if (path == "/jwks") {
            std::lock_guard lock(mu_);
            last_jwks_target_ = target;
        }
        std::string body;
        int status = 200;
        if (path == "/.well-known/openid-configuration") {
            const auto u = url();
            body = R"({"issuer":")" + u + R"(","jwks_uri":")" + u + R"(/jwks",)" +
                   R"("authorization_endpoint":")" + u + R"(/authorize","token_endpoint":")" + u +
                   R"(/token"})";
        } else if (path == "/jwks") {
            ++jwks_fetches_;
            body = jwks();
        } else {
            status = 404;
            body = R"({"error":"not found"})";
        }
        const std::string res =
            "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Not Found") +
            "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n\r\n" + body;
        if (!send_all(fd, res))
            return;
    }
}

}  // namespace ditto::test
