#include "ditto/middleware/keys.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "ditto/config/load.hpp"
#include "ditto/config/serialize.hpp"
#include "ditto/core/hash.hpp"
#include "ditto/middleware/scopes.hpp"
#include "ditto/store/spend_log.hpp"

namespace ditto::middleware {

namespace {

// A digest's bytes are already uniformly distributed: its first eight are the hash.
std::uint64_t hash_of(const core::sha256_digest& d) {
    std::uint64_t h = 0;
    std::memcpy(&h, d.data(), sizeof h);
    return h;
}

}  // namespace

std::string router_version_of(const config::router_config& r) {
    return "r-" + core::sha256_hex(config::router_to_json(r)).substr(0, 12);
}

key_snapshot::routing key_snapshot::router_for(std::string_view request_id) const {
    if (canary_basis_points_ != 0) {
        // Its own mix of the id's hash, not the weighted pick's (route.cpp uses fnv1a64 as
        // is): a request's version says nothing about which of a version's backends it gets.
        std::uint64_t h = core::fnv1a64(request_id) ^ 0x9e3779b97f4a7c15ULL;
        h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
        h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
        h ^= h >> 31;
        if (h % 10'000 < canary_basis_points_)
            return {router_.canary->router.get(), canary_version_, true};
    }
    return {&router_, stable_version_, false};
}

key_snapshot::key_snapshot(const key_list& keys, config::router_config router)
    : key_snapshot(std::make_shared<const key_list>(keys), std::move(router)) {}

key_snapshot::key_snapshot(std::shared_ptr<const key_list> keys, config::router_config router)
    : keys_(keys ? std::move(keys) : std::make_shared<const key_list>()),
      router_(std::move(router)),
      guardrails_(std::make_unique<guardrails_index>(*keys_, router_)) {
    if (keys_->size() >= UINT32_MAX)
        throw std::length_error("key_snapshot: too many virtual keys");
    {
        auto stable = router_;
        stable.canary.reset();
        stable_version_ = router_version_of(stable);
        if (router_.canary && router_.canary->router) {
            canary_version_ = router_version_of(*router_.canary->router);
            canary_basis_points_ = static_cast<std::uint32_t>(router_.canary->percent * 100 + 0.5);
        }
    }
    by_lookup_ = core::flat_index(keys_->size());
    digests_.reserve(keys_->size());
    scopes_.reserve(keys_->size());
    for (std::uint32_t i = 0; i < keys_->size(); ++i) {
        const auto& k = (*keys_)[i];
        digests_.push_back(config::token_lookup_digest(k.token));
        // Validation rejects duplicate tokens; should two slip through, the first one wins.
        const auto& d = digests_.back();
        if (by_lookup_.insert(hash_of(d), i, [&](std::uint32_t j) { return digests_[j] == d; }) ==
            i)
            ++size_;
        key_scopes ks;
        ks.all = scopes_of(k);
        for (const auto& sc : ks.all) {
            if (sc.limits && (sc.limits->rpm || sc.limits->tpm))
                ks.rate.push_back({sc.id, sc.limits->rpm, sc.limits->tpm});
        }
        if (k.previous_token)
            previous_.emplace_back(config::token_lookup_digest(*k.previous_token), i);
        for (const auto& [pattern, m] : k.model_limits) {
            model_scope ms;
            ms.exact = !pattern.ends_with('*');
            ms.prefix = ms.exact ? pattern : pattern.substr(0, pattern.size() - 1);
            ms.scope = model_key_scope(k, pattern, m);
            if (m.rpm || m.tpm)
                ms.rate = store::rate_scope{ms.scope.id, m.rpm, m.tpm};
            ks.models.push_back(std::move(ms));
        }
        ks.spend_head = store::spend_part(k.id) + '|';
        ks.spend_tail = '|' + store::spend_part(k.tenant_id.value_or("")) + '|' +
                        store::spend_part(k.project_id.value_or("")) + '|' +
                        store::spend_part(k.user_id.value_or(""));
        ks.cost_budget = has_cost_budget(k);
        ks.rails = &guardrails_->own(k);
        scopes_.push_back(std::move(ks));
    }
    std::sort(previous_.begin(), previous_.end());
}

std::vector<std::string> key_snapshot::scope_ids() const {
    std::vector<std::string> out;
    for (const auto& ks : scopes_) {
        for (const auto& s : ks.all)
            out.push_back(s.id);
        for (const auto& m : ks.models)
            out.push_back(m.scope.id);
    }
    return out;
}

const key_snapshot::model_scope* key_snapshot::key_scopes::model(std::string_view name) const {
    const model_scope* best = nullptr;
    for (const auto& m : models) {
        if (m.exact && name == m.prefix)
            return &m;
        if (!m.exact && name.starts_with(m.prefix) &&
            (best == nullptr || m.prefix.size() > best->prefix.size()))
            best = &m;
    }
    return best;
}

const config::virtual_key_config* key_snapshot::find(const core::sha256_digest& lookup) const {
    const auto i =
        by_lookup_.find(hash_of(lookup), [&](std::uint32_t j) { return digests_[j] == lookup; });
    return i ? &(*keys_)[*i] : nullptr;
}

const config::virtual_key_config* key_snapshot::find_previous(
    const core::sha256_digest& lookup) const {
    const auto it = std::lower_bound(
        previous_.begin(), previous_.end(), lookup,
        [](const auto& entry, const core::sha256_digest& d) { return entry.first < d; });
    if (it == previous_.end() || it->first != lookup)
        return nullptr;
    return &(*keys_)[it->second];
}

}  // namespace ditto::middleware
