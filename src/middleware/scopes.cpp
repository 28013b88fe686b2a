#include "ditto/middleware/scopes.hpp"

namespace ditto::middleware {

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
    return out;
}

bool has_cost_budget(const config::virtual_key_config& key) {
    const auto usd = [](const std::optional<config::budget_config>& b) {
        return b && b->total_usd_micros;
    };
    return key.budget.total_usd_micros || usd(key.tenant_budget) || usd(key.project_budget) ||
           usd(key.user_budget);
}

}  // namespace ditto::middleware
