#include "app_handler.hpp"

#include <array>

#include "console.hpp"
#include "ditto/core/json_scan.hpp"
#include "ditto/dialect/dialect.hpp"
#include "ditto/http/error_body.hpp"
#include "ditto/middleware/chain.hpp"
#include "ditto/upstream/url.hpp"

namespace ditto::app {
namespace {

using http::status;
namespace bhttp = boost::beast::http;

std::string_view path_of(std::string_view target) {
    auto q = target.find('?');
    return q == std::string_view::npos ? target : target.substr(0, q);
}

// The 404 for a path the gateway does not serve, in every dialect.
constexpr std::string_view unsupported_message = "this endpoint is not supported by ditto-gateway";

bool is_admin_path(std::string_view path) {
    return path == "/admin" || path.starts_with("/admin/");
}

// `{"status":"ready"|"not_ready","checks":[{name,status,detail?}]}`; 503 when one fails.
http::response readiness_response(
    const http::request& req,
    const std::vector<std::pair<std::string, std::optional<std::string>>>& checks) {
    if (checks.empty())
        return http::make_response(req, status::ok, R"({"status":"ready"})");
    bool ok = true;
    std::string list = "[";
    for (const auto& [name, problem] : checks) {
        if (list.size() > 1)
            list += ',';
        list += R"({"name":)" + core::json_quote(name) + R"(,"status":)" +
                (problem ? R"("error","detail":)" + core::json_quote(*problem) : R"("ok")") + "}";
        ok = ok && !problem;
    }
    return http::make_response(req, ok ? status::ok : status::service_unavailable,
                               std::string(R"({"status":)") +
                                   (ok ? R"("ready")" : R"("not_ready")") + R"(,"checks":)" + list +
                                   "]}");
}

// Gemini clients may put their key in the query (`?key=`): it becomes the x-goog-api-key
// the auth step reads (a header present wins), and leaves the query, so it is neither
// logged nor sent upstream.
void take_query_key(http::request& req, std::string& query) {
    std::string kept;
    std::string key;
    std::size_t begin = 0;
    while (begin <= query.size()) {
        auto end = query.find('&', begin);
        if (end == std::string::npos)
            end = query.size();
        const std::string_view param(query.data() + begin, end - begin);
        if (param.starts_with("key=")) {
            if (key.empty())
                key = upstream::url_decode(param.substr(4));
        } else if (!param.empty()) {
            if (!kept.empty())
                kept += '&';
            kept += param;
        }
        begin = end + 1;
    }
    query = std::move(kept);
    if (!key.empty() && req.find("x-goog-api-key") == req.end())
        req.set("x-goog-api-key", key);
}

http::response method_not_allowed(const http::request& req, std::string_view allow) {
    auto res = http::make_response(req, status::method_not_allowed, "", "");
    res.msg.set(http::field::allow, allow);
    return res;
}

}  // namespace

std::string normalize_proxy_path(std::string_view path) {
    if (path == "/v1" || path.starts_with("/v1/"))
        return std::string(path);
    static constexpr std::string_view exact[] = {"/chat/completions",
                                                 "/completions",
                                                 "/embeddings",
                                                 "/moderations",
                                                 "/images/generations",
                                                 "/audio/transcriptions",
                                                 "/audio/translations",
                                                 "/audio/speech",
                                                 "/files",
                                                 "/rerank",
                                                 "/batches",
                                                 "/responses"};
    static constexpr std::string_view with_children[] = {"/files/", "/batches/", "/models/",
                                                         "/responses/"};
    for (auto e : exact) {
        if (path == e)
            return "/v1" + std::string(path);
    }
    for (auto p : with_children) {
        if (path.starts_with(p))
            return "/v1" + std::string(path);
    }
    return {};
}

// Exact paths: the order carries no meaning (`/metrics` and `/metrics/prometheus` are two
// rows), and the method check is in one place. Prefixes and patterns (`/admin/*`, the proxied
// paths, the dialect front doors) follow in handle().
const app_handler::exact_route* app_handler::find_exact(std::string_view path) {
    static constexpr std::array<exact_route, 6> routes{{
        {"/health", "GET, HEAD", true, &app_handler::health},
        {"/ready", "GET, HEAD", true, &app_handler::ready},
        {"/metrics", "GET, HEAD", true, &app_handler::metrics},
        {"/metrics/prometheus", "GET, HEAD", true, &app_handler::prometheus},
        // Not proxied: the models aggregator, under both names (docs/proxy.md, "Paths").
        {"/v1/models", "GET", false, &app_handler::models},
        {"/models", "GET", false, &app_handler::models},
    }};
    for (const auto& r : routes) {
        if (r.path == path)
            return &r;
    }
    return nullptr;
}

boost::asio::awaitable<http::response> app_handler::health(http::request& req, http::body_reader&,
                                                           const http::request_info&) {
    co_return http::make_response(req, status::ok, R"({"status":"ok"})");
}

boost::asio::awaitable<http::response> app_handler::ready(http::request& req, http::body_reader&,
                                                          const http::request_info& info) {
    if (info.draining) {
        co_return http::make_response(
            req, status::service_unavailable,
            R"({"status":"not_ready","checks":[{"name":"server","status":"error","detail":"draining"}]})");
    }
    // `/ready` (docs/http-server.md): `store.redis` (a PING under the command deadline), then
    // `backend.<name>` for each backend once health checks are on.
    std::vector<std::pair<std::string, std::optional<std::string>>> checks;
    if (p_.store_health) {
        auto problem = co_await p_.store_health();
        checks.emplace_back("store.redis", std::move(problem));
    }
    if (p_.backend_health) {
        for (auto& [name, problem] : p_.backend_health->readiness())
            checks.emplace_back("backend." + name, std::move(problem));
    }
    co_return readiness_response(req, checks);
}

boost::asio::awaitable<http::response> app_handler::prometheus(http::request& req,
                                                               http::body_reader&,
                                                               const http::request_info&) {
    if (!p_.prometheus_text) {
        co_return http::make_response(
            req, status::not_found,
            http::admin_error("not_configured", "prometheus metrics not enabled"));
    }
    co_return http::make_response(req, status::ok, p_.prometheus_text(),
                                  "text/plain; version=0.0.4; charset=utf-8");
}

boost::asio::awaitable<http::response> app_handler::metrics(http::request& req, http::body_reader&,
                                                            const http::request_info&) {
    co_return http::make_response(req, status::ok, p_.counters->to_json());
}

boost::asio::awaitable<http::response> app_handler::models(http::request& req,
                                                           http::body_reader& body,
                                                           const http::request_info& info) {
    middleware::proxy_context ctx{req, body, info};
    ctx.path = "/v1/models";
    co_return co_await p_.models_chain->run(ctx);
}

boost::asio::awaitable<http::response> app_handler::handle(http::request& req,
                                                           http::body_reader& body,
                                                           const http::request_info& info) {
    const auto target = req.target();
    const auto raw_path = path_of(target);
    // Dot segments are resolved before anything routes by the path, and a path that climbs
    // out of its root is refused (docs/security.md): `/v1/../x` would otherwise go upstream,
    // with the backend's credential, for an upstream that resolves it to serve `/x`.
    const auto resolved = upstream::resolve_dot_segments(raw_path);
    if (!resolved) {
        constexpr std::string_view msg =
            "request path climbs above its root with dot segments (.., %2e%2e, %2f)";
        constexpr auto e = http::gateway_error::invalid_path;
        co_return http::make_response(req, http::status_of(e),
                                      is_admin_path(raw_path)
                                          ? http::admin_error(http::describe(e).code, msg)
                                          : http::openai_error(e, msg));
    }
    const std::string_view path = *resolved;
    if (const auto* route = find_exact(path)) {
        if (req.method() != bhttp::verb::get && !(route->head && req.method() == bhttp::verb::head))
            co_return method_not_allowed(req, route->allow);
        co_return co_await (this->*route->serve)(req, body, info);
    }
    if (is_console_path(path)) {
        // The console exists where the Admin API does, and nowhere else (docs/console.md).
        if (!p_.admin || !p_.admin->mounted())
            co_return http::make_response(req, status::not_found, "", "");
        if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head)
            co_return method_not_allowed(req, "GET, HEAD");
        co_return serve_console(req, path, p_.admin->sso_token_origin());
    }
    if (is_admin_path(path)) {
        if (!p_.admin)
            co_return http::make_response(req, status::not_found, "", "");
        co_return co_await p_.admin->handle(req, body, std::string(path));
    }
    // Not proxied: out-of-scope endpoints (docs/proxy.md, "Paths").
    if (path == "/v1/gateway" || path.starts_with("/v1/a2a/")) {
        co_return middleware::api_error(req, http::gateway_error::unsupported_endpoint,
                                        unsupported_message);
    }
    auto proxied = normalize_proxy_path(path);
    // docs/dialects.md: the Responses, Anthropic and Gemini front doors.
    if (auto door = dialect::match_front_door(proxied.empty() ? path : std::string_view(proxied))) {
        if (!door->served) {
            constexpr auto e = http::gateway_error::unsupported_endpoint;
            co_return http::make_response(
                req, http::status_of(e),
                dialect::error_from_openai(door->dialect, http::describe(e).status,
                                           http::openai_error(e, unsupported_message)));
        }
        if (req.method() == bhttp::verb::post) {
            middleware::proxy_context ctx{req, body, info};
            ctx.path = proxied.empty() ? std::string(path) : std::move(proxied);
            if (target.size() > raw_path.size())
                ctx.query = std::string(target.substr(raw_path.size() + 1));
            ctx.dialect = door->dialect;
            ctx.count_tokens = door->count_tokens;
            ctx.path_stream = door->stream;
            ctx.path_model = std::move(door->model);
            if (ctx.dialect == dialect::kind::gemini) {
                take_query_key(req, ctx.query);
                // The model is its own label and audit field: the path, a metrics label too,
                // stays one of three whatever models clients name.
                ctx.path = door->count_tokens ? "/v1beta/models/{model}:countTokens"
                           : door->stream     ? "/v1beta/models/{model}:streamGenerateContent"
                                              : "/v1beta/models/{model}:generateContent";
            }
            co_return co_await p_.dialect_chain->run(ctx);
        }
        if (door->dialect != dialect::kind::responses)
            co_return method_not_allowed(req, "POST");
    }
    if (!proxied.empty()) {
        middleware::proxy_context ctx{req, body, info};
        ctx.path = std::move(proxied);
        if (target.size() > raw_path.size())
            ctx.query = std::string(target.substr(raw_path.size() + 1));
        co_return co_await p_.proxy_chain->run(ctx);
    }
    // Unknown paths get an empty 404 (docs/http-server.md).
    co_return http::make_response(req, status::not_found, "", "");
}

void app_handler::worker_stopped(unsigned worker) {
    if (p_.upstreams)
        p_.upstreams->release_worker(worker);
}

std::string app_handler::reject_body(http::reject_reason reason, std::string_view target) {
    std::string_view msg = "internal error";
    switch (reason) {
        case http::reject_reason::header_too_large:
            msg = "request head too large";
            break;
        case http::reject_reason::bad_request:
            msg = "malformed HTTP request";
            break;
        case http::reject_reason::bad_framing:
            msg =
                "unsupported request framing: Transfer-Encoding must be absent or exactly "
                "chunked, in HTTP/1.1, without Content-Length (RFC 9112 section 6)";
            break;
        case http::reject_reason::internal_error:
            break;
    }
    // The server sends the row's status (http::error_of); the body carries its code.
    const auto e = http::error_of(reason);
    return is_admin_path(path_of(target)) ? http::admin_error(http::describe(e).code, msg)
                                          : http::openai_error(e, msg);
}

}  // namespace ditto::app
