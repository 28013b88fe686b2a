#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ditto/http/message.hpp"

namespace ditto::http {

struct server_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;  ///< 0 picks a free port (see server::port())
    unsigned workers = 1;
    std::size_t max_header_bytes = 64 * 1024;
    std::chrono::milliseconds header_timeout{10'000};
    std::chrono::milliseconds idle_timeout{60'000};
    std::chrono::milliseconds client_timeout{60'000};
};

/// HTTP/1.1 server on C++20 coroutines: one io_context and one thread per worker, each
/// worker with its own SO_REUSEPORT acceptor, keep-alive, pipelining, a deadline on every
/// read and write. Public member functions are thread-safe.
class server {
  public:
    server(server_options options, std::shared_ptr<handler> h);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds every worker's acceptor and starts the worker threads. Throws
    /// std::system_error when the address cannot be bound.
    void start();

    /// The bound port (useful with port 0).
    std::uint16_t port() const;

    /// Graceful shutdown, step one: stop accepting, close idle keep-alive connections, and
    /// answer the requests still in flight with `Connection: close`.
    void begin_drain();
    bool draining() const;

    /// Requests being handled or written now.
    std::size_t in_flight() const;
    /// Open client connections.
    std::size_t connections() const;
    /// The most client connections open at once since the last call (or start); resets the
    /// peak to the number open now.
    std::size_t take_peak_connections();
    /// Runs `fn` once on every worker thread (posted; returns at once). Nothing after stop().
    void on_each_worker(std::function<void()> fn);

    /// Closes every connection, stops the workers and joins their threads. Idempotent.
    void stop();

    struct impl;  ///< implementation detail (named by server.cpp's free functions)

  private:
    std::unique_ptr<impl> impl_;
};

}  // namespace ditto::http
