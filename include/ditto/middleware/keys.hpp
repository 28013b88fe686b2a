#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ditto/config/gateway_config.hpp"

namespace ditto::middleware {

/// The virtual keys in force, indexed by token lookup key (sha256 hex). Immutable once
/// built; replaced as a whole when keys change.
class key_snapshot {
  public:
    explicit key_snapshot(const std::vector<config::virtual_key_config>& keys);
    /// The key whose lookup key is `lookup_hex`, or null.
    const config::virtual_key_config* find(std::string_view lookup_hex) const;
    std::size_t size() const { return by_lookup_.size(); }

  private:
    std::unordered_map<std::string, config::virtual_key_config> by_lookup_;
};

/// The live snapshot, swapped atomically (Admin API and Redis propagation will swap it);
/// readers keep the snapshot they loaded for the whole request. Thread-safe.
class live_keys {
  public:
    explicit live_keys(std::shared_ptr<const key_snapshot> initial)
        : current_(std::move(initial)) {}
    std::shared_ptr<const key_snapshot> load() const { return current_.load(); }
    void store(std::shared_ptr<const key_snapshot> next) { current_.store(std::move(next)); }

  private:
    std::atomic<std::shared_ptr<const key_snapshot>> current_;
};

}  // namespace ditto::middleware
