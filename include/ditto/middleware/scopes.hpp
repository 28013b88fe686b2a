#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ditto/config/gateway_config.hpp"
#include "ditto/core/time_zone.hpp"

namespace ditto::middleware {

/// One scope a key's request is counted in (docs/governance.md, "Rate limits"), with what it is
/// limited by.
struct key_scope {
    std::string id;  ///< `key-1`, `tenant:t`, `tenant:t:project:p`, `project:p`, `user:u`, …
    const config::limits_config* limits = nullptr;  ///< null: the scope has no limits
    const config::budget_config* budget = nullptr;  ///< null: the scope has no budget
    /// A day, week or month budget's time zone (zones are cached for the process's life).
    const core::time_zone* zone = nullptr;
};

/// The key itself, then its tenant, project and user — each only when its id is set.
std::vector<key_scope> scopes_of(const config::virtual_key_config& key);

/// A `model_limits` entry's scope: `<key>#model:<pattern>`, with the entry's budget.
key_scope model_key_scope(const config::virtual_key_config& key, const std::string& pattern,
                          const config::model_limit_config& limits);

/// Every scope's budget as configured, by scope id (a scope shared by keys takes the first
/// key's), `model_limits` entries included: what the Admin API and the budget gauges compare
/// ledgers with.
std::map<std::string, const config::budget_config*, std::less<>> budgets_by_scope(
    const std::vector<config::virtual_key_config>& keys);

/// The limit of a ledger in `cfg`'s unit (USD micros when `costs`), if it has one. The limit is
/// the ledger's only when both are of one kind: a lifetime ledger left from before a budget got
/// a period is not "exhausted" by it.
std::optional<std::uint64_t> ledger_limit(const config::budget_config* cfg, bool period_ledger,
                                          bool costs);

/// True when the key or one of its scopes has a USD budget (the cost policy applies).
bool has_cost_budget(const config::virtual_key_config& key);

}  // namespace ditto::middleware
