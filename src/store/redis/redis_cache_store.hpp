#pragma once

#include <memory>
#include <string>

#include "ditto/store/cache_store.hpp"

namespace ditto::store::redis {

class redis_client;

/// The proxy cache's shared tier (docs/redis.md): `P:proxy_cache:<key>` strings with EX.
std::shared_ptr<cache_store> make_redis_cache_store(std::shared_ptr<redis_client> client,
                                                    std::string prefix);

}  // namespace ditto::store::redis
