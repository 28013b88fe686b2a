#pragma once

#include "ditto/config/cli.hpp"

namespace ditto::app {

/// The composition root: loads the config, builds the server and the routes, serves until
/// SIGTERM/SIGINT (graceful drain; a second signal forces the exit). Returns the exit code.
int run(const config::cli_options& options);

}  // namespace ditto::app
