#include "ditto/proxy/upstreams.hpp"

namespace ditto::proxy {

upstreams::upstreams(const std::vector<config::backend_config>& backends, unsigned workers)
    : backends_(backends) {
    pools_.resize(workers == 0 ? 1 : workers);
    for (auto& per_worker : pools_) {
        for (const auto& b : backends_.all()) {
            per_worker.push_back(std::make_unique<upstream::pool>(*b));
        }
    }
}

upstream::pool& upstreams::pool_for(unsigned worker, const upstream::backend& b) {
    return *pools_.at(worker).at(backends_.index_of(b));
}

void upstreams::release_worker(unsigned worker) {
    if (worker >= pools_.size())
        return;
    for (auto& p : pools_[worker]) {
        p = std::make_unique<upstream::pool>(p->target());  // the old one closes its idle set
    }
}

}  // namespace ditto::proxy
