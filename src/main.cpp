// ditto-gateway: parse the command line and hand over to the composition root.
#include <cstdio>

#include "ditto/app/run.hpp"
#include "ditto/config/cli.hpp"

int main(int argc, char** argv) {
    auto cli = ditto::config::parse_cli(argc, argv);
    if (cli.exit) {
        std::fputs(cli.output.c_str(), cli.exit_code == 0 ? stdout : stderr);
        return cli.exit_code;
    }
    return ditto::app::run(cli.options);
}
