// docs/routing.md, "Canary": a candidate router for a share of requests, then promoted or rolled
// back, each one change of the router through the control plane (versioned, persisted, audited,
// adopted by every replica sharing the store).

#include <algorithm>
#include <charconv>

#include "body.hpp"
#include "ditto/config/serialize.hpp"
#include "ditto/core/json_writer.hpp"
#include "ditto/middleware/keys.hpp"
#include "routes.hpp"

namespace ditto::admin {

namespace net = boost::asio;
using http::status;

namespace {

// A share as JSON, with its fraction (12.5), shortest round-trip.
std::string percent_text(double p) {
    char buf[32];
    const auto end = std::to_chars(buf, buf + sizeof buf, p).ptr;
    return std::string(buf, end);
}

// {"percent", "stable_version", "canary_version", "router"} of the canary in `router`.
std::string canary_json(const config::router_config& router) {
    core::json_object_writer w;
    auto stable = router;
    stable.canary.reset();
    const auto& c = *router.canary;
    w.raw("percent", percent_text(c.percent))
        .str("stable_version", middleware::router_version_of(stable))
        .str("canary_version", middleware::router_version_of(*c.router))
        .raw("router", config::router_to_json(*c.router));
    return w.finish();
}

// `expected_canary_version` (optional): the canary the caller saw. Another operator may have
// replaced it since, on this replica or another; acting on that one would surprise both.
std::optional<std::string> expected_version(const call& c, body_doc& b) {
    auto it = b.doc.find("expected_canary_version");
    if (it == b.doc.end() || b.error)
        return std::nullopt;
    if (!it->is_string()) {
        b.error =
            error_reply(c, 400, "invalid_request", "expected_canary_version must be a string");
        return std::nullopt;
    }
    return it->get<std::string>();
}

std::optional<admin_failure> check_expected(const config::router_config& current,
                                            const std::optional<std::string>& expected) {
    if (!expected)
        return std::nullopt;
    const std::string running =
        current.canary ? middleware::router_version_of(*current.canary->router) : "";
    if (running == *expected)
        return std::nullopt;
    return admin_failure{409, "conflict",
                         "the running canary is " + (running.empty() ? "none" : running) +
                             ", not " + *expected + ": it changed since"};
}

// Promotion keeps the guardrails the stable router's rules carry: each goes to the candidate's
// rule for the same model pattern. A guarded rule the candidate lacks would drop its
// guardrails unnoticed, so that promotion is refused.
std::optional<admin_failure> carry_guardrails(const config::router_config& stable,
                                              config::router_config& next) {
    for (const auto& rule : stable.rules) {
        if (!rule.guardrails)
            continue;
        auto it = std::find_if(next.rules.begin(), next.rules.end(), [&](const auto& n) {
            return n.model_prefix == rule.model_prefix && n.exact == rule.exact;
        });
        if (it == next.rules.end()) {
            return admin_failure{409, "guardrails_would_be_lost",
                                 "the router's rule for \"" + rule.model_prefix +
                                     "\" carries guardrails and the canary has no rule for it: "
                                     "start a canary that keeps the rule, then promote"};
        }
        it->guardrails = rule.guardrails;
    }
    return std::nullopt;
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
    // Routed in hundredths of a percent: a smaller share would route nothing.
    if (pct == body.doc.end() || !pct->is_number() || !(pct->get<double>() >= 0.01) ||
        pct->get<double>() > 100) {
        co_return error_reply(c, 400, "invalid_request",
                              "percent is required: a number between 0.01 and 100");
    }
    const auto expected = expected_version(c, body);
    if (body.error)
        co_return std::move(*body.error);
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
    r.change = [canary, expected](std::vector<config::virtual_key_config>&,
                                  config::router_config& current) -> std::optional<admin_failure> {
        if (auto stale = check_expected(current, expected))
            return stale;
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
    const auto expected = expected_version(c, body);
    if (body.error)
        co_return std::move(*body.error);
    const auto kind =
        std::string(promote ? "admin.config.canary.promote" : "admin.config.canary.rollback");
    control_plane::request r;
    r.reason = kind;
    r.audit_kind = kind;
    r.actor_json = c.who.actor_json();
    r.dry_run = dry;
    r.change = [promote, expected](std::vector<config::virtual_key_config>&,
                                   config::router_config& current) -> std::optional<admin_failure> {
        if (!current.canary)
            return admin_failure{404, "not_found", "no canary is running"};
        if (auto stale = check_expected(current, expected))
            return stale;
        if (!promote) {
            current.canary.reset();
            return std::nullopt;
        }
        // The candidate, whole, without a canary; the stable rules' guardrails (a canary
        // routes only) carried over to its rules, which must all still be there.
        auto next = *current.canary->router;
        if (auto lost = carry_guardrails(current, next))
            return lost;
        current = std::move(next);
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
