#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "ditto/http/error_body.hpp"
#include "ditto/proxy/proxy.hpp"

namespace ditto::proxy {
namespace {

namespace net = boost::asio;
using http::status;
using middleware::api_error;
using middleware::proxy_context;

constexpr std::uint64_t max_models_body = 4 * 1024 * 1024;  // larger is skipped (docs/proxy.md)

// One backend's `GET /v1/models` body, or nothing when it failed, was not 2xx, or was too
// large (relayed rather than buffered). Arguments by value: it runs co_spawned.
net::awaitable<std::optional<std::string>> fetch_models(upstreams* ups, unsigned worker,
                                                        upstream::backend* b,
                                                        std::string request_id) {
    http::request blank;  // only the backend's own headers go upstream
    blank.method(http::bhttp::verb::get);
    auto out = upstream::build_outgoing(blank, *b, "/v1/models", "", "", request_id);
    out.replay_safe = true;  // a GET
    auto r = co_await upstream::exchange(ups->pool_for(worker, *b), out, max_models_body,
                                         std::chrono::seconds(10));
    if (r.failure != upstream::failure_kind::none || r.response.stream ||
        r.response.msg.result_int() / 100 != 2) {
        co_return std::nullopt;
    }
    co_return std::move(r.response.msg.body());
}

class models final : public middleware::middleware {
  public:
    explicit models(std::shared_ptr<upstreams> ups) : ups_(std::move(ups)) {}

    boost::asio::awaitable<http::response> handle(proxy_context& ctx,
                                                  ::ditto::middleware::next_fn) override {
        std::vector<upstream::backend*> targets;
        if (ctx.key->route) {
            if (auto* b = ups_->find(*ctx.key->route))
                targets.push_back(b);
        } else {
            for (const auto& b : ups_->backends().all())
                targets.push_back(b.get());
        }
        // The proxy's and the route step's words for the same two cases.
        if (targets.empty() && ctx.key->route) {
            co_return api_error(ctx.req, http::gateway_error::backend_not_found,
                                "backend not found: " + *ctx.key->route);
        }
        if (targets.empty()) {
            co_return api_error(ctx.req, http::gateway_error::backend_not_found,
                                "no backend to route to: no backends configured");
        }
        // All backends at once, so the answer takes as long as the slowest, not the sum.
        auto ex = co_await net::this_coro::executor;
        using op =
            decltype(net::co_spawn(ex, fetch_models(nullptr, 0, nullptr, {}), net::deferred));
        std::vector<op> ops;
        for (auto* b : targets) {
            ops.push_back(net::co_spawn(
                ex, fetch_models(ups_.get(), ctx.info.worker, b, ctx.request_id), net::deferred));
        }
        auto [order, errors, bodies] =
            co_await net::experimental::make_parallel_group(std::move(ops))
                .async_wait(net::experimental::wait_for_all(), net::use_awaitable);

        // Merged in backend-name order, the first occurrence of an id winning.
        nlohmann::json data = nlohmann::json::array();
        std::set<std::string> seen;
        bool any_ok = false;
        for (std::size_t i = 0; i < bodies.size(); ++i) {
            if (errors[i] || !bodies[i])
                continue;
            auto body = nlohmann::json::parse(*bodies[i], nullptr, false);
            if (!body.is_object() || !body.contains("data") || !body["data"].is_array())
                continue;
            any_ok = true;
            for (auto& m : body["data"]) {
                if (!m.is_object() || !m.contains("id") || !m["id"].is_string())
                    continue;
                if (seen.insert(m["id"].get<std::string>()).second)
                    data.push_back(std::move(m));
            }
        }
        if (!any_ok) {
            co_return api_error(ctx.req, http::gateway_error::backend_error,
                                "all upstream /v1/models requests failed");
        }
        nlohmann::ordered_json out = {{"object", "list"}, {"data", data}};
        co_return http::make_response(ctx.req, status::ok, out.dump());
    }

  private:
    std::shared_ptr<upstreams> ups_;
};

}  // namespace

std::shared_ptr<middleware::middleware> make_models(std::shared_ptr<upstreams> ups) {
    return std::make_shared<models>(std::move(ups));
}

}  // namespace ditto::proxy
