#pragma once

// Start-up's first stage: logging, the config file and the flags that need no store or
// socket. Nothing here holds a resource the later stages must release, so a failure is a
// plain `return 1` (already logged).

#include <memory>
#include <optional>
#include <string>

#include "ditto/config/cli.hpp"
#include "ditto/config/gateway_config.hpp"
#include "ditto/config/load.hpp"
#include "ditto/cost/pricing.hpp"
#include "ditto/http/server.hpp"
#include "ditto/observe/redactor.hpp"

namespace ditto::app {

/// Logging for the whole run: set up from the flags first, flushed and stopped last, on
/// every way out of run() — an event logged while stopping must still reach the output.
class log_session {
  public:
    explicit log_session(const config::cli_options& options);
    ~log_session();
    log_session(const log_session&) = delete;
    log_session& operator=(const log_session&) = delete;
};

/// The config file as loaded, problems included (--check-config reports them itself).
struct config_file {
    config::env_lookup env;
    config::gateway_config cfg;
    config::diagnostics diag;
};

/// Reads the --dotenv file (if any) and the config file. nullopt: the dotenv file cannot be
/// read (logged).
std::optional<config_file> read_config(const config::cli_options& options);

/// --check-config: prints the problems (or a summary) for a person or CI; the exit code.
int report_config_check(const config::cli_options& options, const config_file& file);

/// "N backends, N virtual keys, N router rules".
std::string config_summary(const config::gateway_config& cfg);

/// What the later stages start from.
struct startup_config {
    config::env_lookup env;
    config::gateway_config cfg;
    http::server_options server;
    std::shared_ptr<const cost::pricing_table> pricing;  ///< null without --pricing-litellm
    /// Applied to every log field (installed here), audit payload and metric label.
    std::shared_ptr<const observe::redactor> redact;
};

/// Logs the config's warnings, refuses an invalid one, loads the pricing table and installs
/// the log redaction. nullopt: start-up must stop (logged).
std::optional<startup_config> prepare_startup(const config::cli_options& options, config_file file);

}  // namespace ditto::app
