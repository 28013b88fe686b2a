// ditto-mock-upstream: an OpenAI-compatible upstream for tests, the demo and benchmarks.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>

#include "ditto/config/cli.hpp"
#include "ditto/http/server.hpp"
#include "ditto/log/log.hpp"
#include "mock_upstream.hpp"

int main(int argc, char** argv) {
    std::string listen = "127.0.0.1:9090";
    unsigned workers = 1;
    std::string log_level = "warn";
    bool chat_only = false;
    CLI::App app{"ditto-mock-upstream: deterministic OpenAI-compatible upstream with faults",
                 "ditto-mock-upstream"};
    app.add_option("--listen", listen, "HOST:PORT (port 0 picks a free one)")->default_str(listen);
    app.add_option("--workers", workers, "worker threads")->check(CLI::Range(1u, 64u));
    app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off");
    app.add_flag("--chat-only", chat_only,
                 "404 on /v1/responses and /v1/messages: an upstream with chat completions only");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::fputs(app.help().c_str(), stdout);
        return 0;
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
    auto hp = ditto::config::parse_host_port(listen);
    if (!hp) {
        std::fprintf(stderr, "error: --listen: expected HOST:PORT, got '%s'\n", listen.c_str());
        return 2;
    }
    ditto::log::level lvl = ditto::log::level::warn;
    if (!ditto::log::parse_level(log_level, lvl)) {
        std::fprintf(stderr, "error: --log-level: unknown level '%s'\n", log_level.c_str());
        return 2;
    }
    ditto::log::init(lvl, false);

    ditto::http::server_options so;
    so.host = hp->host;
    so.port = hp->port;
    so.workers = workers;
    ditto::http::server server(so, std::make_shared<ditto::mock::mock_upstream>(chat_only));
    boost::asio::io_context control;
    boost::asio::signal_set signals(control, SIGINT, SIGTERM);
    signals.async_wait([&server](const boost::system::error_code&, int) { server.stop(); });
    try {
        server.start();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: cannot listen on %s: %s\n", listen.c_str(), e.what());
        return 1;
    }
    // Tests and scripts read this line to learn the port.
    std::fprintf(stderr, "ditto-mock-upstream listening on http://%s:%u\n", so.host.c_str(),
                 static_cast<unsigned>(server.port()));
    std::fflush(stderr);
    control.run();
    ditto::log::shutdown();
    return 0;
}
