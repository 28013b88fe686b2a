#pragma once

// Hot reload (docs/deployment.md): SIGHUP or `POST /admin/config/reload` re-reads
// gateway.json, validates it, and swaps in its keys and router through the control plane —
// without dropping a connection. An invalid file, or one whose backends changed, changes
// nothing (backends are built once; a change needs a restart).

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "ditto/admin/control_plane.hpp"
#include "ditto/config/cli.hpp"

namespace ditto::app {

struct reload_result {
    bool applied = false;
    bool noop = false;
    std::string error;  ///< why nothing changed
    std::string version_id;
};

class reloader {
  public:
    /// `keys_from_file`: the file owns keys and router (no --state, no --redis); otherwise
    /// they belong to the Admin API and the store, and a reload only re-validates.
    reloader(config::cli_options options, std::vector<config::backend_config> running_backends,
             std::shared_ptr<admin::control_plane> control, bool keys_from_file)
        : options_(std::move(options)),
          backends_(std::move(running_backends)),
          control_(std::move(control)),
          keys_from_file_(keys_from_file) {}

    /// `actor`: who asked (the Admin API caller's principal::actor_json()), for the audit record.
    boost::asio::awaitable<reload_result> reload(std::string trigger, std::string actor = {});
    /// `{"applied":…,"noop":…,"version_id":…}` or `{"applied":false,"error":…}`.
    static std::string to_json(const reload_result& r);

  private:
    config::cli_options options_;
    std::vector<config::backend_config> backends_;
    std::shared_ptr<admin::control_plane> control_;
    bool keys_from_file_;
};

/// Runs `r->reload(trigger)` and renders the result (for the Admin API and SIGHUP).
boost::asio::awaitable<std::string> reload_json(std::shared_ptr<reloader> r, std::string trigger,
                                                std::string actor = {});

}  // namespace ditto::app
