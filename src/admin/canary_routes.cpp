// docs/routing.md, "Canary": a candidate router for a share of requests, then promoted or rolled
// back, each one change of the router through the control plane (versioned, persisted, audited,
// adopted by every replica sharing the store).

#include "body.hpp"
#include "ditto/config/serialize.hpp"
#include "ditto/core/json_writer.hpp"
#include "ditto/middleware/keys.hpp"
#include "routes.hpp"

namespace ditto::admin {

namespace net = boost::asio;
using http::status;

namespace {

// {"percent", "stable_version", "canary_version", "router"} of the canary in `router`.
std::string canary_json(const config::router_config& router) {
    core::json_object_writer w;
    auto stable = router;
    stable.canary.reset();
    const auto& c = *router.canary;
    w.num("percent", c.percent)
        .str("stable_version", middleware::router_version_of(stable))
        .str("canary_version", middleware::router_version_of(*c.router))
        .raw("router", config::router_to_json(*c.router));
    return w.finish();
}

reply no_canary(const call& c) {
    return error_reply(c, 404, "not_found", "no canary is running");
}

// The audit payload of a canary change: the versions before and after, and the canary's.
std::string canary_payload(const config_version& before, const config_version& after,
                           const config::router_config& with_canary) {
    core::json_object_writer w;
    w.str("version_id", after.info.version_id)
        .str("previous_version_id", before.info.version_id)
        .str("router_sha256", after.info.router_sha256);
    if (with_canary.canary)
        w.raw("canary", canary_json(with_canary));
    return w.finish();
}

}  // namespace

reply canary_get(const parts& p, const call& c) {
    const auto now = p.control->current();
    if (!now->router.canary)
        return no_canary(c);
    return json_reply(c, status::ok, canary_json(now->router));
}

net::awaitable<reply> canary_start(const parts& p, const call& c) {
    auto body = parse_object(c);
    const auto* router_member =
        required(c, body, "router", nlohmann::json::value_t::object, "an object");
    const bool dry = optional_bool(c, body, "dry_run");
    if (body.error)
        co_return std::move(*body.error);
    auto pct = body.doc.find("percent");
    if (pct == body.doc.end() || !pct->is_number() || !(pct->get<double>() > 0) ||
        pct->get<double>() > 100) {
        co_return error_reply(c, 400, "invalid_request",
                              "percent is required: a number greater than 0 and at most 100");
    }
    config::diagnostics diag;
    auto router = config::parse_router_json(router_member->dump(), diag);
    if (!router) {
        co_return error_reply(c, 400, "invalid_request",
                              diag.errors.empty() ? "invalid router" : diag.errors.front());
    }
    if (router->canary)
        co_return error_reply(c, 400, "invalid_request",
                              "a canary router has no canary of its own");
    config::router_canary canary;
    canary.percent = pct->get<double>();
    canary.router = std::make_shared<const config::router_config>(std::move(*router));
    control_plane::request r;
    r.reason = "admin.config.canary.start";
    r.audit_kind = "admin.config.canary.start";
    r.actor_json = c.who.actor_json();
    r.dry_run = dry;
    r.change = [canary](std::vector<config::virtual_key_config>&,
                        config::router_config& current) -> std::optional<admin_failure> {
        current.canary = canary;  // a running canary is replaced (a new share or candidate)
        return std::nullopt;
    };
    r.audit_payload = [](const config_version& before, const config_version& after) {
        return canary_payload(before, after, after.router);
    };
    auto out = co_await p.control->mutate(std::move(r));
    if (auto e = mutation_error(c, out, "the canary was started"))
        co_return std::move(*e);
    const auto& with = out.after ? out.after : out.before;  // the would-be version on a dry run
    core::json_object_writer w;
    w.boolean("dry_run", dry).boolean("noop", out.noop);
    if (with->router.canary)
        w.raw("canary", canary_json(with->router));
    w.raw("current_version", (out.noop || dry ? out.before : out.after)->info.to_json());
    co_return json_reply(c, status::ok, w.finish());
}

net::awaitable<reply> canary_end(const parts& p, const call& c, bool promote) {
    auto body = parse_object(c, true);
    const bool dry = optional_bool(c, body, "dry_run");
    if (body.error)
        co_return std::move(*body.error);
    const auto kind =
        std::string(promote ? "admin.config.canary.promote" : "admin.config.canary.rollback");
    control_plane::request r;
    r.reason = kind;
    r.audit_kind = kind;
    r.actor_json = c.who.actor_json();
    r.dry_run = dry;
    r.change = [promote](std::vector<config::virtual_key_config>&,
                         config::router_config& current) -> std::optional<admin_failure> {
        if (!current.canary)
            return admin_failure{404, "not_found", "no canary is running"};
        if (promote)
            current = *current.canary->router;  // the candidate, whole, without a canary
        else
            current.canary.reset();
        return std::nullopt;
    };
    r.audit_payload = [](const config_version& before, const config_version& after) {
        return canary_payload(before, after, before.router);
    };
    auto out = co_await p.control->mutate(std::move(r));
    if (auto e = mutation_error(c, out,
                                promote ? "the canary was promoted" : "the canary was rolled back"))
        co_return std::move(*e);
    core::json_object_writer w;
    w.boolean("dry_run", dry)
        .raw("ended_canary", canary_json(out.before->router))
        .str("router_version",
             middleware::router_version_of((out.after ? out.after : out.before)->router))
        .raw("current_version", (dry ? out.before : out.after)->info.to_json());
    co_return json_reply(c, status::ok, w.finish());
}

}  // namespace ditto::admin
