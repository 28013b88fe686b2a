#include "startup_config.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include "ditto/log/log.hpp"

namespace ditto::app {
namespace {

// Reads the --dotenv file; its existence was checked by the CLI, but it may be unreadable.
bool read_dotenv(const std::string& path, std::map<std::string, std::string>& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    out = config::parse_dotenv(ss.str());
    return true;
}

http::server_options server_options_of(const config::cli_options& options) {
    // --listen was validated by the CLI.
    auto hp = config::parse_host_port(options.listen);
    http::server_options so;
    so.host = hp->host;
    so.port = hp->port;
    so.workers = options.workers;
    so.max_header_bytes = options.max_header_bytes;
    so.header_timeout = std::chrono::milliseconds(options.header_timeout_ms);
    so.idle_timeout = std::chrono::milliseconds(options.idle_timeout_ms);
    so.client_timeout = std::chrono::milliseconds(options.client_timeout_ms);
    return so;
}

// --pricing-litellm. False: the file cannot be used (logged); `out` stays null without the
// flag.
bool load_pricing(const config::cli_options& options,
                  std::shared_ptr<const cost::pricing_table>& out) {
    if (!options.pricing_litellm)
        return true;
    std::string error;
    auto table = cost::pricing_table::load_file(*options.pricing_litellm, error);
    if (!table) {
        log::error("config.error", error, {{"path", *options.pricing_litellm}});
        return false;
    }
    log::info("pricing.loaded", "pricing table loaded",
              {{"path", *options.pricing_litellm},
               {"models", std::to_string(table->size())},
               {"skipped_unpriced", std::to_string(table->skipped().size())}});
    out = std::make_shared<const cost::pricing_table>(std::move(*table));
    return true;
}

// Every log field goes through the redactor from here on; the audit log and the metric
// labels get the same one later.
void install_log_filters(const std::shared_ptr<const observe::redactor>& redact, double rate) {
    log::filters lf;
    lf.redact = [redact](std::string_view name, std::string_view value) {
        return redact->redact_field(name, value);
    };
    lf.secret_name = [redact](std::string_view name) { return redact->secret_name(name); };
    lf.may_match = [redact](std::string_view joined) { return redact->may_match(joined); };
    lf.json_rate = rate;
    log::set_filters(std::move(lf));
}

}  // namespace

log_session::log_session(const config::cli_options& options) {
    log::level lvl = log::level::info;
    log::parse_level(options.log_level, lvl);
    log::init(lvl, options.json_logs);
}

log_session::~log_session() {
    log::shutdown();
}

std::optional<config_file> read_config(const config::cli_options& options) {
    std::map<std::string, std::string> dotenv;
    if (options.dotenv && !read_dotenv(*options.dotenv, dotenv)) {
        log::error("config.error", "cannot read --dotenv file", {{"path", *options.dotenv}});
        return std::nullopt;
    }
    config_file file{config::env_lookup(std::move(dotenv)), {}, {}};
    file.cfg = config::load_gateway_file(options.config_path, file.env, file.diag);
    return file;
}

int report_config_check(const config::cli_options& options, const config_file& file) {
    // Plain lines on stdout/stderr, not log events: this output is for a person or CI.
    for (const auto& w : file.diag.warnings)
        std::cerr << "warning: " << w << "\n";
    for (const auto& e : file.diag.errors)
        std::cerr << "error: " << e << "\n";
    if (!file.diag.ok()) {
        std::cerr << options.config_path << ": " << file.diag.errors.size()
                  << " error(s); config is invalid\n";
        return 1;
    }
    std::cout << options.config_path << ": OK (" << config_summary(file.cfg) << ")\n";
    return 0;
}

std::string config_summary(const config::gateway_config& cfg) {
    return std::to_string(cfg.backends.size()) + " backends, " +
           std::to_string(cfg.virtual_keys.size()) + " virtual keys, " +
           std::to_string(cfg.router.rules.size()) + " router rules";
}

std::optional<startup_config> prepare_startup(const config::cli_options& options,
                                              config_file file) {
    for (const auto& w : file.diag.warnings)
        log::warn("config.warning", w);
    if (!file.diag.ok()) {
        for (const auto& e : file.diag.errors)
            log::error("config.error", e);
        log::error(
            "config.invalid", "refusing to start",
            {{"path", options.config_path}, {"errors", std::to_string(file.diag.errors.size())}});
        return std::nullopt;
    }
    startup_config sc;
    sc.env = std::move(file.env);
    sc.cfg = std::move(file.cfg);
    sc.server = server_options_of(options);
    if (!load_pricing(options, sc.pricing))
        return std::nullopt;
    sc.redact = std::make_shared<const observe::redactor>(sc.cfg.observability.redaction);
    install_log_filters(sc.redact, sc.cfg.observability.sampling.json_logs_rate);
    return sc;
}

}  // namespace ditto::app
