#include "ditto/middleware/keys.hpp"

#include "ditto/config/load.hpp"
#include "ditto/middleware/scopes.hpp"

namespace ditto::middleware {

key_snapshot::key_snapshot(const std::vector<config::virtual_key_config>& keys,
                           config::router_config router)
    : router_(std::move(router)), guardrails_(std::make_unique<guardrails_index>(keys, router_)) {
    by_lookup_.reserve(keys.size());
    for (const auto& k : keys)
        by_lookup_.emplace(config::token_lookup_key(k.token), k);
    scopes_.reserve(by_lookup_.size());
    for (const auto& [lookup, k] : by_lookup_) {
        key_scopes ks;
        ks.all = scopes_of(k);
        for (const auto& sc : ks.all) {
            if (sc.limits && (sc.limits->rpm || sc.limits->tpm))
                ks.rate.push_back({sc.id, sc.limits->rpm, sc.limits->tpm});
        }
        ks.cost_budget = has_cost_budget(k);
        scopes_.emplace(&k, std::move(ks));
    }
}

const key_snapshot::key_scopes& key_snapshot::scopes(const config::virtual_key_config& key) const {
    return scopes_.at(&key);
}

std::vector<std::string> key_snapshot::scope_ids() const {
    std::vector<std::string> out;
    for (const auto& [lookup, k] : by_lookup_) {
        for (auto& s : scopes_of(k))
            out.push_back(std::move(s.id));
    }
    return out;
}

const config::virtual_key_config* key_snapshot::find(std::string_view lookup_hex) const {
    auto it = by_lookup_.find(std::string(lookup_hex));
    return it == by_lookup_.end() ? nullptr : &it->second;
}

}  // namespace ditto::middleware
