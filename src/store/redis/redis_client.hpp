#pragma once

// The Redis store's access to Redis: one pipelined connection per executor (per worker
// thread, plus the background thread), found without a lock on the hot path, and scripts
// run by EVALSHA with a fallback to EVAL when Redis lost its script cache (NOSCRIPT).
// With `redis+cluster://`, one such connection per primary per executor: each command goes to
// the primary of its key's slot, follows MOVED and ASK within its deadline, and the slot map
// is refreshed when the topology changes (redis_client_cluster.cpp, docs/redis.md).

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster_map.hpp"
#include "ditto/store/redis/redis_connection.hpp"
#include "scripts.hpp"

namespace ditto::store::redis {

class redis_client {
  public:
    /// `home`: in a Redis Cluster, the key whose slot serves the commands that name no key
    /// (TIME, SCAN of the governance keys, the scripts of layout 1); unused otherwise.
    redis_client(redis_url url, redis_options opt, std::string home = {});
    ~redis_client();
    redis_client(const redis_client&) = delete;
    redis_client& operator=(const redis_client&) = delete;

    boost::asio::awaitable<redis_result> exec(std::vector<std::string> args);
    boost::asio::awaitable<redis_pipeline_result> pipeline(
        std::vector<std::vector<std::string>> commands);
    /// Runs a script with no KEYS and `argv`; a Lua error comes back as an error reply.
    boost::asio::awaitable<redis_result> script(const lua_script& s, std::vector<std::string> argv);
    /// Runs a script with `keys` as KEYS (every key it touches: docs/redis.md, "Layout v2").
    boost::asio::awaitable<redis_result> script(const lua_script& s, std::vector<std::string> keys,
                                                std::vector<std::string> argv);
    boost::asio::awaitable<bool> ping();

    /// The nodes a SCAN must visit to see every key: the one Redis, or each primary of a
    /// Cluster (the slot map is read first if it is not known yet).
    boost::asio::awaitable<std::vector<redis_endpoint>> scan_nodes();
    /// Sends one command to `node` (one of scan_nodes()); no redirection is followed.
    boost::asio::awaitable<redis_result> exec_at(redis_endpoint node,
                                                 std::vector<std::string> args);

    /// Closes every connection (at shutdown); one used later is opened again.
    void close_all();
    /// Closes every connection for good: later commands fail at once with operation_aborted.
    void seal();
    const redis_url& url() const { return url_; }

  private:
    struct cluster_state;
    struct entry {
        const void* context;  ///< the executor's execution context
        std::string node;     ///< "host:port" in a Cluster, empty otherwise
        std::shared_ptr<redis_connection> conn;
    };

    boost::asio::awaitable<std::shared_ptr<redis_connection>> connection();
    std::shared_ptr<redis_connection> connection_for(const boost::asio::any_io_executor& ex);
    /// The connection of this executor to `node` (a Cluster's), made when first needed.
    std::shared_ptr<redis_connection> connection_at(const boost::asio::any_io_executor& ex,
                                                    const redis_endpoint& node);
    std::shared_ptr<redis_connection> make_connection(const boost::asio::any_io_executor& ex,
                                                      const std::string& node,
                                                      const redis_url& url);

    // redis_client_cluster.cpp
    /// Sends `commands` to the primary of the slot of their first key (of `home_` when they
    /// name none), following MOVED, ASK and TRYAGAIN within one command deadline. The caller
    /// keeps `commands` alive until it resumes (it awaits at once).
    boost::asio::awaitable<redis_pipeline_result> cluster_run(
        const std::vector<std::vector<std::string>>& commands);
    /// This executor's connection to the primary of `slot` (its address into `at`); null when
    /// the slot has no known owner (no map yet, or a slot left unserved).
    std::shared_ptr<redis_connection> route(const boost::asio::any_io_executor& ex,
                                            std::uint16_t slot, redis_endpoint& at);
    /// Reads the slot map from a known node (or a seed) and installs it; false when no node
    /// answered with one before `until`.
    boost::asio::awaitable<bool> refresh_map(redis_deadline until);
    void install_map(cluster_map map);
    void patch_map(std::uint16_t slot, const redis_endpoint& to);
    std::vector<redis_endpoint> known_primaries() const;
    redis_url node_url(const redis_endpoint& node) const;

    redis_url url_;
    redis_options opt_;
    std::uint64_t id_;
    std::atomic<std::uint64_t> generation_{0};  ///< close_all() calls: stale thread caches
    std::atomic<bool> sealed_{false};
    std::mutex mu_;
    std::vector<entry> conns_;
    std::unique_ptr<cluster_state> cluster_;  ///< redis+cluster:// only
    std::uint16_t home_slot_ = 0;
};

/// A transport error, or a reply Redis refused (`-ERR …`, a failing script), as one error code.
boost::system::error_code failure_of(const redis_result& r);

}  // namespace ditto::store::redis
