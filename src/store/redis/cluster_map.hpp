#pragma once

// What the Redis store knows of a Redis Cluster, without a socket (docs/redis.md, "Redis
// Cluster"): which primary serves each of the 16384 hash slots, the slot of a key, the key a
// command routes by, and the redirections (`MOVED`, `ASK`) a node answers with. Kept apart from
// the connections so that all of it is tested on bytes alone.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/store/redis/redis_reply.hpp"
#include "ditto/store/redis/redis_url.hpp"

namespace ditto::store::redis {

inline constexpr std::size_t cluster_slots = 16384;

/// The slot of `key`: CRC16 (XMODEM) of the key, or of its hash tag (the text between the first
/// `{` and the next `}`, when not empty), mod 16384.
std::uint16_t key_slot(std::string_view key);

/// The key a command is routed by: the first key of an EVAL/EVALSHA (none when it declares no
/// key), none for the commands that take no key (MULTI, EXEC, TIME, SCAN, PING, …), otherwise
/// the first argument.
std::optional<std::string_view> command_key(const std::vector<std::string>& command);
/// The first routing key of a pipeline's commands (MULTI … EXEC: the first queued command's).
std::optional<std::string_view> pipeline_key(const std::vector<std::vector<std::string>>& commands);

struct cluster_map {
    static constexpr std::uint16_t unowned = 0xFFFF;
    std::vector<redis_endpoint> primaries;
    /// Index into `primaries` of each slot's owner, or `unowned`.
    std::array<std::uint16_t, cluster_slots> owner{};

    cluster_map() { owner.fill(unowned); }
    /// The index of `ep` in `primaries`, added when new.
    std::uint16_t index_of(const redis_endpoint& ep);
    /// Slots without an owner (a cluster being set up, or a node lost with no replica).
    std::size_t unowned_slots() const;
};

/// Reads a `CLUSTER SHARDS` reply (Redis 7). A node's address is its `endpoint` (the one the
/// cluster prefers clients to use), or `asked`'s host when that is `?` or empty; its port is
/// `tls-port` under TLS when the node announces one, else `port`. Only healthy primaries
/// count. nullopt and `error` when the reply is not what Redis sends.
std::optional<cluster_map> parse_cluster_shards(const redis_reply& reply,
                                                const redis_endpoint& asked, bool tls,
                                                std::string& error);
/// Reads a `CLUSTER SLOTS` reply (older servers; also what a Redis 7 node without SHARDS
/// support of a proxy answers).
std::optional<cluster_map> parse_cluster_slots(const redis_reply& reply,
                                               const redis_endpoint& asked, std::string& error);

struct cluster_redirect {
    bool ask = false;  ///< ASK: this command only; MOVED: the slot has moved for good
    std::uint16_t slot = 0;
    redis_endpoint to;
};
/// `MOVED 3999 127.0.0.1:6381`, `ASK 3999 [::1]:6381`, `MOVED 3999 :6381` (the host unknown:
/// `asked`'s); nullopt for any other reply.
std::optional<cluster_redirect> parse_redirect(const redis_reply& reply,
                                               const redis_endpoint& asked);

}  // namespace ditto::store::redis
