// Key endpoints (docs/admin-api.md, "Keys"): list, upsert (POST and PUT), delete — tenant tokens
// confined to their tenant.
#include <openssl/rand.h>

#include <array>
#include <nlohmann/json.hpp>

#include "body.hpp"
#include "ditto/config/load.hpp"
#include "ditto/config/serialize.hpp"
#include "ditto/core/hash.hpp"
#include "ditto/core/json_writer.hpp"
#include "ditto/core/rfc3339.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/middleware/budget_periods.hpp"
#include "routes.hpp"

namespace ditto::admin {

namespace net = boost::asio;
using http::status;

// What a PUT that keeps its token parses with; it never reaches the stored keys.
constexpr const char* kept_token_placeholder = "ditto-admin-kept-token-placeholder";

std::string key_view(const config::virtual_key_config& k, bool with_token) {
    return config::key_to_json(k,
                               with_token ? config::token_form::raw : config::token_form::redacted);
}

std::optional<reply> check_secrets(const call& c,
                                   const std::vector<const config::virtual_key_config*>& shown) {
    if (!c.who.can_write()) {
        return error_reply(c, 403, "forbidden", "admin token cannot access virtual key secrets");
    }
    for (const auto* k : shown) {
        if (k->token.starts_with("sha256:")) {
            return error_reply(
                c, 409, "secret_unavailable",
                "virtual key secrets are stored hashed and cannot be shown (key " + k->id + ")");
        }
    }
    return std::nullopt;
}

namespace {

const config::virtual_key_config* find_key(const config_version& v, const std::string& id) {
    for (const auto& k : *v.keys) {
        if (k.id == id)
            return &k;
    }
    return nullptr;
}

std::string cross_tenant() {
    return "cross-tenant admin access is not allowed";
}

std::string rotation_only() {
    return "previous_token is set by a rotation (POST /admin/keys/{id}/rotate)";
}

// docs/governance.md, "Rotation": an upsert keeps the key's rotation — the previous token and
// its grace — while the token stays the same, whether the body leaves the two fields out or
// echoes them as a listing shows them (`"redacted"`); it may change the grace's end. It never
// sets a previous token of its own: that would make any string a working credential. A new
// token ends the rotation.
std::optional<admin_failure> keep_rotation(const config::virtual_key_config& stored,
                                           config::virtual_key_config& next,
                                           const core::sha256_digest& secret) {
    const bool same_token = config::token_lookup_digest(stored.token) == secret;
    if (next.previous_token) {
        const bool echoed =
            stored.previous_token && (*next.previous_token == "redacted" ||
                                      config::token_lookup_digest(*next.previous_token) ==
                                          config::token_lookup_digest(*stored.previous_token));
        if (!echoed || !same_token)
            return admin_failure{400, "invalid_request", rotation_only()};
        next.previous_token = stored.previous_token;
        return std::nullopt;
    }
    if (same_token && stored.previous_token) {
        next.previous_token = stored.previous_token;
        next.previous_token_expires_at_ms = stored.previous_token_expires_at_ms;
    }
    return std::nullopt;
}

// Issue 19 item 7: a validation message locates the sent key by its index among every
// tenant's keys (sorted by id), which tells a tenant admin how many other keys sort before
// an id of its choosing. The message names the sent key instead.
std::string without_key_index(const std::string& msg) {
    static constexpr std::string_view prefix = "virtual_keys[";
    std::string out;
    std::size_t from = 0;
    for (std::size_t at = msg.find(prefix); at != std::string::npos; at = msg.find(prefix, from)) {
        const std::size_t close = msg.find(']', at);
        if (close == std::string::npos)
            break;
        out.append(msg, from, at - from);
        out += "virtual_key";
        from = close + 1;
    }
    return out.append(msg, from);
}

}  // namespace

reply keys_list(const parts& p, const call& c) {
    auto limit = uint_param(c, "limit", 10'000, 0, 10'000);
    if (limit.error)
        return std::move(*limit.error);
    auto offset = uint_param(c, "offset", 0, 0, UINT64_MAX / 2);
    if (offset.error)
        return std::move(*offset.error);
    auto tenant = c.param("tenant_id");
    if (c.who.tenant_scoped()) {
        if (tenant && *tenant != c.who.tenant)
            return error_reply(c, 403, "forbidden", cross_tenant());
        tenant = c.who.tenant;
    }
    const auto project = c.param("project_id");
    const auto user = c.param("user_id");
    const auto enabled = c.param("enabled");
    const auto prefix = c.param("id_prefix").value_or("");
    const bool tokens = c.flag("include_tokens");

    const auto v = p.control->current();
    std::vector<const config::virtual_key_config*> shown;
    std::uint64_t skipped = 0;
    for (const auto& k : *v->keys) {
        if ((tenant && k.tenant_id != *tenant) || (project && k.project_id != *project) ||
            (user && k.user_id != *user) || !k.id.starts_with(prefix) ||
            (enabled && (k.enabled ? "true" : "false") != *enabled)) {
            continue;
        }
        if (skipped++ < offset.value)
            continue;
        if (shown.size() >= limit.value)
            break;
        shown.push_back(&k);
    }
    if (tokens) {
        if (auto refused = check_secrets(c, shown))
            return std::move(*refused);
    }
    std::string out = "[";
    for (const auto* k : shown) {
        if (out.size() > 1)
            out += ',';
        out += key_view(*k, tokens);
    }
    return json_reply(c, status::ok, out + "]");
}

net::awaitable<reply> keys_upsert(const parts& p, const call& c,
                                  std::optional<std::string> path_id) {
    // The path's id wins over the body's (PUT /admin/keys/:id). A PUT without a token, or
    // with the "redacted" a listing shows, keeps the stored one (hashed or not) and its
    // rotation: an operator edits limits without knowing the key's secret.
    std::string text = c.body;
    bool keep_token = false;
    if (path_id) {
        auto doc = nlohmann::json::parse(c.body, nullptr, false);
        if (doc.is_discarded() || !doc.is_object())
            co_return error_reply(c, 400, "invalid_request", "body must be a JSON object");
        doc["id"] = *path_id;
        const auto t = doc.find("token");
        keep_token = t == doc.end() || (t->is_string() && *t == "redacted");
        if (keep_token)
            doc["token"] = kept_token_placeholder;  // replaced by the stored token below
        text = doc.dump();
    }
    config::diagnostics diag;
    auto parsed = config::parse_virtual_key_json(text, diag);
    if (!parsed) {
        co_return error_reply(c, 400, "invalid_request",
                              diag.errors.empty() ? "invalid virtual key" : diag.errors.front());
    }
    auto key = std::move(*parsed);
    // Validation compares ids trimmed; so does the replace below, or " k2 " would be a new key
    // that validation then reports as a duplicate of k2, and where k2 is.
    key.id = std::string(core::trim(key.id));
    if (c.who.tenant_scoped()) {
        if (!key.tenant_id)
            key.tenant_id = c.who.tenant;
        if (*key.tenant_id != c.who.tenant)
            co_return error_reply(c, 403, "forbidden", cross_tenant());
    }
    auto inserted = std::make_shared<bool>(false);
    control_plane::request r;
    r.reason = "admin.key.upsert";
    r.audit_kind = "admin.key.upsert";
    r.actor_json = c.who.actor_json();
    const principal who = c.who;
    const auto secret = config::token_lookup_digest(key.token);
    r.change = [key, secret, who, inserted, keep_token](
                   std::vector<config::virtual_key_config>& keys,
                   config::router_config&) -> std::optional<admin_failure> {
        // Issue 19 item 7: a token already held by another key is refused before validation,
        // whose message would say which key holds it and where. The answer is the same
        // whoever holds it (this tenant, another, either form of the token): it reveals only
        // what a request with that token as its bearer would — that it is in use.
        for (const auto& k : keys) {
            if (keep_token)
                break;  // a kept token is this key's already
            if (core::trim(k.id) == key.id)
                continue;
            if (config::token_lookup_digest(k.token) == secret ||
                (k.previous_token && config::token_lookup_digest(*k.previous_token) == secret))
                return admin_failure{409, "conflict", "virtual key token is already in use"};
        }
        for (auto& k : keys) {
            if (core::trim(k.id) != key.id)
                continue;
            if (who.tenant_scoped() && k.tenant_id != who.tenant)
                return admin_failure{403, "forbidden", cross_tenant()};
            auto next = key;
            if (keep_token)
                next.token = k.token;
            if (auto failure = keep_rotation(
                    k, next, keep_token ? config::token_lookup_digest(k.token) : secret))
                return failure;
            k = std::move(next);
            *inserted = false;
            return std::nullopt;
        }
        if (keep_token)
            return admin_failure{400, "invalid_request", "token is required for a new key"};
        if (key.previous_token)
            return admin_failure{400, "invalid_request", rotation_only()};
        keys.push_back(key);
        *inserted = true;
        return std::nullopt;
    };
    r.audit_payload = [key, inserted](const config_version&, const config_version&) {
        core::json_object_writer w;
        w.str("key_id", key.id)
            .boolean("enabled", key.enabled)
            .boolean("inserted", *inserted)
            .str_or_null("tenant_id", key.tenant_id)
            .str_or_null("project_id", key.project_id)
            .str_or_null("user_id", key.user_id);
        return w.finish();
    };
    auto out = co_await p.control->mutate(std::move(r));
    if (out.failure)
        out.failure->message = without_key_index(out.failure->message);
    if (auto e = mutation_error(c, out, "the key was saved"))
        co_return std::move(*e);
    // The key is echoed with the token the caller just sent (docs/admin-api.md); a kept token
    // was not sent, and is not shown.
    co_return json_reply(c, *inserted ? status::created : status::ok,
                         config::key_to_json(key, keep_token ? config::token_form::redacted
                                                             : config::token_form::raw));
}

net::awaitable<reply> keys_delete(const parts& p, const call& c, std::string id) {
    control_plane::request r;
    r.reason = "admin.key.delete";
    r.audit_kind = "admin.key.delete";
    r.actor_json = c.who.actor_json();
    const principal who = c.who;
    r.change = [id, who](std::vector<config::virtual_key_config>& keys,
                         config::router_config&) -> std::optional<admin_failure> {
        for (auto it = keys.begin(); it != keys.end(); ++it) {
            if (it->id != id)
                continue;
            if (who.tenant_scoped() && it->tenant_id != who.tenant)
                return admin_failure{403, "forbidden", cross_tenant()};
            keys.erase(it);
            return std::nullopt;
        }
        return admin_failure{404, "not_found", "virtual key not found"};
    };
    r.audit_payload = [id](const config_version& before, const config_version&) {
        core::json_object_writer w;
        w.str("key_id", id);
        const auto* k = find_key(before, id);
        w.str_or_null("tenant_id", k ? k->tenant_id : std::nullopt);
        return w.finish();
    };
    auto out = co_await p.control->mutate(std::move(r));
    if (auto e = mutation_error(c, out, "the key was deleted"))
        co_return std::move(*e);
    co_return http::make_response(c.req, status::no_content, "", "");
}

namespace {

// 32 random bytes, hex: as strong as any token an operator would make by hand.
std::string new_token() {
    std::array<unsigned char, 32> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        return {};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "sk-ditto-";
    for (const unsigned char b : bytes) {
        out += hex[b >> 4];
        out += hex[b & 0xf];
    }
    return out;
}

}  // namespace

// docs/governance.md, "Rotation": a new token, stored hashed and shown once; the old one keeps
// working for `grace_seconds` (default a day). Rotating again within the grace period ends the
// older token's grace at once: a key has one previous token.
net::awaitable<reply> keys_rotate(const parts& p, const call& c, std::string id) {
    auto body = parse_object(c, true);
    if (body.error)
        co_return std::move(*body.error);
    for (const auto& [name, value] : body.doc.items()) {
        if (name != "grace_seconds")
            co_return error_reply(c, 400, "invalid_request", "unknown field: " + name);
    }
    id = std::string(core::trim(id));
    std::uint64_t grace = 86'400;
    if (auto it = body.doc.find("grace_seconds"); it != body.doc.end()) {
        if (!it->is_number_unsigned() || it->get<std::uint64_t>() > 30ULL * 86'400) {
            co_return error_reply(c, 400, "invalid_request",
                                  "grace_seconds must be an integer between 0 and 2592000");
        }
        grace = it->get<std::uint64_t>();
    }
    const auto token = new_token();
    if (token.empty())
        co_return error_reply(c, 500, "internal_error", "no random bytes for a new token");
    const auto until = middleware::calendar_now_ms() + static_cast<std::int64_t>(grace) * 1000;
    const auto hashed = "sha256:" + core::sha256_hex(token);
    auto rotated = std::make_shared<config::virtual_key_config>();
    control_plane::request r;
    r.reason = "admin.key.rotate";
    r.audit_kind = "admin.key.rotate";
    r.actor_json = c.who.actor_json();
    const principal who = c.who;
    r.change = [id, who, hashed, until, rotated](
                   std::vector<config::virtual_key_config>& keys,
                   config::router_config&) -> std::optional<admin_failure> {
        for (auto& k : keys) {
            if (core::trim(k.id) != id)
                continue;
            if (who.tenant_scoped() && k.tenant_id != who.tenant)
                return admin_failure{403, "forbidden", cross_tenant()};
            k.previous_token = "sha256:" + config::token_lookup_key(k.token);
            k.previous_token_expires_at_ms = until;
            k.token = hashed;
            *rotated = k;
            return std::nullopt;
        }
        return admin_failure{404, "not_found", "virtual key not found"};
    };
    r.audit_payload = [id, until, rotated](const config_version&, const config_version&) {
        core::json_object_writer w;
        w.str("key_id", id)
            .str_or_null("tenant_id", rotated->tenant_id)
            .str("previous_token_expires_at", core::format_rfc3339_utc(until));
        return w.finish();
    };
    auto out = co_await p.control->mutate(std::move(r));
    if (auto e = mutation_error(c, out, "the key was rotated"))
        co_return std::move(*e);
    // The new token in clear, this once; the stored forms are hashes.
    rotated->token = token;
    co_return json_reply(c, status::ok, config::key_to_json(*rotated, config::token_form::raw));
}

}  // namespace ditto::admin
