#pragma once

// The ACL rule of docs/redis.md, "Least privilege": the commands one replica sends, directly
// and from its scripts. Shared by the single-Redis and the Cluster tests of that rule.

#include <string>

namespace ditto::test {

/// The commands of docs/redis.md's ACL rule, in its order (RedisAclDoc checks the doc holds it).
inline const std::string k_acl_commands =
    "-@all +ping +select +multi +exec +eval +evalsha +scan +time +get +set +del +exists "
    "+incr +incrby +decrby +expire +pexpire +hget +hgetall +hmget +hset +hsetnx +hdel "
    "+hincrby +sadd +smembers +zadd +zrange +zrangebyscore +zrem +zremrangebyscore "
    "+zrevrangebyscore "
    "+xadd "
    "+xrevrange";

/// What a Redis Cluster needs besides (docs/redis.md, "Redis Cluster").
inline const std::string k_acl_cluster_commands = "+cluster|shards +cluster|slots +asking";

}  // namespace ditto::test
