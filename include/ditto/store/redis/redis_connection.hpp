#pragma once

// One connection to Redis, driven by Asio coroutines on one executor (say, one per worker
// thread). Commands issued concurrently are pipelined: one writer sends everything queued in
// one write, one reader hands the replies back in order. hiredis only decodes RESP; nothing
// here ever blocks a thread. Every command has a deadline, and a Redis that is down makes
// commands fail fast instead of queueing them: a request never waits on Redis longer than
// its command timeout.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ditto/store/redis/redis_reply.hpp"
#include "ditto/store/redis/redis_tls.hpp"
#include "ditto/store/redis/redis_url.hpp"

namespace ditto::store::redis {

/// Transport errors of this module's own. Besides these, `redis_result::error` can be
/// `boost::asio::error::timed_out` (the deadline passed), `not_connected` (Redis is down and
/// the connection waits to retry), `operation_aborted` (close(), or the caller's coroutine
/// was cancelled), `invalid_argument` (an empty command), or the socket's error from a
/// failed connect (e.g. `connection_refused`).
enum class redis_errc {
    auth_failed = 1,  ///< AUTH was refused; the message never holds the password
    select_failed,    ///< SELECT was refused (a db the server does not have)
    protocol_error,   ///< a reply that could not be parsed, or one nobody asked for
    connection_lost,  ///< the connection broke (or was reset) with the command pending
    /// Redis answered that it cannot serve for now (LOADING after a restart, BUSY, READONLY
    /// after a fail-over, MASTERDOWN, TRYAGAIN, CLUSTERDOWN): an outage, retried like a lost
    /// connection, not a refusal (docs/redis.md).
    not_ready,
    /// redis+sentinel://: no Sentinel answered with a primary for the master's name.
    no_primary,
    /// A node of a Redis Cluster answered MOVED or ASK to a URL that is not redis+cluster://.
    cluster_redirect,
};

const boost::system::error_category& redis_category() noexcept;
boost::system::error_code make_error_code(redis_errc e) noexcept;

/// When a command must have its reply: none (the default) means `command_timeout` from now. A
/// command redirected inside a Redis Cluster keeps its first deadline (redis_client).
using redis_deadline = std::chrono::steady_clock::time_point;

struct redis_options {
    /// The deadline of each command (or pipeline), from exec() until its reply.
    std::chrono::milliseconds command_timeout{250};
    /// The deadline of one connection attempt: resolve, TCP connect, TLS handshake, AUTH and
    /// SELECT.
    std::chrono::milliseconds connect_timeout{1000};
    /// After a failed attempt, or a connection lost within a second of being made, the next
    /// attempt waits a random delay between half and all of
    /// min(reconnect_max, reconnect_min · 2^failures); a connection lost after longer is
    /// retried at once. Until a retry succeeds commands fail at once with not_connected;
    /// only during the first attempt and that immediate retry do they wait for it (within
    /// their deadline).
    std::chrono::milliseconds reconnect_min{50};
    std::chrono::milliseconds reconnect_max{2000};
    /// For a `rediss://` URL: the context to use (make_redis_tls_context), shared by all the
    /// connections of a store. None: one trusting the system's CA store.
    std::shared_ptr<boost::asio::ssl::context> tls;
    /// For a `redis+sentinel://` URL: which Sentinel to ask first, shared by the connections
    /// that pass the same pointer (redis_client gives all of its connections one).
    std::shared_ptr<std::atomic<std::size_t>> sentinel_next;
};

struct redis_result {
    boost::system::error_code error;  ///< set: no reply (transport problem)
    redis_reply reply;
};

struct redis_pipeline_result {
    boost::system::error_code error;   ///< set: no replies at all
    std::vector<redis_reply> replies;  ///< one per command, in order
};

struct redis_stats {
    std::uint64_t connects = 0;  ///< successful connections (the first one and reconnects)
    std::uint64_t commands = 0;  ///< exec() and exec_pipeline() calls queued to be sent
    std::uint64_t writes = 0;    ///< socket writes; below `commands` when pipelining
    std::uint64_t timeouts = 0;  ///< commands that reached their deadline
};

/// Appends one command in RESP (an array of bulk strings) to `out`.
void append_command(std::string& out, const std::vector<std::string>& args);

class redis_connection {
  public:
    /// Nothing connects until start() or the first command.
    static std::shared_ptr<redis_connection> create(boost::asio::any_io_executor ex, redis_url url,
                                                    redis_options opt = {});
    /// Closes the connection (as close() does). Destroy it before its execution context.
    ~redis_connection();
    redis_connection(const redis_connection&) = delete;
    redis_connection& operator=(const redis_connection&) = delete;

    /// Connects now rather than on the first command. Any thread.
    void start();
    /// Stops for good: pending commands complete with operation_aborted and later ones fail
    /// the same way. Any thread; from another one it takes effect asynchronously.
    void close();

    /// Sends one command, e.g. {"SET", "k", "v"}. A `-ERR` reply is a reply (is_error()), not
    /// an error. When a command that was sent times out, Redis or the link is presumed stuck:
    /// the connection is replaced and the other commands pending on it fail with
    /// connection_lost (one not sent yet is just dropped). Only from coroutines on the
    /// connection's executor. Inside a coroutine pass a named vector: GCC 12 rejects
    /// `co_await c->exec({"GET", key})` ("array used as initializer").
    /// Not for SUBSCRIBE or MONITOR (their replies are not one per command); a blocking
    /// command (BLPOP) holds up the commands behind it.
    boost::asio::awaitable<redis_result> exec(std::vector<std::string> args,
                                              redis_deadline until = {});
    /// exec() of one command already written in RESP by append_command(): the caller keeps
    /// its arguments (redis_client::script retries with EVAL on NOSCRIPT).
    boost::asio::awaitable<redis_result> exec_formatted(std::string payload,
                                                        redis_deadline until = {});
    /// Sends several commands in one write under one deadline (MULTI ... EXEC, batches).
    boost::asio::awaitable<redis_pipeline_result> exec_pipeline(
        std::vector<std::vector<std::string>> commands, redis_deadline until = {});
    /// exec_pipeline() of `count` commands already written in RESP by append_command().
    boost::asio::awaitable<redis_pipeline_result> exec_formatted_pipeline(
        std::string payload, std::size_t count, redis_deadline until = {});
    /// PING under the command deadline; for health checks.
    boost::asio::awaitable<bool> ping();

    /// Connected and past AUTH/SELECT. Any thread.
    bool connected() const;
    /// Why the last connection attempt failed or the last connection ended; for logs. Only
    /// on the connection's executor.
    boost::system::error_code last_error() const;
    /// Any thread.
    redis_stats stats() const;
    const boost::asio::any_io_executor& get_executor() const;

  private:
    struct impl;
    explicit redis_connection(std::shared_ptr<impl> state);

    std::shared_ptr<impl> impl_;
};

}  // namespace ditto::store::redis

namespace boost::system {
template <>
struct is_error_code_enum<ditto::store::redis::redis_errc> : std::true_type {};
}  // namespace boost::system
