#pragma once

// A real Redis Cluster for tests: three (or more) primaries on free loopback ports, with
// replicas if asked, over TLS if asked, made one cluster by `redis-cli --cluster create`, each
// node killed when destroyed.

#include <memory>
#include <string>
#include <vector>

#include "support/redis_server.hpp"

namespace ditto::test {

class redis_cluster {
  public:
    struct options {
        int primaries = 3;
        int replicas_per_primary = 0;
        /// How long a node may be unreachable before the cluster calls it failed.
        int node_timeout_ms = 3000;
        /// Set: every node also serves TLS (clients, the cluster bus and replication) with
        /// this certificate and key, signed by `tls_ca`.
        std::string tls_cert;
        std::string tls_key;
        std::string tls_ca;
    };

    /// Starts the nodes and waits (at most 20 s) until every node reports `cluster_state:ok`;
    /// throws std::runtime_error.
    redis_cluster() : redis_cluster(options{}) {}
    explicit redis_cluster(options opt);

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…` (every node).
    std::string url() const;
    /// `rediss+cluster://HOST:T1,HOST:T2,…` (the TLS ports).
    std::string tls_url(const std::string& host = "127.0.0.1") const;
    /// SIGKILL to a node.
    void kill(std::size_t node) { nodes_[node]->kill(); }
    bool running(std::size_t node) const { return nodes_[node]->running(); }
    int port(std::size_t node) const { return nodes_[node]->port(); }
    std::size_t size() const { return nodes_.size(); }
    /// redis-cli against one node (no redirection followed); its trimmed output.
    std::string cli(std::size_t node, std::vector<std::string> args) const;
    /// redis-cli -c: follows MOVED and ASK from the first running node.
    std::string cli_any(std::vector<std::string> args) const;
    /// The node that serves the slot of `key`.
    std::size_t owner_of(const std::string& key) const;
    /// The node's cluster id.
    std::string id(std::size_t node) const;
    /// The first slot `node` serves.
    int first_slot(std::size_t node) const;
    /// Every node agrees on the slots and reports `cluster_state:ok`.
    bool settled() const;

  private:
    /// The first node still running: the one asked about the cluster.
    std::size_t alive() const;

    options opt_;
    std::vector<std::unique_ptr<redis_server>> nodes_;
};

}  // namespace ditto::test
