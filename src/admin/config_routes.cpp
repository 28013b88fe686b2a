// Config endpoints (docs/admin-api.md, "Config versions"): versions, export, diff, validate, router
// upsert, rollback.
#include <map>
#include <nlohmann/json.hpp>

#include "body.hpp"
#include "ditto/config/serialize.hpp"
#include "ditto/core/hash.hpp"
#include "ditto/core/json_writer.hpp"
#include "routes.hpp"

namespace ditto::admin {

namespace net = boost::asio;
using http::status;

namespace {

std::vector<const config::virtual_key_config*> all_keys(const config_version& v) {
    std::vector<const config::virtual_key_config*> out;
    for (const auto& k : *v.keys)
        out.push_back(&k);
    return out;
}

// `{…info, "virtual_keys":[…], "router":{…}}`.
std::string version_document(const config_version& v, bool tokens) {
    std::string info = v.info.to_json();
    info.pop_back();
    std::string keys = "[";
    for (const auto& k : *v.keys) {
        if (keys.size() > 1)
            keys += ',';
        keys += key_view(k, tokens);
    }
    return info + ",\"virtual_keys\":" + keys + "],\"router\":" + config::router_to_json(v.router) +
           "}";
}

reply document_reply(const call& c, const config_version& v) {
    const bool tokens = c.flag("include_tokens");
    if (tokens) {
        if (auto refused = check_secrets(c, all_keys(v)))
            return std::move(*refused);
    }
    return json_reply(c, status::ok, version_document(v, tokens));
}

reply version_not_found(const call& c, const std::string& id) {
    return error_reply(c, 404, "not_found", "config version not found: " + id);
}

// An issue code of the validate endpoint for one validation message (docs/admin-api.md).
std::string issue_code(const std::string& msg) {
    if (msg.find("duplicate virtual key id") != std::string::npos)
        return "duplicate_id";
    if (msg.find("duplicate virtual key token") != std::string::npos)
        return "duplicate_token";
    if (msg.find("guardrails") != std::string::npos)
        return "invalid_guardrails";
    if (msg.find(".route") != std::string::npos)
        return "invalid_route";
    if (msg.find(".token") != std::string::npos)
        return "invalid_token";
    if (msg.find("router") != std::string::npos)
        return "invalid_router";
    return "invalid_id";
}

// `/virtual_keys/3` from a message about `virtual_keys[3]…`, `/router` for the router.
std::optional<std::string> issue_path(const std::string& msg, std::optional<std::size_t> index) {
    auto at = msg.find("virtual_keys[");
    if (at != std::string::npos) {
        auto close = msg.find(']', at);
        std::string path = "/virtual_keys/" + msg.substr(at + 13, close - at - 13);
        auto field = msg.find_first_of(" :", close);
        if (close + 1 < msg.size() && msg[close + 1] == '.')
            path += "/" + msg.substr(close + 2, field - close - 2);
        return path;
    }
    if (index)
        return "/virtual_keys/" + std::to_string(*index);
    if (msg.find("router") != std::string::npos)
        return "/router";
    return std::nullopt;
}

struct issue {
    std::string code, message;
    std::optional<std::string> path;
};

std::string issues_json(const std::vector<issue>& issues) {
    std::string out = "[";
    for (const auto& i : issues) {
        if (out.size() > 1)
            out += ',';
        core::json_object_writer w;
        w.str("code", i.code).str("message", i.message);
        if (i.path)
            w.str("path", *i.path);
        out += w.finish();
    }
    return out + "]";
}

}  // namespace

reply config_current(const parts& p, const call& c) {
    return json_reply(c, status::ok, p.control->current()->info.to_json());
}

reply config_versions(const parts& p, const call& c) {
    auto limit = uint_param(c, "limit", 100, 0, 1000);
    if (limit.error)
        return std::move(*limit.error);
    auto offset = uint_param(c, "offset", 0, 0, 1000);
    if (offset.error)
        return std::move(*offset.error);
    const auto all = p.control->history();
    std::string out = "[";
    for (std::size_t i = offset.value; i < all.size() && i < offset.value + limit.value; ++i) {
        if (out.size() > 1)
            out += ',';
        out += all[i]->info.to_json();
    }
    return json_reply(c, status::ok, out + "]");
}

reply config_version_by_id(const parts& p, const call& c, const std::string& id) {
    auto v = p.control->find(id);
    if (!v)
        return version_not_found(c, id);
    return document_reply(c, *v);
}

reply config_export(const parts& p, const call& c) {
    auto id = c.param("version_id");
    auto v = id ? p.control->find(*id) : p.control->current();
    if (!v)
        return version_not_found(c, *id);
    return document_reply(c, *v);
}

reply config_diff(const parts& p, const call& c) {
    const auto from_id = c.param("from_version_id");
    const auto to_id = c.param("to_version_id");
    if (!from_id || !to_id) {
        return error_reply(c, 400, "invalid_request",
                           "from_version_id and to_version_id are required");
    }
    const auto from = p.control->find(*from_id);
    if (!from)
        return version_not_found(c, *from_id);
    const auto to = p.control->find(*to_id);
    if (!to)
        return version_not_found(c, *to_id);
    const bool tokens = c.flag("include_tokens");
    if (tokens) {
        auto shown = all_keys(*from);
        auto more = all_keys(*to);
        shown.insert(shown.end(), more.begin(), more.end());
        if (auto refused = check_secrets(c, shown))
            return std::move(*refused);
    }
    std::map<std::string, const config::virtual_key_config*> before, after;
    for (const auto& k : *from->keys)
        before[k.id] = &k;
    for (const auto& k : *to->keys)
        after[k.id] = &k;
    std::string added = "[", removed = "[", changed = "[";
    std::size_t n_added = 0, n_removed = 0, n_changed = 0, n_unchanged = 0;
    auto append = [](std::string& list, const std::string& item) {
        if (list.size() > 1)
            list += ',';
        list += item;
    };
    for (const auto& [id, k] : after) {
        auto b = before.find(id);
        if (b == before.end()) {
            append(added, key_view(*k, tokens));
            ++n_added;
        } else if (config::key_to_json(*b->second, config::token_form::raw) !=
                   config::key_to_json(*k, config::token_form::raw)) {
            core::json_object_writer w;
            w.str("id", id)
                .raw("before", key_view(*b->second, tokens))
                .raw("after", key_view(*k, tokens));
            append(changed, w.finish());
            ++n_changed;
        } else {
            ++n_unchanged;
        }
    }
    for (const auto& [id, k] : before) {
        if (!after.count(id)) {
            append(removed, key_view(*k, tokens));
            ++n_removed;
        }
    }
    const bool router_changed = from->info.router_sha256 != to->info.router_sha256;
    core::json_object_writer summary;
    summary.num("from_virtual_key_count", from->keys->size())
        .num("to_virtual_key_count", to->keys->size())
        .num("added", n_added)
        .num("removed", n_removed)
        .num("changed", n_changed)
        .num("unchanged", n_unchanged)
        .boolean("router_changed", router_changed);
    core::json_object_writer w;
    w.raw("from_version", from->info.to_json())
        .raw("to_version", to->info.to_json())
        .raw("summary", summary.finish())
        .raw("added", added + "]")
        .raw("removed", removed + "]")
        .raw("changed", changed + "]");
    if (router_changed) {
        w.raw("router_before", config::router_to_json(from->router))
            .raw("router_after", config::router_to_json(to->router));
    }
    return json_reply(c, status::ok, w.finish());
}

reply config_validate(const parts& p, const call& c) {
    auto body = parse_object(c);
    if (body.error)
        return std::move(*body.error);
    const auto* doc = &body.doc;
    std::vector<issue> issues;
    config::gateway_config staged;
    staged.backends = p.control->backends();
    const auto now = p.control->current();
    staged.virtual_keys = *now->keys;
    staged.router = now->router;
    bool router_given = false;
    if (auto it = doc->find("virtual_keys"); it != doc->end()) {
        staged.virtual_keys.clear();
        if (!it->is_array()) {
            issues.push_back({"invalid_id", "virtual_keys must be an array", "/virtual_keys"});
        } else {
            for (std::size_t i = 0; i < it->size(); ++i) {
                config::diagnostics diag;
                auto k = config::parse_virtual_key_json((*it)[i].dump(), diag);
                for (const auto& e : diag.errors)
                    issues.push_back({issue_code(e), e, issue_path(e, i)});
                if (k)
                    staged.virtual_keys.push_back(std::move(*k));
            }
        }
    }
    if (auto it = doc->find("router"); it != doc->end()) {
        router_given = true;
        config::diagnostics diag;
        auto r = config::parse_router_json(it->dump(), diag);
        for (const auto& e : diag.errors)
            issues.push_back({"invalid_router", e, "/router"});
        if (r)
            staged.router = std::move(*r);
    }
    if (issues.empty()) {
        config::diagnostics diag;
        config::validate(staged, diag);
        for (const auto& e : diag.errors)
            issues.push_back({issue_code(e), e, issue_path(e, std::nullopt)});
    }
    const auto keys_hash = keys_sha256(staged.virtual_keys);
    const auto router_hash = router_sha256(staged.router);
    if (auto it = doc->find("expected_virtual_keys_sha256");
        it != doc->end() && it->is_string() && it->get<std::string>() != keys_hash) {
        issues.push_back({"hash_mismatch", "virtual_keys_sha256 does not match", std::nullopt});
    }
    if (auto it = doc->find("expected_router_sha256");
        it != doc->end() && it->is_string() && it->get<std::string>() != router_hash) {
        issues.push_back({"router_hash_mismatch", "router_sha256 does not match", std::nullopt});
    }
    core::json_object_writer w;
    w.boolean("valid", issues.empty())
        .num("virtual_key_count", staged.virtual_keys.size())
        .str("computed_virtual_keys_sha256", keys_hash);
    if (router_given) {
        w.num("router_default_backend_count", staged.router.default_backends.size())
            .num("router_rule_count", staged.router.rules.size())
            .str("computed_router_sha256", router_hash);
    }
    w.raw("issues", issues_json(issues));
    return json_reply(c, status::ok, w.finish());
}

net::awaitable<reply> config_router(const parts& p, const call& c) {
    auto body = parse_object(c);
    const auto* member = required(c, body, "router", nlohmann::json::value_t::object, "an object");
    const bool dry = optional_bool(c, body, "dry_run");
    if (body.error)
        co_return std::move(*body.error);
    config::diagnostics diag;
    auto router = config::parse_router_json(member->dump(), diag);
    if (!router) {
        co_return error_reply(c, 400, "invalid_request",
                              diag.errors.empty() ? "invalid router" : diag.errors.front());
    }
    if (router->canary) {
        co_return error_reply(c, 400, "invalid_request",
                              "a canary is started with PUT /admin/config/canary");
    }
    control_plane::request r;
    r.reason = "admin.config.router.upsert";
    r.audit_kind = "admin.config.router.upsert";
    r.actor_json = c.who.actor_json();
    r.dry_run = dry;
    auto next = *router;
    r.change = [next](std::vector<config::virtual_key_config>&,
                      config::router_config& current) -> std::optional<admin_failure> {
        // It would end a running canary unannounced (docs/routing.md).
        if (current.canary) {
            return admin_failure{409, "canary_running",
                                 "a canary is running: promote it or roll it back first "
                                 "(POST /admin/config/canary/promote or /rollback)"};
        }
        current = next;
        return std::nullopt;
    };
    auto out = co_await p.control->mutate(std::move(r));
    if (auto e = mutation_error(c, out, "the router was applied"))
        co_return std::move(*e);
    core::json_object_writer w;
    w.boolean("dry_run", dry)
        .boolean("noop", out.noop)
        .boolean("router_changed", out.after->info.router_sha256 != out.before->info.router_sha256)
        .str("target_router_sha256", out.after->info.router_sha256)
        .raw("previous_version", out.before->info.to_json())
        .raw("current_version", (out.noop ? out.before : out.after)->info.to_json());
    co_return json_reply(c, status::ok, w.finish());
}

net::awaitable<reply> config_rollback(const parts& p, const call& c) {
    auto body = parse_object(c);
    const auto* member =
        required(c, body, "version_id", nlohmann::json::value_t::string, "a string");
    const bool dry = optional_bool(c, body, "dry_run");
    if (body.error)
        co_return std::move(*body.error);
    const auto id = member->get<std::string>();
    auto target = p.control->find(id);
    if (!target)
        co_return version_not_found(c, id);
    control_plane::request r;
    r.reason = "admin.config.rollback:" + id;
    r.audit_kind = "admin.config.rollback";
    r.actor_json = c.who.actor_json();
    r.dry_run = dry;
    r.change = [target](std::vector<config::virtual_key_config>& keys,
                        config::router_config& router) -> std::optional<admin_failure> {
        keys = *target->keys;
        // A rollout in progress is not history: the canary running now keeps running (or none
        // stays none), whatever the version rolled back to had (docs/routing.md, "Canary").
        router.default_backends = target->router.default_backends;
        router.rules = target->router.rules;
        return std::nullopt;
    };
    auto out = co_await p.control->mutate(std::move(r));
    if (auto e = mutation_error(c, out, "the rollback was applied"))
        co_return std::move(*e);
    core::json_object_writer w;
    w.boolean("dry_run", dry)
        .boolean("noop", out.noop)
        .str("rolled_back_to_version_id", id)
        .raw("target_version", target->info.to_json())
        .raw("current_version", (out.noop ? out.before : out.after)->info.to_json());
    co_return json_reply(c, status::ok, w.finish());
}

}  // namespace ditto::admin
