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

struct store_runtime {
    store::store_set set;
    std::shared_ptr<middleware::live_keys> keys;
    std::shared_ptr<void> reloader;  ///< keeps the change-feed handler alive (not the store)
};

/// Opens the store the flags ask for: memory by default, Redis with --redis/--redis-env.
/// With Redis it runs the bootstrap (SPEC §2.3, after expansion and validation as §0.7
/// wants): keys and router already in Redis win over the file's, else the file's are written
/// there with `sha256:` tokens. It then keeps the key snapshot live (§0.1) and applies the
/// failure policy (§0.8). nullopt: a fatal error, already logged.
std::optional<store_runtime> open_store(const config::cli_options& options,
                                        config::gateway_config& cfg, const config::env_lookup& env,
                                        background& bg);

}  // namespace ditto::app
