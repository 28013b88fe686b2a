#include "support/redis_cluster.hpp"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "support/replicas.hpp"
#include "support/wait.hpp"

namespace ditto::test {

using namespace std::chrono_literals;

redis_cluster::redis_cluster(options opt) : opt_(std::move(opt)) {
    const int n = opt_.primaries * (1 + opt_.replicas_per_primary);
    for (int i = 0; i < n; ++i) {
        redis_server::options o;
        // The bus port is named: port + 10000, Redis' default, may be past 65535.
        o.extra = {"--cluster-enabled",      "yes",
                   "--cluster-config-file",  "nodes.conf",
                   "--cluster-port",         std::to_string(pick_free_port()),
                   "--cluster-node-timeout", std::to_string(opt_.node_timeout_ms)};
        if (opt_.replicas_per_primary > 0)
            o.extra.insert(o.extra.end(), {"--repl-diskless-sync-delay", "0"});
        if (!opt_.tls_cert.empty()) {
            o.tls_cert = opt_.tls_cert;
            o.tls_key = opt_.tls_key;
            o.tls_ca = opt_.tls_ca;
            o.extra.insert(o.extra.end(), {"--tls-cluster", "yes", "--tls-replication", "yes"});
        }
        nodes_.push_back(std::make_unique<redis_server>(o));
    }
    std::vector<std::string> args{"--cluster", "create"};
    for (const auto& node : nodes_)
        args.push_back("127.0.0.1:" + std::to_string(node->port()));
    args.insert(args.end(),
                {"--cluster-replicas", std::to_string(opt_.replicas_per_primary), "--cluster-yes"});
    const auto made = run_to_exit("/usr/bin/redis-cli", args, 60s);
    if (made.exit_code != 0)
        throw std::runtime_error("redis-cli --cluster create failed: " + made.out + made.err);
    if (!eventually([this] { return settled(); }, 20s, 50ms))
        throw std::runtime_error("the cluster did not settle");
}

std::size_t redis_cluster::alive() const {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i]->running())
            return i;
    }
    return 0;
}

std::string redis_cluster::tls_url(const std::string& host) const {
    std::string out = "rediss+cluster://";
    for (std::size_t i = 0; i < nodes_.size(); ++i)
        out += (i ? "," : "") + host + ":" + std::to_string(nodes_[i]->tls_port());
    return out;
}

std::string redis_cluster::url() const {
    std::string out = "redis+cluster://";
    for (std::size_t i = 0; i < nodes_.size(); ++i)
        out += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(nodes_[i]->port());
    return out;
}

std::string redis_cluster::cli(std::size_t node, std::vector<std::string> args) const {
    args.insert(args.begin(), {"-p", std::to_string(port(node))});
    return trim_end(run_to_exit("/usr/bin/redis-cli", args).out);
}

std::string redis_cluster::cli_any(std::vector<std::string> args) const {
    args.insert(args.begin(), {"-c", "-p", std::to_string(port(alive()))});
    return trim_end(run_to_exit("/usr/bin/redis-cli", args).out);
}

namespace {

// CLUSTER NODES, one line per node: id, ip:port@bus, flags, master, ping, pong, epoch, link,
// then its slots ("0-5460", "5461", or "[…]" for one being migrated).
struct node_slots {
    int port = 0;
    std::vector<std::pair<int, int>> ranges;
};

std::vector<node_slots> read_nodes(const std::string& text) {
    std::vector<node_slots> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::vector<std::string> w;
        for (std::string x; f >> x;)
            w.push_back(x);
        if (w.size() < 8)
            continue;
        node_slots n;
        const auto colon = w[1].find(':');
        n.port = std::atoi(w[1].c_str() + colon + 1);
        for (std::size_t i = 8; i < w.size(); ++i) {
            if (w[i].starts_with("["))
                continue;
            const auto dash = w[i].find('-');
            const int lo = std::atoi(w[i].c_str());
            const int hi = dash == std::string::npos ? lo : std::atoi(w[i].c_str() + dash + 1);
            n.ranges.emplace_back(lo, hi);
        }
        out.push_back(std::move(n));
    }
    return out;
}

}  // namespace

std::size_t redis_cluster::owner_of(const std::string& key) const {
    const int slot = std::atoi(cli(alive(), {"CLUSTER", "KEYSLOT", key}).c_str());
    for (const auto& n : read_nodes(cli(alive(), {"CLUSTER", "NODES"}))) {
        for (const auto& [lo, hi] : n.ranges) {
            if (lo <= slot && slot <= hi) {
                for (std::size_t i = 0; i < nodes_.size(); ++i)
                    if (port(i) == n.port)
                        return i;
            }
        }
    }
    return nodes_.size();
}

std::string redis_cluster::id(std::size_t node) const {
    return cli(node, {"CLUSTER", "MYID"});
}

int redis_cluster::first_slot(std::size_t node) const {
    int first = -1;
    for (const auto& n : read_nodes(cli(alive(), {"CLUSTER", "NODES"}))) {
        if (n.port != port(node))
            continue;
        for (const auto& [lo, hi] : n.ranges)
            if (first < 0 || lo < first)
                first = lo;
    }
    return first;
}

bool redis_cluster::settled() const {
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
        if (cli(n, {"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos)
            return false;
    }
    const auto check = run_to_exit("/usr/bin/redis-cli",
                                   {"--cluster", "check", "127.0.0.1:" + std::to_string(port(0))});
    return check.exit_code == 0 &&
           check.out.find("All nodes agree about slots configuration") != std::string::npos &&
           check.out.find("[ERR]") == std::string::npos &&
           check.out.find("[WARNING]") == std::string::npos;
}

}  // namespace ditto::test
