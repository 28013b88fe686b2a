#include "ditto/app/run.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "admin_setup.hpp"
#include "audit_filter.hpp"
#include "background.hpp"
#include "ditto/access/identity_provider.hpp"
#include "ditto/admin/admin_tokens.hpp"
#include "ditto/log/log.hpp"
#include "ditto/store/background_writes.hpp"
#include "handler_setup.hpp"
#include "serving.hpp"
#include "signal_watch.hpp"
#include "startup_config.hpp"
#include "store_policy.hpp"
#include "store_setup.hpp"

namespace ditto::app {

// Start-up in stages (docs/architecture.md, "Start-up and shutdown"). Each resource is an
// object that releases itself, declared in the order it is acquired, so an early `return 1`
// (or an exception) releases what exists so far in reverse order, the way the normal path
// does after the drain.
int run(const config::cli_options& options) {
    const log_session logs(options);

    // 1. Configuration: nothing to release yet.
    auto file = read_config(options);
    if (!file)
        return 1;
    if (options.check_config)
        return report_config_check(options, *file);
    auto sc = prepare_startup(options, std::move(*file));
    if (!sc)
        return 1;

    // 2. The background thread and the store. The thread settles torn-down requests and runs
    // the lease reaper and the store's change feed, off the workers; it is stopped last, so
    // that shutdown settles what the workers leave open.
    background bg;
    auto store = open_store(options, sc->cfg, sc->env, bg);
    if (!store)
        return 1;
    store->set.audit =
        with_redaction(store->set.audit, sc->redact, sc->cfg.observability.sampling.audit_rate);
    // Over the parts as the gateway uses them: outage policies, redaction and sampling.
    const bool fail_open = options.redis_failure_mode == "open";
    if (store->set.name == "redis" && options.redis_layout == 2) {
        store->set.governance = with_governor_outages(store->set.governance, store->set.audit,
                                                      fail_open, bg.executor());
    } else {
        store->set.governance = store::make_composite_governor(store->set, fail_open);
    }
    std::string token_error;
    auto admin_tokens = admin::resolve_admin_tokens(options, sc->env, token_error);
    if (!admin_tokens) {
        log::error("config.error", token_error);
        return 1;
    }

    // 3. The control plane, then everything that answers requests.
    const auto summary = config_summary(sc->cfg);  // before the keys move out of the config
    auto control = start_control_plane(options, sc->cfg, *store, bg);
    auto handling =
        build_request_handling(options, *sc, *store, control, std::move(*admin_tokens), bg);
    if (!handling)
        return 1;
    // The background loops (span export, store gauges) end with the handling on every path out,
    // or they would hold the background thread for its whole grace at exit.
    struct stop_loops {
        request_handling& h;
        void now() const {  // idempotent: each stop() acts once
            if (h.traces)
                h.traces->stop();  // the spans still queued get one last export
            if (h.gauges)
                h.gauges->stop();
            for (const auto& issuer : h.issuers)
                issuer->stop();
        }
        ~stop_loops() { now(); }
    } loops{*handling};

    // 4. The server, and the signals that end it.
    signal_watch signals(options, handling->reload, bg);
    {
        serving srv(sc->server, handling->handler, {handling->checker, *store, *control, bg});
        signals.arm(srv.server());
        if (!srv.start(options.listen, summary))
            return 1;
        // 5. Serve until a signal has drained and stopped the server.
        signals.wait();
    }             // 6. The shutdown sequence (serving's destructor).
    loops.now();  // before the background thread's grace below
    // 7. Writes left to the background thread (settlements of requests the workers left,
    // retries after an outage) get the grace to finish, on a connection of their own; then the
    // store is sealed (anything later fails at once instead of opening a connection), and the
    // thread can stop. Here rather than in bg's destructor:
    // `server.stopped` comes after them.
    const auto grace_end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (store::background_writes.load(std::memory_order_acquire) > 0 &&
           std::chrono::steady_clock::now() < grace_end)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    store->seal();
    bg.stop(std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                         grace_end - std::chrono::steady_clock::now()),
                     std::chrono::milliseconds(100)));
    log::info("server.stopped", "stopped");
    return 0;
}

}  // namespace ditto::app
