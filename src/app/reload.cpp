#include "reload.hpp"

#include <fstream>
#include <sstream>

#include "ditto/config/load.hpp"
#include "ditto/core/json_writer.hpp"
#include "ditto/log/log.hpp"

namespace ditto::app {

namespace net = boost::asio;

namespace {

config::env_lookup current_env(const config::cli_options& o) {
    std::map<std::string, std::string> dotenv;
    if (o.dotenv) {
        std::ifstream in(*o.dotenv, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        dotenv = config::parse_dotenv(ss.str());
    }
    return config::env_lookup(std::move(dotenv));
}

}  // namespace

net::awaitable<reload_result> reloader::reload(std::string trigger, std::string actor) {
    reload_result out;
    // The dotenv file is read again too: a rotated secret is picked up.
    const auto env = current_env(options_);
    config::diagnostics diag;
    auto cfg = config::load_gateway_file(options_.config_path, env, diag);
    if (!diag.ok()) {
        out.error = diag.errors.front();
        log::error("config.reload_invalid", "the config file is invalid; keeping the running one",
                   {{"trigger", trigger},
                    {"path", options_.config_path},
                    {"errors", std::to_string(diag.errors.size())},
                    {"error", out.error}});
        co_return out;
    }
    if (cfg.backends != backends_) {
        out.error = "backends changed: restart the gateway to apply backend changes";
        log::error("config.reload_refused", out.error, {{"trigger", trigger}});
        co_return out;
    }
    if (!keys_from_file_) {
        // Keys and router live in the store (--redis) or the state file (--state): the file
        // is only their seed; the Admin API changes them.
        out.noop = true;
        log::info("config.reloaded",
                  "config file valid; keys and router are managed by the Admin API "
                  "(--redis/--state), not re-read",
                  {{"trigger", trigger}});
        co_return out;
    }
    admin::control_plane::request r;
    r.reason = "config.reload";
    r.audit_kind = "admin.config.reload";
    r.actor_json = std::move(actor);
    auto keys = cfg.virtual_keys;
    auto router = cfg.router;
    r.change = [keys, router](std::vector<config::virtual_key_config>& k,
                              config::router_config& rt) -> std::optional<admin::admin_failure> {
        k = keys;
        // A canary started through the Admin API keeps running unless the file names one
        // (docs/routing.md, "Canary").
        rt.default_backends = router.default_backends;
        rt.rules = router.rules;
        if (router.canary)
            rt.canary = router.canary;
        return std::nullopt;
    };
    auto res = co_await control_->mutate(std::move(r));
    if (res.failure) {
        out.error = res.failure->message;
        log::error("config.reload_invalid", out.error, {{"trigger", trigger}});
        co_return out;
    }
    out.applied = !res.noop;
    out.noop = res.noop;
    out.version_id = (res.noop ? res.before : res.after)->info.version_id;
    log::info("config.reloaded", res.noop ? "config file unchanged" : "config file applied",
              {{"trigger", trigger}, {"version_id", out.version_id}});
    co_return out;
}

std::string reloader::to_json(const reload_result& r) {
    core::json_object_writer w;
    w.boolean("applied", r.applied).boolean("noop", r.noop);
    if (!r.error.empty())
        w.str("error", r.error);
    if (!r.version_id.empty())
        w.str("version_id", r.version_id);
    return w.finish();
}

net::awaitable<std::string> reload_json(std::shared_ptr<reloader> r, std::string trigger,
                                        std::string actor) {
    auto result = co_await r->reload(std::move(trigger), std::move(actor));
    co_return reloader::to_json(result);
}

}  // namespace ditto::app
