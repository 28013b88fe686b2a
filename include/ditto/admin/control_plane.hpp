#pragma once

// The control plane (docs/admin-api.md, "How a change is made" and "Config versions"; docs/redis.md
// for other replicas): the virtual keys and router in force, their version history, and the one way
// to change them — serialised, validated, persisted (Redis with compare-and-set, or the --state
// file), swapped into the live key snapshot, versioned and audited. With Redis, changes made by
// other replicas arrive through the store's change feed and are adopted the same way.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ditto/config/gateway_config.hpp"
#include "ditto/config/load.hpp"
#include "ditto/middleware/keys.hpp"
#include "ditto/store/audit_log.hpp"
#include "ditto/store/control_store.hpp"

namespace ditto::admin {

/// Text computed on first use, once, whichever thread asks first; copies share it. A million
/// keys take most of a second to hash, and nothing needs the hash of the version the gateway
/// starts with until someone asks the Admin API.
class lazy_text {
  public:
    lazy_text() = default;
    explicit lazy_text(std::function<std::string()> make);
    const std::string& get() const;

  private:
    struct state;
    std::shared_ptr<state> s_;
};

/// A config version's info (docs/admin-api.md, "Config versions").
struct version_info {
    std::string version_id;  ///< cfgv-<20 digits>
    std::int64_t created_at_ms = 0;
    std::string reason;
    std::size_t virtual_key_count = 0;
    lazy_text virtual_keys_sha256;
    std::size_t router_default_backend_count = 0;
    std::size_t router_rule_count = 0;
    std::string router_sha256;

    std::string to_json() const;
};

struct config_version {
    version_info info;
    /// Sorted by id, tokens as held in memory; shared with the key snapshot built from it.
    std::shared_ptr<const middleware::key_list> keys;
    config::router_config router;
};

/// `payload` (a JSON object) with `"actor": actor_json` as its first member; unchanged when
/// actor_json is empty.
std::string with_actor(std::string payload, const std::string& actor_json);

/// Sorts keys by id (bytewise), the order of a version's keys.
void sort_by_id(std::vector<config::virtual_key_config>& keys);

/// The hashes of docs/admin-api.md, "Config versions", over the canonical JSON of
/// docs/configuration.md (tokens raw, as held in memory): "ditto-gateway-config-version-v1|" + the
/// JSON array of the keys in id order.
std::string keys_sha256(const std::vector<config::virtual_key_config>& keys);
std::string router_sha256(const config::router_config& router);

/// An Admin API error (ADM shape).
struct admin_failure {
    unsigned status = 400;
    std::string code;
    std::string message;
};

class control_plane : public std::enable_shared_from_this<control_plane> {
  public:
    struct options {
        /// Backends (for validation) and the initial keys/router; the keys are moved out
        /// (the versions and the live snapshot share one list).
        config::gateway_config base;
        std::shared_ptr<middleware::live_keys> live;
        /// The shared store (Redis); null without one.
        std::shared_ptr<store::control_store> shared;
        std::uint64_t shared_version = 0;  ///< the stored version `base` came from
        /// --state: written after every change (tmp + rename, 0600).
        std::optional<std::filesystem::path> state_file;
        std::shared_ptr<store::audit_log> audit;
        /// Where writers run, one at a time (a single thread).
        boost::asio::any_io_executor writer;
    };
    explicit control_plane(options o);
    ~control_plane();

    /// Follows the shared store's change feed (other replicas' writes).
    void start();

    std::shared_ptr<const config_version> current() const;
    /// Newest first; at most 100 are kept.
    std::vector<std::shared_ptr<const config_version>> history() const;
    std::shared_ptr<const config_version> find(std::string_view version_id) const;
    const std::vector<config::backend_config>& backends() const { return base_.backends; }
    bool has_shared_store() const { return shared_ != nullptr; }

    /// Edits the staged keys and router; a failure aborts the change.
    using change_fn = std::function<std::optional<admin_failure>(
        std::vector<config::virtual_key_config>& keys, config::router_config& router)>;

    struct outcome {
        std::optional<admin_failure> failure;  ///< nothing changed
        bool noop = false;                     ///< valid, but nothing to change (or dry run)
        std::shared_ptr<const config_version> before;
        std::shared_ptr<const config_version> after;  ///< the new version (or the would-be one)
        std::optional<std::string> audit_error;       ///< applied, but the audit record failed
    };
    struct request {
        std::string reason;  ///< the version's reason
        change_fn change;
        std::string audit_kind;  ///< empty: no audit record
        /// Builds the audit payload (a JSON object); by default {version_id,
        /// previous_version_id, reason, virtual_keys_sha256, router_sha256}.
        std::function<std::string(const config_version& before, const config_version& after)>
            audit_payload;
        bool dry_run = false;
        /// Who asked (principal::actor_json()), put first in the audit payload as `actor`;
        /// empty: none (a SIGHUP).
        std::string actor_json;
    };
    /// Runs `r` on the writer executor after every earlier change: stage, validate (400
    /// invalid_request), persist (500 storage_error; nothing changed), swap the live
    /// snapshot, record the version, append the audit record.
    boost::asio::awaitable<outcome> mutate(request r);

    /// Waits up to `limit` until no change is running or queued and the writer holds nothing
    /// of a caller's event loop any more (the caller's coroutine and a work guard on it, until
    /// the answer is posted there). At shutdown the workers' event loops are destroyed while
    /// the writer (the background thread) still runs: they may go only once this is true.
    bool wait_idle(std::chrono::milliseconds limit) const;

  private:
    struct writer_lock;
    struct reply_to_caller;
    template <class Handler>
    struct reply_to;
    static boost::asio::awaitable<void> run_and_reply(std::shared_ptr<control_plane> self,
                                                      request r,
                                                      std::unique_ptr<reply_to_caller> reply);
    static boost::asio::awaitable<outcome> run_mutation(std::shared_ptr<control_plane> self,
                                                        request r);
    static boost::asio::awaitable<void> adopt_from_store(std::shared_ptr<control_plane> self);
    // Under the writer lock.
    boost::asio::awaitable<bool> reload_locked();
    std::optional<admin_failure> write_state_file(const config_version& v) const;
    std::shared_ptr<const config_version> push(std::shared_ptr<const middleware::key_list> keys,
                                               config::router_config router, std::string reason);

    config::gateway_config base_;
    std::shared_ptr<middleware::live_keys> live_;
    std::shared_ptr<store::control_store> shared_;
    std::uint64_t shared_version_;
    std::optional<std::filesystem::path> state_file_;
    std::shared_ptr<store::audit_log> audit_;
    boost::asio::any_io_executor writer_;
    std::unique_ptr<writer_lock> lock_;
    /// Changes asked for whose answer has not yet been handed back to the caller's executor.
    std::atomic<std::size_t> pending_{0};

    mutable std::mutex mu_;                                       ///< guards versions_ and next_id_
    std::deque<std::shared_ptr<const config_version>> versions_;  ///< newest first
    std::uint64_t next_id_ = 1;
};

/// Keys and router as the shared store and the state file keep them (`sha256:` tokens).
store::control_state stored_state(const std::vector<config::virtual_key_config>& keys,
                                  const config::router_config& router);

/// Parses a stored state and validates it against `base`'s backends; the result replaces
/// base's keys (and router, when stored). False with the problems in `diag`.
bool apply_stored_state(const store::control_state& s, config::gateway_config& base,
                        config::diagnostics& diag);

}  // namespace ditto::admin
