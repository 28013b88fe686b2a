#pragma once

#include <memory>
#include <string>

#include "ditto/store/dedup_store.hpp"

namespace ditto::store::redis {

class redis_client;

/// x-request-id records shared by every replica on the prefix (docs/redis.md):
/// `P:proxy_request_idempotency:<record id>` strings, written by dedup_begin.lua and
/// dedup_end.lua.
std::shared_ptr<dedup_store> make_redis_dedup_store(std::shared_ptr<redis_client> client,
                                                    std::string prefix);

}  // namespace ditto::store::redis
