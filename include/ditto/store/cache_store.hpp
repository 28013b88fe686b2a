#pragma once

// The proxy cache's shared tier (docs/caching.md, "Tiers"): opaque entries under the cache key with
// a time to live. Implemented by the Redis store only; without Redis the cache is memory-only.
// Errors are reported, and the cache treats them as misses, never as request failures.

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ditto::store {

struct cache_get_result {
    boost::system::error_code error;
    std::optional<std::string> value;  ///< nullopt: no such entry (or an error)
};

struct cache_purge_result {
    boost::system::error_code error;
    std::uint64_t deleted = 0;  ///< deleted before any error
};

class cache_store {
  public:
    virtual ~cache_store() = default;
    virtual boost::asio::awaitable<cache_get_result> get(std::string key) = 0;
    virtual boost::asio::awaitable<boost::system::error_code> set(std::string key,
                                                                  std::string value,
                                                                  std::uint64_t ttl_seconds) = 0;
    virtual boost::asio::awaitable<cache_purge_result> erase(std::string key) = 0;
    /// Deletes every entry whose value `match` accepts (every entry when `match` is empty).
    virtual boost::asio::awaitable<cache_purge_result> purge(
        std::function<bool(std::string_view value)> match) = 0;
};

}  // namespace ditto::store
