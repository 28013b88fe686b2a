#pragma once

// The whole store interface (docs/architecture.md): what the middleware and the Admin API
// see. The composition root (app/) picks the implementation: memory now, Redis next.

#include <memory>
#include <string>

#include "ditto/store/audit_log.hpp"
#include "ditto/store/budget_store.hpp"
#include "ditto/store/control_store.hpp"
#include "ditto/store/rate_limiter.hpp"

namespace ditto::store {

struct store_set {
    std::string name;  ///< "memory" or "redis"
    std::shared_ptr<rate_limiter> limits;
    std::shared_ptr<budget_store> budgets;
    std::shared_ptr<audit_log> audit;
    std::shared_ptr<control_store> control;
};

}  // namespace ditto::store
