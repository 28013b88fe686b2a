#pragma once

// Active health checks (docs/routing.md, "Health checks"): `GET <base><path>` to every backend (its
// headers and query), at once and then `interval` after each round, at most 8 at a time, each under
// its timeout; a 2xx marks the backend healthy. Runs on the background executor with its own
// connection pools.

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "ditto/proxy/backend_health.hpp"
#include "ditto/proxy/upstreams.hpp"

namespace ditto::proxy {

class health_checker : public std::enable_shared_from_this<health_checker> {
  public:
    health_checker(std::shared_ptr<upstreams> ups, std::shared_ptr<backend_health> health,
                   boost::asio::any_io_executor ex);
    ~health_checker();
    void start();
    /// Ends the loop (any thread); a round in progress finishes its probes.
    void stop();

    struct impl;  ///< the loop's state (health_checker.cpp)

  private:
    std::shared_ptr<impl> impl_;
};

}  // namespace ditto::proxy
