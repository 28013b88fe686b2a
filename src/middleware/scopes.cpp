#include "ditto/middleware/scopes.hpp"

namespace ditto::middleware {
namespace {

// Validation has located the zone (config/parse.cpp); should its file vanish since, UTC.
const core::time_zone* zone_of(const config::budget_config& b) {
    std::string error;
    auto z = core::time_zone::locate(b.timezone.empty() ? "UTC" : b.timezone, error);
    return z ? z.get() : core::time_zone::utc().get();
}

}  // namespace

std::vector<key_scope> scopes_of(const config::virtual_key_config& key) {
    std::vector<key_scope> out;
    out.reserve(4);
    out.push_back({key.id, &key.limits, &key.budget});
    const auto ptr = [](const auto& opt) { return opt ? &*opt : nullptr; };
    const std::string tenant = key.tenant_id ? "tenant:" + *key.tenant_id + ":" : "";
    if (key.tenant_id)
        out.push_back({"tenant:" + *key.tenant_id, ptr(key.tenant_limits), ptr(key.tenant_budget)});
    if (key.project_id) {
        out.push_back({tenant + "project:" + *key.project_id, ptr(key.project_limits),
                       ptr(key.project_budget)});
    }
    if (key.user_id)
        out.push_back(
            {tenant + "user:" + *key.user_id, ptr(key.user_limits), ptr(key.user_budget)});
    for (auto& s : out) {
        if (s.budget && s.budget->period != config::budget_period::lifetime)
            s.zone = zone_of(*s.budget);
    }
    return out;
}

key_scope model_key_scope(const config::virtual_key_config& key, const std::string& pattern,
                          const config::model_limit_config& limits) {
    key_scope s{key.id + "#model:" + pattern};
    if (limits.budget) {
        s.budget = &*limits.budget;
        if (s.budget->period != config::budget_period::lifetime)
            s.zone = zone_of(*s.budget);
    }
    return s;
}

std::map<std::string, const config::budget_config*, std::less<>> budgets_by_scope(
    const std::vector<config::virtual_key_config>& keys) {
    std::map<std::string, const config::budget_config*, std::less<>> out;
    for (const auto& k : keys) {
        for (const auto& s : scopes_of(k)) {
            if (s.budget)
                out.emplace(s.id, s.budget);
        }
        for (const auto& [pattern, m] : k.model_limits) {
            if (m.budget)
                out.emplace(k.id + "#model:" + pattern, &*m.budget);
        }
    }
    return out;
}

std::optional<std::uint64_t> ledger_limit(const config::budget_config* cfg, bool period_ledger,
                                          bool costs) {
    if (!cfg || (cfg->period != config::budget_period::lifetime) != period_ledger)
        return std::nullopt;
    return costs ? cfg->total_usd_micros : cfg->total_tokens;
}

bool has_cost_budget(const config::virtual_key_config& key) {
    const auto usd = [](const std::optional<config::budget_config>& b) {
        return b && b->total_usd_micros;
    };
    for (const auto& [pattern, m] : key.model_limits) {
        if (usd(m.budget))
            return true;
    }
    return key.budget.total_usd_micros || usd(key.tenant_budget) || usd(key.project_budget) ||
           usd(key.user_budget);
}

}  // namespace ditto::middleware
