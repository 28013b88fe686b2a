#pragma once

#include <memory>
#include <optional>

#include "background.hpp"
#include "ditto/config/cli.hpp"
#include "ditto/config/gateway_config.hpp"
#include "ditto/config/load.hpp"
#include "ditto/middleware/keys.hpp"
#include "ditto/store/store.hpp"

namespace ditto::app {

/// The opened store. Its connections and change feed are closed once: by the shutdown
/// sequence, before the workers' event loops go (a connection must go before its loop), or
/// when this goes on an early exit — a Redis change feed left running would hold the
/// background thread, and so the exit, for its whole grace period.
struct store_runtime {
    store::store_set set;
    /// Empty until the control plane's bootstrap version fills it (built once, not twice:
    /// a snapshot of a million keys takes a second).
    std::shared_ptr<middleware::live_keys> keys;
    /// The shared store's control version the keys and router came from (0 without one).
    std::uint64_t shared_version = 0;

    store_runtime() = default;
    /// The duty to close moves too.
    store_runtime(store_runtime&& other) noexcept;
    store_runtime& operator=(store_runtime&&) = delete;
    store_runtime(const store_runtime&) = delete;
    store_runtime& operator=(const store_runtime&) = delete;
    ~store_runtime() { close(); }

    /// Runs `set.close` the first time only.
    void close();
    /// After close() and the background's last writes: closes for good what they opened again
    /// (a connection on the background thread), so that it can stop.
    void seal();
};

/// Opens the store the flags ask for: memory by default, Redis with --redis/--redis-env.
/// With Redis it runs the bootstrap (docs/redis.md; after expansion and validation,
/// docs/configuration.md): keys and router already in Redis win over the file's, else the file's
/// are written there with `sha256:` tokens. It then applies the failure policy (docs/redis.md,
/// "Failure modes"); the control plane (admin/) keeps the snapshot live afterwards. With --state
/// the file's keys and router replace the config's (docs/admin-api.md). nullopt: a fatal error,
/// already logged.
std::optional<store_runtime> open_store(const config::cli_options& options,
                                        config::gateway_config& cfg, const config::env_lookup& env,
                                        background& bg);

}  // namespace ditto::app
