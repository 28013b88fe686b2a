#pragma once

// Layout v2 for a Redis store set (docs/redis.md, "Layout v2"): its governor, its ledgers and
// reaper, and its audit log (a stream).

#include <chrono>
#include <memory>
#include <string>

#include "ditto/store/store.hpp"

namespace ditto::store::redis {

class redis_client;

/// The start-up check of the prefix's key layout (store_set::claim): refuses a prefix that holds
/// the other layout; layout 2 marks the prefix as its own, and with `migrate` moves a prefix of
/// layout 1 to layout 2 first (lua/migrate.lua).
std::function<boost::asio::awaitable<std::optional<std::string>>()> layout_claim(
    std::shared_ptr<redis_client> client, std::string prefix, int layout, bool migrate);

/// Replaces the set's budgets, audit log and governor with layout v2's.
void use_layout_v2(store_set& s, std::shared_ptr<redis_client> client, const std::string& prefix,
                   std::chrono::seconds audit_retention, std::chrono::seconds spend_retention);

}  // namespace ditto::store::redis
