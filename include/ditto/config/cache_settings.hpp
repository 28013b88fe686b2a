#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ditto::config {

/// The proxy cache's settings (the proxy-cache flags of docs/cli.md, docs/caching.md). Any cache
/// flag enables it; the CLI raises a 0 to 1.
struct proxy_cache_settings {
    bool enabled = false;
    std::uint64_t ttl_seconds = 60;
    std::uint64_t max_entries = 1024;
    std::uint64_t max_body_bytes = 1024 * 1024;
    std::uint64_t max_total_body_bytes = 64ULL * 1024 * 1024;
    bool streaming = false;  ///< also store completed SSE streams
    std::uint64_t max_stream_body_bytes = 1024 * 1024;
    /// Ours: how long a concurrent identical miss waits for the first one's answer before
    /// going upstream itself.
    std::uint64_t wait_ms = 30'000;
    /// Ours: header names (lower case) that vary the key besides the built-in allow-list.
    std::vector<std::string> key_headers;
};

}  // namespace ditto::config
