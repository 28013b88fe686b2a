#pragma once

// The control-plane part of the store interface (docs/admin-api.md, docs/redis.md): the virtual
// keys and router as JSON documents, with a version and a change feed. The store keeps opaque JSON
// (the config layer parses it), so the store layer needs no config types.

#include <boost/asio/awaitable.hpp>
#include <boost/system/errc.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ditto::store {

struct control_state {
    /// (id, key as a JSON object with its token as `sha256:<hex>`), sorted by id.
    std::vector<std::pair<std::string, std::string>> keys;
    std::optional<std::string> router_json;
    std::uint64_t version = 0;  ///< bumped by every save
};

struct control_save {
    boost::system::error_code error;  ///< control_conflict(): the version moved on
    std::uint64_t version = 0;        ///< the stored version after this save
};

/// The error of a save whose expected version is no longer the stored one (another writer,
/// perhaps on another replica, saved first).
inline boost::system::error_code control_conflict() noexcept {
    return boost::system::errc::make_error_code(boost::system::errc::operation_in_progress);
}

struct control_load {
    boost::system::error_code error;
    std::optional<control_state> state;  ///< nullopt: nothing saved yet (bootstrap)
};

/// Thread-safe.
class control_store {
  public:
    virtual ~control_store() = default;
    virtual boost::asio::awaitable<control_load> load() = 0;
    /// Replaces keys and router as one write, then notifies every watcher (on every
    /// replica sharing the store). With `expected_version`, only if the stored version is
    /// still that one (compare-and-set; 0 = nothing saved yet), else control_conflict().
    virtual boost::asio::awaitable<control_save> save(
        control_state next, std::optional<std::uint64_t> expected_version) = 0;
    /// `on_change(version)` runs after a save, on an unspecified thread; it should reload.
    virtual void watch(std::function<void(std::uint64_t)> on_change) = 0;
};

}  // namespace ditto::store
