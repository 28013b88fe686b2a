#pragma once

#include <memory>
#include <string>

#include "background.hpp"
#include "ditto/admin/control_plane.hpp"
#include "ditto/http/server.hpp"
#include "ditto/proxy/health_checker.hpp"
#include "store_setup.hpp"

namespace ditto::app {

/// The HTTP server, from its construction to the end of the shutdown sequence. Whatever way
/// run() leaves once this exists (after the drain, when the address cannot be bound, on an
/// exception), its destructor stops the same things in the same order:
///
///   1. the server's workers (their threads joined; the drain has usually done it already);
///   2. the backend health checks;
///   3. the store's connections, some of which live on the workers' event loops;
///   4. the memory trim, which calls into the server;
///   5. waits for a running admin change, which holds a worker's event loop;
///   6. destroys the server and so the workers' event loops.
///
/// The background thread stops after that (it settles what the workers left open).
class serving {
  public:
    /// What must let go of the workers' event loops before they are destroyed.
    struct dependents {
        std::shared_ptr<proxy::health_checker> checker;  ///< may be null
        store_runtime& store;
        admin::control_plane& control;
        background& bg;
    };
    serving(http::server_options options, std::shared_ptr<http::handler> handler, dependents deps);
    ~serving();
    serving(const serving&) = delete;
    serving& operator=(const serving&) = delete;

    http::server& server() { return *server_; }

    /// Binds, starts the workers and the memory trim, and logs `server.listening`. False: the
    /// address cannot be bound (logged).
    bool start(const std::string& listen, const std::string& config_summary);

  private:
    http::server_options options_;
    dependents deps_;
    std::unique_ptr<http::server> server_;
};

}  // namespace ditto::app
