#pragma once

// The Redis store's governor on layout v2 (docs/redis.md, "Layout v2"): one script call to
// admit a governed request (lua/admit.lua), one to settle it with its audit record
// (lua/settle.lua). The gateway names every key; no key is made per request.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ditto/store/governor.hpp"

namespace ditto::store::redis {

class redis_client;

/// `prefix` as the store's; audit records in the stream are trimmed to `audit_retention`
/// (0: kept).
std::shared_ptr<governor> make_redis_governor(std::shared_ptr<redis_client> client,
                                              std::string prefix,
                                              std::chrono::seconds audit_retention,
                                              std::chrono::seconds spend_retention);

/// A served request's spend in a settlement's arguments (lua/settle.lua): its hour and day
/// buckets (added to `keys` once), the row and the amounts; four empty arguments for none.
void spend_args(const std::string& prefix, const std::optional<spend_sample>& spend,
                std::vector<std::string>& keys, std::vector<std::string>& argv);

/// The key of a scope's hash, `<prefix>:scope:<id>`, the id percent-encoded outside
/// `[A-Za-z0-9-._~:]` (a key name holds no space; lua/admit.lua relies on it).
std::string scope_key(const std::string& prefix, const std::string& scope_id);

}  // namespace ditto::store::redis
