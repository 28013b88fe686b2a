#include "app_handler.hpp"

#include <array>

#include "ditto/http/error_body.hpp"

namespace ditto::app {
namespace {

using http::status;
namespace bhttp = boost::beast::http;

std::string_view path_of(std::string_view target) {
    auto q = target.find('?');
    return q == std::string_view::npos ? target : target.substr(0, q);
}

bool is_admin_path(std::string_view path) {
    return path == "/admin" || path.starts_with("/admin/");
}

http::response method_not_allowed(const http::request& req, std::string_view allow) {
    auto res = http::make_response(req, status::method_not_allowed, "", "");
    res.msg.set(http::field::allow, allow);
    return res;
}

}  // namespace

app_handler::app_handler(std::shared_ptr<metrics::counters> counters, std::uint64_t max_body_bytes)
    : counters_(std::move(counters)), max_body_bytes_(max_body_bytes) {}

boost::asio::awaitable<http::response> app_handler::handle(http::request& req,
                                                           const http::request_info& info) {
    const auto path = path_of(req.target());
    const bool get = req.method() == bhttp::verb::get || req.method() == bhttp::verb::head;

    if (path == "/health") {
        if (!get)
            co_return method_not_allowed(req, "GET, HEAD");
        co_return http::make_response(req, status::ok, R"({"status":"ok"})");
    }
    if (path == "/ready") {
        if (!get)
            co_return method_not_allowed(req, "GET, HEAD");
        if (info.draining) {
            co_return http::make_response(
                req, status::service_unavailable,
                R"({"status":"not_ready","checks":[{"name":"server","status":"error","detail":"draining"}]})");
        }
        co_return http::make_response(req, status::ok, R"({"status":"ready"})");
    }
    if (path == "/metrics") {
        if (!get)
            co_return method_not_allowed(req, "GET, HEAD");
        co_return http::make_response(req, status::ok, counters_->to_json());
    }
    // SPEC §3.0: unknown paths get an empty 404. The /v1/* proxy slots in here.
    co_return http::make_response(req, status::not_found, "", "");
}

std::string app_handler::reject_body(http::reject_reason reason, std::string_view target) {
    const bool admin = is_admin_path(path_of(target));
    switch (reason) {
        case http::reject_reason::body_too_large: {
            const auto msg = "request body exceeds the limit of " +
                             std::to_string(max_body_bytes_) + " bytes (--proxy-max-body-bytes)";
            return admin ? http::admin_error("request_too_large", msg)
                         : http::openai_error("invalid_request_error", "request_too_large", msg);
        }
        case http::reject_reason::header_too_large:
            return admin ? http::admin_error("request_header_too_large", "request head too large")
                         : http::openai_error("invalid_request_error", "request_header_too_large",
                                              "request head too large");
        case http::reject_reason::bad_request:
            return admin ? http::admin_error("bad_request", "malformed HTTP request")
                         : http::openai_error("invalid_request_error", "bad_request",
                                              "malformed HTTP request");
        case http::reject_reason::internal_error:
            break;
    }
    return admin ? http::admin_error("internal_error", "internal error")
                 : http::openai_error("api_error", "internal_error", "internal error");
}

}  // namespace ditto::app
