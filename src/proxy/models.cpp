#include <nlohmann/json.hpp>
#include <set>

#include "ditto/http/error_body.hpp"
#include "ditto/proxy/proxy.hpp"

namespace ditto::proxy {
namespace {

using http::status;
using middleware::api_error;
using middleware::proxy_context;

constexpr std::uint64_t max_models_body = 4 * 1024 * 1024;  // SPEC §3.14: larger is skipped

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
        if (targets.empty()) {
            co_return api_error(ctx.req, status::bad_gateway, "api_error", "backend_not_found",
                                "no proxy backends configured");
        }
        nlohmann::json data = nlohmann::json::array();
        std::set<std::string> seen;
        bool any_ok = false;
        http::request blank;  // only the backend's own headers go upstream
        blank.method(http::bhttp::verb::get);
        for (auto* b : targets) {
            auto out = upstream::build_outgoing(blank, *b, "/v1/models", "", "", ctx.request_id);
            out.replay_safe = true;  // a GET
            auto r = co_await upstream::exchange(ups_->pool_for(ctx.info.worker, *b), out,
                                                 max_models_body, std::chrono::seconds(10));
            // A streamed (over-size or chunked) answer or a non-2xx one is skipped.
            if (r.failure != upstream::failure_kind::none || r.response.stream ||
                r.response.msg.result_int() / 100 != 2) {
                continue;
            }
            auto body = nlohmann::json::parse(r.response.msg.body(), nullptr, false);
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
            co_return api_error(ctx.req, status::bad_gateway, "api_error", "backend_error",
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
