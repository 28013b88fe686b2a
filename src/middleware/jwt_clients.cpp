#include "ditto/middleware/jwt_clients.hpp"

#include <algorithm>

namespace ditto::middleware {

namespace {

constexpr std::size_t max_identities = 100'000;  ///< snapshots kept; all dropped when full
constexpr std::size_t max_remembered = 4096;     ///< per worker

// An identity or claim fit to name a key and its counters (no other identity's scope ids).
bool usable_identity(std::string_view v) {
    return config::is_safe_claim_id(v);
}

// `{claim:NAME}` in a template's scope id, replaced by the claim's string value.
std::optional<std::string> fill(const std::string& pattern, const access::claims& c,
                                std::string& missing) {
    std::string out;
    std::size_t at = 0;
    while (true) {
        const auto open = pattern.find("{claim:", at);
        if (open == std::string::npos)
            break;
        const auto close = pattern.find('}', open);
        if (close == std::string::npos)
            break;
        out.append(pattern, at, open - at);
        const auto name = pattern.substr(open + 7, close - open - 7);
        auto v = c.string(name);
        if (!v || !usable_identity(*v)) {
            missing = name;
            return std::nullopt;
        }
        out += *v;
        at = close + 1;
    }
    out.append(pattern, at, std::string::npos);
    return out;
}

}  // namespace

namespace {
std::atomic<std::uint64_t> next_instance{1};
}  // namespace

jwt_clients::jwt_clients(config::client_access_config cfg,
                         std::shared_ptr<access::identity_provider> idp)
    : cfg_(std::move(cfg)), idp_(std::move(idp)), instance_(next_instance++) {}

jwt_clients::result jwt_clients::resolve_now(std::string_view token,
                                             const std::shared_ptr<const key_snapshot>& base) {
    return map(idp_->verify_now(token), base);
}

boost::asio::awaitable<jwt_clients::result> jwt_clients::resolve(
    std::string token, std::shared_ptr<const key_snapshot> base) {
    auto v = co_await idp_->verify(std::move(token));
    co_return map(v, base);
}

jwt_clients::result jwt_clients::map(const access::identity_provider::outcome& v,
                                     const std::shared_ptr<const key_snapshot>& base) {
    result r;
    if (v.error != access::jwt_error::none) {
        if (v.refetching) {
            r.wait = true;
        } else if (v.no_keys) {
            r.error = http::gateway_error::identity_provider_unavailable;
            r.message = "the identity provider's signing keys could not be fetched yet";
        } else {
            r.message = "invalid token: " + std::string(access::describe(v.error));
        }
        return r;
    }
    // The identity of a token this worker has seen, for the snapshot in force: no claim is
    // read and no lock taken again until the token, the keys or the snapshot change.
    struct remembered {
        std::uint64_t owner = 0;  // an instance number, not an address (one could be reused)
        std::weak_ptr<const key_snapshot> base;  // not a raw pointer: an address is reused
        std::unordered_map<const access::verified_token*,
                           std::pair<std::shared_ptr<const access::verified_token>, result>>
            map;
    };
    thread_local remembered mem;
    if (mem.owner != instance_ || mem.base.owner_before(base) || base.owner_before(mem.base)) {
        mem.map.clear();
        mem.owner = instance_;
        mem.base = base;
    }
    if (auto it = mem.map.find(v.token.get()); it != mem.map.end())
        return it->second.second;
    r = build(*v.token, base);
    if (mem.map.size() >= max_remembered)
        mem.map.clear();
    mem.map.emplace(v.token.get(), std::make_pair(v.token, r));
    return r;
}

jwt_clients::result jwt_clients::build(const access::verified_token& t,
                                       const std::shared_ptr<const key_snapshot>& base) {
    result r;
    const auto& claims = *t.all;
    const auto identity = claims.string(cfg_.identity_claim);
    if (!identity || !usable_identity(*identity)) {
        r.message = "the token has no usable \"" + cfg_.identity_claim + "\" claim to name its key";
        return r;
    }
    const config::client_template_config* tpl = nullptr;
    std::size_t index = 0;
    for (; index < cfg_.templates.size(); ++index) {
        const auto& candidate = cfg_.templates[index];
        if (!candidate.claim) {
            tpl = &candidate;
            break;
        }
        const auto values = claims.strings(*candidate.claim);
        if (std::find(values.begin(), values.end(), candidate.value.value_or("")) != values.end()) {
            tpl = &candidate;
            break;
        }
    }
    if (!tpl || !tpl->key) {
        r.error = http::gateway_error::permission_denied;
        r.message = "no key template of this gateway matches the token's claims";
        return r;
    }
    config::virtual_key_config key = *tpl->key;
    key.id = "jwt:" + *identity;
    std::string missing;
    for (auto* scope : {&key.tenant_id, &key.project_id, &key.user_id}) {
        if (!*scope)
            continue;
        auto v = fill(**scope, claims, missing);
        if (!v) {
            r.error = http::gateway_error::permission_denied;
            r.message =
                "the token has no usable \"" + missing + "\" claim, which its key template needs";
            return r;
        }
        *scope = std::move(*v);
    }
    // One snapshot per identity and its scopes, shared by the workers.
    std::string name = std::to_string(index) + '\n' + key.id + '\n' + key.tenant_id.value_or("") +
                       '\n' + key.project_id.value_or("") + '\n' + key.user_id.value_or("");
    std::lock_guard lock(mu_);
    if (built_for_.owner_before(base) || base.owner_before(built_for_) ||
        built_.size() >= max_identities) {
        built_.clear();
        built_for_ = base;
    }
    auto& snap = built_[name];
    if (!snap)
        snap = std::make_shared<const key_snapshot>(key_list{std::move(key)}, base->router());
    r.snapshot = snap;
    r.key = &snap->keys().front();
    return r;
}

}  // namespace ditto::middleware
