#pragma once

// The Redis store's access to Redis: one pipelined connection per executor (per worker
// thread, plus the background thread), found without a lock on the hot path, and scripts
// run by EVALSHA with a fallback to EVAL when Redis lost its script cache (NOSCRIPT).

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ditto/store/redis/redis_connection.hpp"
#include "scripts.hpp"

namespace ditto::store::redis {

class redis_client {
  public:
    redis_client(redis_url url, redis_options opt);
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

    /// Closes every connection (at shutdown); one used later is opened again.
    void close_all();
    /// Closes every connection for good: later commands fail at once with operation_aborted.
    void seal();
    const redis_url& url() const { return url_; }

  private:
    boost::asio::awaitable<std::shared_ptr<redis_connection>> connection();
    std::shared_ptr<redis_connection> connection_for(const boost::asio::any_io_executor& ex);

    redis_url url_;
    redis_options opt_;
    std::uint64_t id_;
    std::atomic<std::uint64_t> generation_{0};  ///< close_all() calls: stale thread caches
    std::atomic<bool> sealed_{false};
    std::mutex mu_;
    std::vector<std::pair<const void*, std::shared_ptr<redis_connection>>> conns_;
};

/// A transport error, or a reply Redis refused (`-ERR …`, a failing script), as one error code.
boost::system::error_code failure_of(const redis_result& r);

}  // namespace ditto::store::redis
