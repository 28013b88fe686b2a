#pragma once

// One cached answer (docs/caching.md) and its byte encoding for the shared (Redis) tier.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ditto::cache {

/// What a purge selector matches on (docs/admin-api.md, "Cache purge").
struct entry_metadata {
    std::string scope;   ///< vk:<key id>
    std::string method;  ///< upper case
    std::string path;    ///< without the query
    std::optional<std::string> model;
    std::string route_partition;
};

struct entry {
    unsigned status = 200;
    std::string backend;
    /// The upstream's headers as they are replayed (hop-by-hop, length and x-ditto-* removed).
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    entry_metadata meta;
    /// `headers` as they go on the wire (`name: value\r\n` each), made once when the entry is
    /// made (wire_headers()): a hit sends them as stored bytes (docs/caching.md). Not encoded.
    std::string wire;

    /// What the entry costs the memory tier's byte bound.
    std::uint64_t bytes() const;
};

/// `e.headers` as they go on the wire, for `entry::wire`.
std::string wire_headers(const entry& e);

/// Compact, binary-safe encoding (docs/caching.md, "Tiers"): a magic and version, the metadata
/// first (so a purge can match without decoding the body), then status, backend, headers and body,
/// each string length-prefixed.
std::string encode(const entry& e);
/// nullopt for anything that is not a whole entry of this version.
std::optional<entry> decode(std::string_view bytes);
std::optional<entry_metadata> decode_metadata(std::string_view bytes);

}  // namespace ditto::cache
