#include "serving.hpp"

#include "ditto/log/log.hpp"

namespace ditto::app {

serving::serving(http::server_options options, std::shared_ptr<http::handler> handler,
                 dependents deps)
    : options_(std::move(options)),
      deps_(std::move(deps)),
      server_(std::make_unique<http::server>(options_, std::move(handler))) {}

bool serving::start(const std::string& listen, const std::string& config_summary) {
    try {
        server_->start();
    } catch (const std::exception& e) {
        log::error("server.error", std::string("cannot listen on ") + listen + ": " + e.what());
        return false;
    }
    const auto& host = options_.host;
    log::info("server.listening",
              "listening on http://" +
                  (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                  std::to_string(server_->port()),
              {{"workers", std::to_string(options_.workers)}, {"config", config_summary}});
    auto& srv = *server_;
    deps_.bg.start_memory_trim(
        [&srv] { return std::pair(srv.connections(), srv.take_peak_connections()); },
        [&srv] { srv.on_each_worker(release_free_memory); });
    return true;
}

serving::~serving() {
    // Idempotent: after a drain the server has stopped already.
    server_->stop();
    if (deps_.checker)
        deps_.checker->stop();
    // The workers are stopped but their event loops still exist: close the store's
    // connections on them now (a connection must go before its event loop).
    deps_.store.close();
    deps_.bg.stop_memory_trim();
    // An admin change still running on the background thread holds its caller's coroutine
    // and event loop until it posts the answer there; the loops go with the server, so it
    // waits for that first (a change is bounded by the store's deadlines).
    if (!deps_.control.wait_idle(std::chrono::seconds(30)))
        log::warn("admin.change_abandoned", "an admin change was still running at exit");
    // Destroying the server destroys what its workers left unfinished; their settlements
    // move to the background executor (which opens its own connection if it needs one) and
    // are finished when it stops.
    server_.reset();
}

}  // namespace ditto::app
