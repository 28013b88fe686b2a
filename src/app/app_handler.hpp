#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ditto/admin/admin_api.hpp"
#include "ditto/http/message.hpp"
#include "ditto/metrics/counters.hpp"
#include "ditto/middleware/chain.hpp"
#include "ditto/proxy/backend_health.hpp"
#include "ditto/proxy/upstreams.hpp"

namespace ditto::app {

/// Dispatches every request: the fixed routes (/health, /ready, /metrics), `GET /v1/models`
/// to the models chain, `/v1/*` and its aliases to the proxy chain, `/admin/*` to the Admin
/// API. Unknown paths → empty
/// 404; a known path with a wrong method → 405.
class app_handler final : public http::handler {
  public:
    struct parts {
        std::shared_ptr<metrics::counters> counters;
        std::shared_ptr<middleware::chain> proxy_chain;
        /// The same steps plus the dialect ones, for the front doors (docs/dialects.md).
        std::shared_ptr<middleware::chain> dialect_chain;
        std::shared_ptr<middleware::chain> models_chain;
        std::shared_ptr<proxy::upstreams> upstreams;
        /// `GET /metrics/prometheus` (text 0.0.4); null when --prometheus-metrics is off.
        std::function<std::string()> prometheus_text;
        /// Backend health checks for /ready (`backend.<name>`); may be null.
        std::shared_ptr<proxy::backend_health> backend_health;
        /// `/admin/*` (an empty 404 for every admin path when no admin token is set).
        std::shared_ptr<admin::admin_api> admin;
        /// The shared store's readiness (null: always ready).
        std::function<boost::asio::awaitable<std::optional<std::string>>()> store_health;
    };
    explicit app_handler(parts p) : p_(std::move(p)) {}

    boost::asio::awaitable<http::response> handle(http::request& req, http::body_reader& body,
                                                  const http::request_info& info) override;
    std::string reject_body(http::reject_reason reason, std::string_view target) override;
    void worker_stopped(unsigned worker) override;

  private:
    /// The gateway's own exact paths, one table (app_handler.cpp): each answers its methods,
    /// and any other method is 405 with the table's Allow list.
    using route_fn = boost::asio::awaitable<http::response> (app_handler::*)(
        http::request&, http::body_reader&, const http::request_info&);
    struct exact_route {
        std::string_view path;
        std::string_view allow;  ///< the 405's Allow list: "GET, HEAD" or "GET"
        bool head;               ///< HEAD is answered too
        route_fn serve;
    };
    static const exact_route* find_exact(std::string_view path);

    boost::asio::awaitable<http::response> health(http::request&, http::body_reader&,
                                                  const http::request_info&);
    boost::asio::awaitable<http::response> ready(http::request&, http::body_reader&,
                                                 const http::request_info&);
    boost::asio::awaitable<http::response> prometheus(http::request&, http::body_reader&,
                                                      const http::request_info&);
    boost::asio::awaitable<http::response> metrics(http::request&, http::body_reader&,
                                                   const http::request_info&);
    boost::asio::awaitable<http::response> models(http::request&, http::body_reader&,
                                                  const http::request_info&);

    parts p_;
};

/// The `/v1` path for `path` (aliases gain the prefix, docs/proxy.md, "Paths"), or empty when
/// `path` is not a proxied path.
std::string normalize_proxy_path(std::string_view path);

}  // namespace ditto::app
