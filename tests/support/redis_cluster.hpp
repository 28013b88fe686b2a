#pragma once

// A real Redis Cluster for tests: three (or more) primaries on free loopback ports, made one
// cluster by `redis-cli --cluster create`, each node killed when destroyed.

#include <memory>
#include <string>
#include <vector>

#include "support/redis_server.hpp"

namespace ditto::test {

class redis_cluster {
  public:
    /// Starts `primaries` nodes and waits (at most 20 s) until every node reports
    /// `cluster_state:ok`; throws std::runtime_error.
    explicit redis_cluster(int primaries = 3);

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…`.
    std::string url() const;
    int port(std::size_t node) const { return nodes_[node]->port(); }
    std::size_t size() const { return nodes_.size(); }
    /// redis-cli against one node (no redirection followed); its trimmed output.
    std::string cli(std::size_t node, std::vector<std::string> args) const;
    /// redis-cli -c: follows MOVED and ASK from node 0.
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
    std::vector<std::unique_ptr<redis_server>> nodes_;
};

}  // namespace ditto::test
