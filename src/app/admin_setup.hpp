#pragma once

// The keys-and-router control plane and the Admin API over it (docs/admin-api.md).

#include <memory>

#include "background.hpp"
#include "ditto/admin/admin_api.hpp"
#include "ditto/admin/control_plane.hpp"
#include "ditto/cache/response_cache.hpp"
#include "ditto/config/cli.hpp"
#include "ditto/config/gateway_config.hpp"
#include "ditto/proxy/backend_health.hpp"
#include "reload.hpp"
#include "store_setup.hpp"

namespace ditto::app {

/// Builds the control plane from the config's keys and router (moved out of `cfg`: no copy
/// of a million keys) and follows the shared store's change feed. Admin changes and other
/// replicas' changes run through it one at a time on the background thread.
std::shared_ptr<admin::control_plane> start_control_plane(const config::cli_options& options,
                                                          config::gateway_config& cfg,
                                                          const store_runtime& store,
                                                          background& bg);

/// What the Admin API serves beside the control plane.
struct admin_sources {
    admin::admin_tokens tokens;
    std::shared_ptr<admin::control_plane> control;
    std::shared_ptr<cache::response_cache> cache;  ///< null without --proxy-cache
    std::shared_ptr<proxy::backend_health> health;
    std::shared_ptr<reloader> reload;
    std::shared_ptr<access::identity_provider> operators;  ///< access.operators; null without
    std::optional<config::operator_access_config> operators_config;
};

std::shared_ptr<admin::admin_api> make_admin_api(const config::cli_options& options,
                                                 const store::store_set& store,
                                                 admin_sources sources);

}  // namespace ditto::app
