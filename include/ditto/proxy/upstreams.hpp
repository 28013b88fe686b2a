#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "ditto/config/gateway_config.hpp"
#include "ditto/upstream/backend.hpp"
#include "ditto/upstream/client.hpp"

namespace ditto::proxy {

/// The backends and, for each worker, one connection pool per backend. Backends are shared
/// (thread-safe); a worker's pools are touched only on that worker's thread.
class upstreams {
  public:
    /// Throws std::runtime_error when a backend cannot be built (bad URL, TLS set-up).
    upstreams(const std::vector<config::backend_config>& backends, unsigned workers);

    upstream::backend* find(std::string_view name) const { return backends_.find(name); }
    const upstream::backend_set& backends() const { return backends_; }
    /// Call only on worker `worker`'s thread.
    upstream::pool& pool_for(unsigned worker, const upstream::backend& b);
    /// Closes worker `worker`'s idle connections (called on its thread as it stops).
    void release_worker(unsigned worker);

  private:
    upstream::backend_set backends_;
    std::vector<std::vector<std::unique_ptr<upstream::pool>>> pools_;  ///< [worker][backend]
};

}  // namespace ditto::proxy
