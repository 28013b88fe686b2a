#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "background.hpp"
#include "ditto/config/cli.hpp"
#include "ditto/http/server.hpp"
#include "reload.hpp"

namespace ditto::app {

class shutdown_control;

/// The process' signals, on a control event loop that the main thread runs: SIGINT/SIGTERM
/// drain the server and stop it (a second one, or the drain timeout, cuts the drain short),
/// SIGHUP reloads the config file.
///
/// The handlers stay installed until this goes, after the shutdown sequence: a signal that
/// arrives meanwhile is swallowed rather than killing the process halfway through settling.
class signal_watch {
  public:
    signal_watch(const config::cli_options& options, std::shared_ptr<reloader> reload,
                 background& bg);
    ~signal_watch();
    signal_watch(const signal_watch&) = delete;
    signal_watch& operator=(const signal_watch&) = delete;

    /// Installs the handlers. Called before the workers start, so that a signal during
    /// start-up is a shutdown request rather than the end of the process. `server` must
    /// outlive wait().
    void arm(http::server& server);

    /// Returns once the server has stopped (drained, or cut short).
    void wait() { control_.run(); }

  private:
    void arm_hangup();

    std::string config_path_;
    std::chrono::seconds drain_timeout_;
    std::shared_ptr<reloader> reload_;
    background& bg_;
    boost::asio::io_context control_;
    std::unique_ptr<shutdown_control> shutdown_;
    boost::asio::signal_set hangup_;
};

}  // namespace ditto::app
