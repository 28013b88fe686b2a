#include "ditto/middleware/keys.hpp"

#include <cstring>
#include <stdexcept>

#include "ditto/config/load.hpp"
#include "ditto/middleware/scopes.hpp"

namespace ditto::middleware {

namespace {

// A digest's bytes are already uniformly distributed: its first eight are the hash.
std::uint64_t hash_of(const core::sha256_digest& d) {
    std::uint64_t h = 0;
    std::memcpy(&h, d.data(), sizeof h);
    return h;
}

}  // namespace

key_snapshot::key_snapshot(const key_list& keys, config::router_config router)
    : key_snapshot(std::make_shared<const key_list>(keys), std::move(router)) {}

key_snapshot::key_snapshot(std::shared_ptr<const key_list> keys, config::router_config router)
    : keys_(keys ? std::move(keys) : std::make_shared<const key_list>()),
      router_(std::move(router)),
      guardrails_(std::make_unique<guardrails_index>(*keys_, router_)) {
    if (keys_->size() >= UINT32_MAX)
        throw std::length_error("key_snapshot: too many virtual keys");
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
        ks.cost_budget = has_cost_budget(k);
        ks.rails = &guardrails_->own(k);
        scopes_.push_back(std::move(ks));
    }
}

std::vector<std::string> key_snapshot::scope_ids() const {
    std::vector<std::string> out;
    for (const auto& ks : scopes_) {
        for (const auto& s : ks.all)
            out.push_back(s.id);
    }
    return out;
}

const config::virtual_key_config* key_snapshot::find(const core::sha256_digest& lookup) const {
    const auto i =
        by_lookup_.find(hash_of(lookup), [&](std::uint32_t j) { return digests_[j] == lookup; });
    return i ? &(*keys_)[*i] : nullptr;
}

}  // namespace ditto::middleware
