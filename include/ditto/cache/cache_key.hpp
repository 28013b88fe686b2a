#pragma once

// The cache key, with our header allow-list (docs/caching.md, "The key").

#include <string>
#include <string_view>
#include <vector>

#include "ditto/http/message.hpp"

namespace ditto::cache {

/// sha256_hex("ditto-proxy-route-v1|" + Σ(trimmed non-empty candidate + "\x1f")).
std::string route_partition(const std::vector<std::string>& candidates);

/// True for a header that can change the upstream's answer and so varies the key:
/// `openai-*`, `anthropic-*`, `accept`, `content-type`, and `extra` (lower-case names).
bool varies_key(std::string_view lower_name, const std::vector<std::string>& extra);

/// "ditto-proxy-cache-v3-" + sha256_hex("ditto-proxy-cache-v3|" + METHOD + "|" +
/// path_and_query + "|" + scope + "|" + route_partition + "|" + H + "|" + body), where H is
/// each varying header name (lower case, sorted, distinct) + ":" + Σ(value + "\x1f") + "\n".
std::string cache_key(const http::request& req, std::string_view path_and_query,
                      std::string_view scope, std::string_view route_partition,
                      std::string_view body, const std::vector<std::string>& extra_headers);

}  // namespace ditto::cache
