#pragma once

// A fixture for the multi-replica suites: several real ditto-gateway processes on one mock
// backend ("primary") and one real redis-server (prefix "t") started by the fixture.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/gateway_fixture.hpp"
#include "support/keyed_gateway.hpp"
#include "support/redis_server.hpp"

namespace ditto::test {

/// 72 bytes: charge 18 + max_tokens 9 = 27, exactly what the mock reports.
inline const std::string exact_chat =
    R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]})";

/// `s` without trailing newlines and spaces (redis-cli output).
std::string trim_end(std::string s);

class Replicas : public ::testing::Test {
  private:
    static redis_server::options in_dir(redis_server::options o, std::string dir) {
        if (!dir.empty())
            o.data_dir = std::move(dir);
        return o;
    }

  protected:
    /// `durable`: Redis keeps its data under `files` (append-only file, fsync on every
    /// write), so a killed and restarted server still has it.
    explicit Replicas(redis_server::options o = {}, bool durable = false)
        : redis(in_dir(std::move(o), durable ? files.path().string() : "")) {}

    /// Starts `n` gateways on one config and one Redis (prefix "t"); `--redis` is the
    /// fixture's server unless `args` name one (or `--redis-env`).
    void start(int n, const std::string& keys, std::vector<std::string> args = {},
               const std::string& backend_extra = "",
               const std::vector<std::pair<std::string, std::string>>& env = {});
    /// redis-cli against the fixture's server; its trimmed output.
    std::string cli(std::vector<std::string> args);
    std::optional<http_response> post(int gw, const std::string& token,
                                      const std::string& body = exact_chat,
                                      http_headers extra = {});
    /// The audit record (kind, payload) whose payload names `request_id`; empty if none.
    std::pair<std::string, std::string> audit_of(const std::string& request_id);
    /// Polls audit_of() until a record appears (audit writes retried after an outage).
    std::pair<std::string, std::string> await_audit(
        const std::string& request_id, std::chrono::seconds limit = std::chrono::seconds(10));
    /// `per_replica` requests in flight on every replica at once; all statuses.
    std::vector<int> spread(const std::string& token, int per_replica);

    /// Further top-level members of the gateway.json start() writes (`"access": {...}`).
    std::string extra_top;
    temp_dir files;  // before `redis`: it may hold its data
    redis_server redis;
    running_mock mock;
    std::string config;
    std::vector<std::unique_ptr<running_gateway>> gws;
};

}  // namespace ditto::test
