#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/http/message.hpp"
#include "ditto/upstream/backend.hpp"

namespace ditto::upstream {

class connection;  // a plain or TLS connection to one backend (client.cpp)

/// Idle keep-alive connections to one backend, for one worker: LIFO (the warmest first),
/// dropped after `idle_timeout` or when the peer has closed them. Not thread-safe: each
/// worker has its own pools and uses them only on its own thread.
class pool {
  public:
    explicit pool(backend& b, std::chrono::milliseconds idle_timeout = std::chrono::seconds(30),
                  std::size_t max_idle = 128);
    ~pool();
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    backend& target() const { return backend_; }
    /// A live idle connection, or null.
    std::unique_ptr<connection> take();
    /// Keeps `c` for reuse (or closes it when the pool is full).
    void give_back(std::unique_ptr<connection> c);
    std::size_t idle() const { return idle_.size(); }

  private:
    backend& backend_;
    std::chrono::milliseconds idle_timeout_;
    std::size_t max_idle_;
    std::vector<std::unique_ptr<connection>> idle_;
};

/// How an attempt failed (the failure kinds of docs/routing.md, "When an attempt fails").
enum class failure_kind {
    none,
    network,  ///< resolve, connect, TLS, reset, malformed response
    timeout,  ///< nothing within the backend's timeout
};

struct exchange_result {
    failure_kind failure = failure_kind::none;
    /// False when the upstream cannot have seen the request (resolve, connect or TLS
    /// failed): failing over is then always safe (docs/proxy.md, "Fail-over").
    bool request_sent = true;
    std::string error;        ///< human-readable reason, no secrets
    http::response response;  ///< when failure == none: the upstream's answer, body buffered
                              ///< (small, known length) or relayed by response.stream
};

/// The request to send: head and buffered body, or a body to stream from the client.
struct outgoing {
    http::request msg;  ///< the head; its body() is not sent
    /// The buffered body, borrowed: whoever sends the request keeps the bytes alive until
    /// exchange() returns (the client's body in the proxy's context is never moved away).
    std::string_view body;
    http::body_reader* streamed_body = nullptr;  ///< read from the client while sending
    /// The request may be sent again if a reused connection turns out closed before any
    /// response byte (safe method, or the client gave an x-request-id to dedupe by).
    bool replay_safe = false;
};

/// Sends `req` to `p`'s backend over a pooled or new connection and reads the response
/// head within the backend's timeout. Bodies with a known length up to `buffer_limit` are
/// read whole (one write to the client); others are relayed piece by piece, each piece
/// under the timeout (so an SSE stream is bounded by its gaps, not its length). The
/// connection returns to the pool only after a complete response both sides keep alive.
/// `timeout` overrides the backend's own when non-zero (the models fan-out uses 10 s).
boost::asio::awaitable<exchange_result> exchange(
    pool& p, outgoing& req, std::uint64_t buffer_limit,
    std::chrono::milliseconds timeout = std::chrono::milliseconds::zero());

/// The upstream head for a client request (docs/proxy.md, "What goes upstream"): client headers
/// minus credentials and hop-by-hop ones, then the backend's headers (replacing), then
/// `x-request-id`; Host set for the upstream. `path`/`query` are the normalized path and raw query
/// (no '?'). `body` is borrowed (see outgoing::body).
outgoing build_outgoing(const http::request& client, const backend& b, std::string_view path,
                        std::string_view query, std::string_view body, std::string_view request_id);

/// Response head cleanup for the client: hop-by-hop headers and `x-ditto-cache` removed.
void strip_hop_by_hop(http::header_list& f);

}  // namespace ditto::upstream
