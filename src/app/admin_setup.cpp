#include "admin_setup.hpp"

namespace ditto::app {

std::shared_ptr<admin::control_plane> start_control_plane(const config::cli_options& options,
                                                          config::gateway_config& cfg,
                                                          const store_runtime& store,
                                                          background& bg) {
    admin::control_plane::options cpo;
    // The keys move to the control plane; the rest of the config is copied.
    auto file_keys = std::move(cfg.virtual_keys);
    cpo.base = cfg;
    cpo.base.virtual_keys = std::move(file_keys);
    cpo.live = store.keys;
    if (store.set.name == "redis")
        cpo.shared = store.set.control;
    cpo.shared_version = store.shared_version;
    if (options.state_path)
        cpo.state_file = *options.state_path;
    cpo.audit = store.set.audit;
    cpo.writer = bg.executor();
    auto control = std::make_shared<admin::control_plane>(std::move(cpo));
    control->start();
    return control;
}

std::shared_ptr<admin::admin_api> make_admin_api(const config::cli_options& options,
                                                 const store::store_set& store,
                                                 admin_sources sources) {
    admin::parts ap;
    ap.reload = [reload = sources.reload](std::string actor) {
        return reload_json(reload, "admin", std::move(actor));
    };
    if (options.routing.configured) {
        ap.backends = [health = sources.health] {
            std::string out = "[";
            for (const auto& v : health->snapshot())
                out += (out.size() > 1 ? "," : "") + v.to_json();
            return out + "]";
        };
        ap.reset_backend = [health = sources.health](const std::string& name) {
            return health->reset(name).to_json();
        };
    }
    ap.tokens = std::move(sources.tokens);
    ap.control = std::move(sources.control);
    ap.cache = std::move(sources.cache);
    ap.store = store;
    ap.operators = std::move(sources.operators);
    ap.operators_config = std::move(sources.operators_config);
    return std::make_shared<admin::admin_api>(std::move(ap));
}

}  // namespace ditto::app
