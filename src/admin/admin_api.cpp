#include "ditto/admin/admin_api.hpp"

#include "ditto/access/identity_provider.hpp"
#include "ditto/core/json_scan.hpp"
#include "ditto/core/json_writer.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/http/error_body.hpp"
#include "ditto/upstream/url.hpp"
#include "routes.hpp"

namespace ditto::admin {

namespace bhttp = boost::beast::http;
using http::status;

std::optional<std::string> call::param(const std::string& name) const {
    auto it = query.find(name);
    if (it == query.end())
        return std::nullopt;
    return it->second;
}

bool call::flag(const std::string& name) const {
    auto v = param(name);
    return v && (*v == "true" || *v == "1");
}

reply json_reply(const call& c, status st, std::string body) {
    return http::make_response(c.req, st, std::move(body));
}

reply error_reply(const call& c, unsigned st, std::string_view code, std::string_view message) {
    return http::make_response(c.req, static_cast<status>(st), http::admin_error(code, message));
}

reply failure_reply(const call& c, const admin_failure& f) {
    return error_reply(c, f.status, f.code, f.message);
}

std::optional<reply> mutation_error(const call& c, const control_plane::outcome& out,
                                    std::string_view applied) {
    if (out.failure)
        return failure_reply(c, *out.failure);
    if (out.audit_error) {
        return error_reply(
            c, 500, "storage_error",
            std::string(applied) + " but its audit record failed: " + *out.audit_error);
    }
    return std::nullopt;
}

bounded uint_param(const call& c, const std::string& name, std::uint64_t def, std::uint64_t min,
                   std::uint64_t max) {
    bounded b{def, std::nullopt};
    auto v = c.param(name);
    if (!v)
        return b;
    std::uint64_t n = 0;
    bool ok = !v->empty() && v->size() <= 19;
    for (char ch : *v) {
        if (ch < '0' || ch > '9') {
            ok = false;
            break;
        }
        n = n * 10 + static_cast<std::uint64_t>(ch - '0');
    }
    if (!ok || n < min || n > max) {
        b.error = error_reply(c, 400, "invalid_request",
                              name + " must be an integer in [" + std::to_string(min) + ", " +
                                  std::to_string(max) + "]");
        return b;
    }
    b.value = n;
    return b;
}

namespace {

std::map<std::string, std::string> parse_query(std::string_view target) {
    std::map<std::string, std::string> out;
    auto q = target.find('?');
    if (q == std::string_view::npos)
        return out;
    auto rest = target.substr(q + 1);
    while (!rest.empty()) {
        auto amp = rest.find('&');
        auto pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        if (pair.empty())
            continue;
        auto eq = pair.find('=');
        auto name = pair.substr(0, eq);
        auto value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        std::string v(value);
        for (auto& ch : v) {
            if (ch == '+')
                ch = ' ';
        }
        out.emplace(core::percent_decode(name), core::percent_decode(v));
    }
    return out;
}

enum class need : std::uint8_t { read, write };
enum class scope : std::uint8_t { any, global };

// docs/admin-api.md, "Tokens and mounting": no or unknown token → 401; a read token on a write
// route → 401; a tenant token on a route that is not tenant-scoped → 403.
std::optional<reply> permit(const call& c, need n, scope s) {
    if (n == need::write && !c.who.can_write())
        return error_reply(c, 401, "unauthorized", "invalid admin token");
    if (s == scope::global && c.who.tenant_scoped())
        return error_reply(c, 403, "forbidden", "tenant admin tokens cannot access this endpoint");
    return std::nullopt;
}

reply empty_404(const http::request& req) {
    return http::make_response(req, status::not_found, "", "");
}

reply not_allowed(const http::request& req, std::string_view allow) {
    auto res = http::make_response(req, status::method_not_allowed, "", "");
    res.msg.set(http::field::allow, allow);
    return res;
}

// The path after `prefix`, when it is one segment (no further slash).
std::optional<std::string> segment_after(std::string_view path, std::string_view prefix) {
    if (!path.starts_with(prefix) || path.size() == prefix.size())
        return std::nullopt;
    auto rest = path.substr(prefix.size());
    if (rest.find('/') != std::string_view::npos)
        return std::nullopt;
    return core::percent_decode(rest);
}

// `/admin/keys/{id}/rotate`: the key's id (a key named "rotate" is not this route).
std::optional<std::string> rotate_target(std::string_view path) {
    if (!path.ends_with("/rotate"))
        return std::nullopt;
    return segment_after(path.substr(0, path.size() - 7), "/admin/keys/");
}

}  // namespace

namespace {

// `GET /admin/whoami`: the token's role and tenant, and for an operator signed in through
// the identity provider, who (docs/admin-api.md, docs/access.md).
std::string whoami_json(const principal& who) {
    core::json_object_writer w;
    w.str("role", role_label(who.kind));
    w.boolean("can_write", who.can_write());
    if (who.tenant_scoped())
        w.str("tenant_id", who.tenant);
    else
        w.raw("tenant_id", "null");
    w.str("via", who.oidc ? "oidc" : "token");
    if (who.oidc) {
        w.str("subject", who.subject);
        w.str_or_null("email", who.email);
        w.str("operator_role", who.role_name);
    } else {
        w.raw("subject", "null").raw("email", "null");
    }
    return w.finish();
}

// The auditor reads the audit log and spend, nothing else (docs/access.md, "Roles").
bool auditor_may(std::string_view path) {
    return path == "/admin/whoami" || path == "/admin/audit" || path == "/admin/audit/export" ||
           path == "/admin/spend" || path == "/admin/budgets" ||
           path.starts_with("/admin/budgets/") || path == "/admin/costs" ||
           path.starts_with("/admin/costs/");
}

std::string bearer_of(const http::request& req) {
    if (auto a = req.find(http::field::authorization); a != req.end()) {
        const std::string_view v(a->value().data(), a->value().size());
        if (core::iequals_prefix(v, "bearer "))
            return std::string(core::trim(v.substr(7)));
    }
    return {};
}

std::string origin_of(const std::string& url) {
    auto u = upstream::parse_base_url(url);
    if (!u)
        return {};
    return (u->tls ? "https://" : "http://") + u->host_header;
}

}  // namespace

std::string admin_api::sso_token_origin() const {
    if (!p_.operators)
        return {};
    auto d = p_.operators->discovery();
    return d ? origin_of(d->token_endpoint) : std::string{};
}

// `GET /admin/sso`: what the console needs to sign in with authorization code + PKCE. Public:
// it names only the issuer's public endpoints and the console's public client id.
http::response admin_api::sso(const http::request& req) const {
    // Without a client id the console has nothing to sign in with: operators' JWTs still work
    // on the API, and the console offers its token form only.
    if (!p_.operators || !p_.operators_config || p_.operators_config->client_id.empty())
        return empty_404(req);
    auto d = p_.operators->discovery();
    if (!d) {
        return http::make_response(
            req, status::service_unavailable,
            http::admin_error("sso_unavailable",
                              "the identity provider's discovery document has not been fetched"));
    }
    core::json_object_writer w;
    w.str("issuer", d->issuer)
        .str("client_id", p_.operators_config->client_id)
        .str("authorization_endpoint", d->authorization_endpoint)
        .str("token_endpoint", d->token_endpoint);
    if (d->end_session_endpoint.empty())
        w.raw("end_session_endpoint", "null");
    else
        w.str("end_session_endpoint", d->end_session_endpoint);
    w.str("scopes", p_.operators_config->scopes);
    return http::make_response(req, status::ok, w.finish());
}

boost::asio::awaitable<std::optional<principal>> admin_api::authenticate(
    http::request& req, std::optional<http::response>& refusal) {
    if (auto who = p_.tokens.authenticate(req))
        co_return who;
    auto bearer = bearer_of(req);
    if (!p_.operators || !access::looks_like_jwt(bearer)) {
        refusal = http::make_response(req, status::unauthorized,
                                      http::admin_error("unauthorized", "invalid admin token"));
        co_return std::nullopt;
    }
    const auto out = co_await p_.operators->verify(std::move(bearer));
    if (out.error != access::jwt_error::none) {
        if (out.no_keys) {
            refusal = http::make_response(
                req, status::service_unavailable,
                http::admin_error("sso_unavailable",
                                  "the identity provider's signing keys could not be fetched"));
        } else {
            refusal = http::make_response(
                req, status::unauthorized,
                http::admin_error("unauthorized", "invalid admin token: " +
                                                      std::string(access::describe(out.error))));
        }
        co_return std::nullopt;
    }
    const auto& cfg = *p_.operators_config;
    std::string why;
    auto who = operator_principal(out.token->all->strings(cfg.roles_claim), cfg.roles,
                                  out.token->subject, out.token->email, why);
    if (!who) {
        refusal = http::make_response(req, status::forbidden, http::admin_error("forbidden", why));
        co_return std::nullopt;
    }
    co_return who;
}

boost::asio::awaitable<http::response> admin_api::handle(http::request& req,
                                                         http::body_reader& body,
                                                         std::string path) {
    if (!mounted())
        co_return empty_404(req);
    const auto m = req.method();
    const bool get = m == bhttp::verb::get;
    const bool post = m == bhttp::verb::post;
    const bool put = m == bhttp::verb::put;
    const bool del = m == bhttp::verb::delete_;

    if (path == "/admin/sso") {
        if (!get)
            co_return not_allowed(req, "GET");
        co_return sso(req);
    }
    std::optional<http::response> refusal;
    auto who = co_await authenticate(req, refusal);
    if (!who)
        co_return std::move(*refusal);
    if (who->kind == role::auditor && !auditor_may(path)) {
        co_return http::make_response(
            req, status::forbidden,
            http::admin_error("forbidden", "the auditor role reads only the audit log and spend"));
    }
    call c{req, *who, parse_query(req.target()), {}};
    if (post || put) {
        const auto ec = co_await body.read_all(c.body, p_.max_body_bytes);
        if (ec) {
            co_return error_reply(
                c, ec == bhttp::error::body_limit ? 413 : 400,
                ec == bhttp::error::body_limit ? "request_too_large" : "invalid_request",
                "cannot read the request body: " + ec.message());
        }
    }

    // ---- who the token is (the console shows what it may do; docs/admin-api.md) ----
    if (path == "/admin/whoami") {
        if (!get)
            co_return not_allowed(req, "GET");
        co_return json_reply(c, status::ok, whoami_json(*who));
    }

    // ---- keys (tenant-scoped) ----
    if (path == "/admin/keys") {
        // POST exists only when some token can write (docs/admin-api.md); GET shares the path.
        if (get) {
            co_return keys_list(p_, c);
        }
        if (post && write_capable()) {
            if (auto no = permit(c, need::write, scope::any))
                co_return std::move(*no);
            co_return co_await keys_upsert(p_, c, std::nullopt);
        }
        co_return not_allowed(req, write_capable() ? "GET, POST" : "GET");
    }
    const auto rotate_id = rotate_target(path);  // not declared in the `if`: GCC 12 and co_await
    if (rotate_id) {
        if (!write_capable())
            co_return empty_404(req);
        if (!post)
            co_return not_allowed(req, "POST");
        if (auto no = permit(c, need::write, scope::any))
            co_return std::move(*no);
        co_return co_await keys_rotate(p_, c, *rotate_id);
    }
    if (auto id = segment_after(path, "/admin/keys/")) {
        if (!write_capable())
            co_return not_allowed(req, "");
        if (!put && !del)
            co_return not_allowed(req, "PUT, DELETE");
        if (auto no = permit(c, need::write, scope::any))
            co_return std::move(*no);
        if (put)
            co_return co_await keys_upsert(p_, c, *id);
        co_return co_await keys_delete(p_, c, *id);
    }

    // ---- config (global tokens only; not mounted in a tenant-only setup) ----
    if (path.starts_with("/admin/config/")) {
        if (!global_capable())
            co_return empty_404(req);
        if (path == "/admin/config/router" || path == "/admin/config/rollback") {
            const bool router = path == "/admin/config/router";
            if ((router && !put) || (!router && !post))
                co_return not_allowed(req, router ? "PUT" : "POST");
            if (auto no = permit(c, need::write, scope::global))
                co_return std::move(*no);
            if (router)
                co_return co_await config_router(p_, c);
            co_return co_await config_rollback(p_, c);
        }
        // docs/routing.md, "Canary".
        if (path == "/admin/config/canary" || path == "/admin/config/canary/promote" ||
            path == "/admin/config/canary/rollback") {
            const bool base = path == "/admin/config/canary";
            const bool promote = path.ends_with("/promote");
            if (base && !get && !put && !del)
                co_return not_allowed(req, "GET, PUT, DELETE");
            if (!base && !post)
                co_return not_allowed(req, "POST");
            if (auto no = permit(c, get ? need::read : need::write, scope::global))
                co_return std::move(*no);
            if (get)
                co_return canary_get(p_, c);
            if (put)
                co_return co_await canary_start(p_, c);
            co_return co_await canary_end(p_, c, promote);
        }
        if (path == "/admin/config/reload") {
            if (!post)
                co_return not_allowed(req, "POST");
            if (auto no = permit(c, need::write, scope::global))
                co_return std::move(*no);
            if (!p_.reload)
                co_return error_reply(c, 400, "not_configured", "reload not available");
            auto text = co_await p_.reload(c.who.actor_json());
            const bool failed = text.find(R"("error":)") != std::string::npos;
            co_return json_reply(c, failed ? status::bad_request : status::ok, std::move(text));
        }
        if (path == "/admin/config/validate") {
            if (!post)
                co_return not_allowed(req, "POST");
            if (auto no = permit(c, need::read, scope::global))
                co_return std::move(*no);
            co_return config_validate(p_, c);
        }
        if (!get)
            co_return not_allowed(req, "GET");
        if (auto no = permit(c, need::read, scope::global))
            co_return std::move(*no);
        if (path == "/admin/config/version")
            co_return config_current(p_, c);
        if (path == "/admin/config/versions")
            co_return config_versions(p_, c);
        if (path == "/admin/config/export")
            co_return config_export(p_, c);
        if (path == "/admin/config/diff")
            co_return config_diff(p_, c);
        if (auto id = segment_after(path, "/admin/config/versions/"))
            co_return config_version_by_id(p_, c, *id);
        co_return error_reply(c, 404, "not_found", "no such admin endpoint");
    }

    // ---- cache ----
    if (path == "/admin/proxy_cache/purge") {
        if (!p_.cache)
            co_return empty_404(req);
        if (!post)
            co_return not_allowed(req, "POST");
        if (auto no = permit(c, need::write, scope::global))
            co_return std::move(*no);
        co_return co_await cache_purge(p_, c);
    }

    // ---- backends: the routing issue fills these in ----
    if (path == "/admin/backends" ||
        (path.starts_with("/admin/backends/") && path.ends_with("/reset"))) {
        const bool list = path == "/admin/backends";
        if ((list && !get) || (!list && !post))
            co_return not_allowed(req, list ? "GET" : "POST");
        if (auto no = permit(c, list ? need::read : need::write, scope::global))
            co_return std::move(*no);
        if (!p_.backends)
            co_return error_reply(c, 400, "not_configured", "proxy routing not enabled");
        if (list)
            co_return json_reply(c, status::ok, p_.backends());
        const auto name = core::percent_decode(
            path.substr(16, path.size() - 16 - std::string_view("/reset").size()));
        auto fresh = p_.reset_backend(name);
        if (p_.store.audit) {
            co_await p_.store.audit->append(
                "admin.backend.reset",
                with_actor(R"({"backend":)" + core::json_quote(name) + "}", c.who.actor_json()));
        }
        co_return json_reply(c, status::ok, std::move(fresh));
    }

    // ---- audit, ledgers, reservations ----
    if (path == "/admin/audit" || path == "/admin/audit/export") {
        if (!get)
            co_return not_allowed(req, "GET");
        if (path == "/admin/audit")
            co_return co_await audit_list(p_, c);
        co_return co_await audit_export(p_, c);
    }
    // (A counted loop: GCC 12 mishandles a braced list's array in a coroutine frame.)
    for (int i = 0; i < 2; ++i) {
        const bool costs = i == 1;
        const std::string base = costs ? "/admin/costs" : "/admin/budgets";
        if (path == base || path.starts_with(base + "/")) {
            if (!get)
                co_return not_allowed(req, "GET");
            const std::string view = path == base ? "" : path.substr(base.size() + 1);
            if (!view.empty() && view != "tenants" && view != "projects" && view != "users")
                co_return error_reply(c, 404, "not_found", "no such admin endpoint");
            co_return co_await ledgers(p_, c, costs, view);
        }
    }
    if (path == "/admin/spend") {
        if (!get)
            co_return not_allowed(req, "GET");
        co_return co_await spend_report(p_, c);
    }
    if (path == "/admin/reservations/reap") {
        if (!post)
            co_return not_allowed(req, "POST");
        if (auto no = permit(c, need::write, scope::global))
            co_return std::move(*no);
        co_return co_await reap(p_, c);
    }
    co_return error_reply(c, 404, "not_found", "no such admin endpoint");
}

}  // namespace ditto::admin
