#pragma once

// The Admin API (docs/admin-api.md): `/admin/*`, mounted only when some admin token
// is configured (otherwise every admin path is an empty 404).

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>

#include "ditto/admin/admin_tokens.hpp"
#include "ditto/admin/control_plane.hpp"
#include "ditto/http/message.hpp"
#include "ditto/store/store.hpp"

namespace ditto::cache {
class response_cache;
}  // namespace ditto::cache

namespace ditto::access {
class identity_provider;
}  // namespace ditto::access

namespace ditto::admin {

struct parts {
    admin_tokens tokens;
    /// access.operators (docs/access.md): operators' JWTs, and GET /admin/sso; null without.
    std::shared_ptr<access::identity_provider> operators;
    std::optional<config::operator_access_config> operators_config;
    std::shared_ptr<control_plane> control;
    std::shared_ptr<cache::response_cache> cache;  ///< null without --proxy-cache
    store::store_set store;
    /// `GET /admin/backends` (a JSON array) and `POST /admin/backends/{name}/reset` (the fresh
    /// state); null without a routing config (400 not_configured).
    std::function<std::string()> backends;
    std::function<std::string(const std::string&)> reset_backend;
    /// `POST /admin/config/reload`: re-reads gateway.json (the same as SIGHUP); its result JSON.
    /// Takes the caller's principal::actor_json() for the audit record.
    std::function<boost::asio::awaitable<std::string>(std::string)> reload;
    /// The largest admin request body.
    std::uint64_t max_body_bytes = 8 * 1024 * 1024;
};

class admin_api {
  public:
    explicit admin_api(parts p) : p_(std::move(p)) {}
    bool mounted() const { return p_.tokens.any() || p_.operators != nullptr; }
    /// The origin of the identity provider's token endpoint, which the console's CSP must let
    /// it POST to (docs/access.md); empty without SSO or before discovery.
    std::string sso_token_origin() const;
    /// `path` has no query; `req.target()` still has it.
    boost::asio::awaitable<http::response> handle(http::request& req, http::body_reader& body,
                                                  std::string path);

  private:
    /// The static token, else an operator's JWT; or the refusal to send.
    boost::asio::awaitable<std::optional<principal>> authenticate(
        http::request& req, std::optional<http::response>& refusal);
    http::response sso(const http::request& req) const;
    bool write_capable() const { return p_.tokens.any_write_capable() || p_.operators; }
    bool global_capable() const { return p_.tokens.any_global() || p_.operators; }

    parts p_;
};

}  // namespace ditto::admin
