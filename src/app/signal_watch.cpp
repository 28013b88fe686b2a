#include "signal_watch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <functional>

#include "ditto/log/log.hpp"

namespace ditto::app {

namespace net = boost::asio;

// Drives a graceful shutdown: the first signal starts the drain, which ends when every
// connection has closed or the drain timeout passes; a second signal ends it at once.
class shutdown_control {
  public:
    shutdown_control(net::io_context& ioc, http::server& srv, std::chrono::seconds drain)
        : signals_(ioc, SIGINT, SIGTERM), timer_(ioc), server_(srv), drain_(drain) {}

    void arm() {
        signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
            if (ec)
                return;
            on_signal(sig);
        });
    }

    /// Runs once the server stops (cancels the other signal handlers, so the control loop
    /// can end).
    void on_finish(std::function<void()> f) { on_finish_ = std::move(f); }

  private:
    void on_signal(int sig) {
        if (draining_) {
            log::warn("server.shutdown", "second signal: stopping now",
                      {{"signal", std::to_string(sig)}});
            finish();
            return;
        }
        draining_ = true;
        deadline_ = std::chrono::steady_clock::now() + drain_;
        // Draining first, then the event: whoever reads `server.drain` (an operator, a test)
        // may rely on new requests being answered as draining already.
        const auto in_flight = server_.in_flight();
        server_.begin_drain();
        log::info("server.drain", "draining",
                  {{"signal", std::to_string(sig)},
                   {"in_flight", std::to_string(in_flight)},
                   {"drain_timeout_secs", std::to_string(drain_.count())}});
        arm();
        poll();
    }

    void poll() {
        if (server_.connections() == 0) {
            finish();
            return;
        }
        if (std::chrono::steady_clock::now() >= deadline_) {
            log::warn("server.drain", "drain timeout: closing remaining connections",
                      {{"connections", std::to_string(server_.connections())}});
            finish();
            return;
        }
        timer_.expires_after(std::chrono::milliseconds(10));
        timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec)
                poll();
        });
    }

    void finish() {
        boost::system::error_code ignored;
        signals_.cancel(ignored);
        timer_.cancel();
        server_.stop();
        if (on_finish_)
            on_finish_();
    }

    std::function<void()> on_finish_;
    net::signal_set signals_;
    net::steady_timer timer_;
    http::server& server_;
    std::chrono::seconds drain_;
    bool draining_ = false;
    std::chrono::steady_clock::time_point deadline_{};
};

signal_watch::signal_watch(const config::cli_options& options, std::shared_ptr<reloader> reload,
                           background& bg)
    : config_path_(options.config_path),
      drain_timeout_(std::chrono::seconds(options.drain_timeout_secs)),
      reload_(std::move(reload)),
      bg_(bg),
      hangup_(control_) {}

signal_watch::~signal_watch() = default;

void signal_watch::arm(http::server& server) {
    shutdown_ = std::make_unique<shutdown_control>(control_, server, drain_timeout_);
    shutdown_->arm();
    hangup_.add(SIGHUP);
    arm_hangup();
    shutdown_->on_finish([this] {
        boost::system::error_code ignored;
        hangup_.cancel(ignored);
    });
}

void signal_watch::arm_hangup() {
    hangup_.async_wait([this](const boost::system::error_code& ec, int) {
        if (ec)
            return;
        log::info("config.reload", "SIGHUP: re-reading the config file", {{"path", config_path_}});
        net::co_spawn(bg_.executor(), reload_json(reload_, "SIGHUP"), net::detached);
        arm_hangup();
    });
}

}  // namespace ditto::app
