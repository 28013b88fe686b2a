#pragma once

// Request and response types shared by the server, the app's routes, the middleware chain
// and the upstream relay. Both messages are our own (request.hpp, response_message.hpp):
// Beast parses and frames them, but their fields are not Beast's.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/http/gateway_error.hpp"
#include "ditto/http/request.hpp"
#include "ditto/http/response_message.hpp"

namespace ditto::http {

namespace bhttp = boost::beast::http;

using status = bhttp::status;
using field = bhttp::field;

/// A body produced piece by piece (SSE relays, the mock's streams). The server calls next()
/// until it yields nullopt and sends each piece as one HTTP/1.1 chunk as soon as it has it.
/// Owned and driven by one connection, so implementations need no locking.
class body_stream {
  public:
    virtual ~body_stream() = default;
    /// The next piece, or nullopt at the end. Setting `ec` aborts the response: the
    /// connection is reset without the terminating chunk, so the client sees the failure.
    virtual boost::asio::awaitable<std::optional<std::string>> next(
        boost::system::error_code& ec) = 0;
};

/// A response: the head plus either the buffered body in `msg.body()` or `stream`.
struct response {
    response_message msg;
    /// When set, msg.body() is ignored. With a Content-Length in `msg` the pieces are sent
    /// as they are and must add up to it (a shortfall closes the connection); without one
    /// they are sent chunked.
    std::unique_ptr<body_stream> stream;
    /// For a chunked stream the gateway may cut on purpose (a trickling upstream): given the
    /// error next() failed with, the SSE event that tells the client why, or "" for the usual
    /// reset. With an event the body ends cleanly after it (then the connection closes).
    std::function<std::string(const boost::system::error_code&)> cut_event;
    /// Whatever must live until the response has been written (in-flight permits).
    std::vector<std::shared_ptr<void>> holds;
    /// Head fields already on the wire form (`name: value\r\n` each), sent before msg's own:
    /// a cache hit's stored head (docs/caching.md). Kept alive by `holds`.
    std::string_view stored_fields;
    /// When set, sent instead of msg.body(): a cache hit's stored body, not copied. Kept alive
    /// by `holds`.
    const std::string* stored_body = nullptr;
};

/// Reads the request body from the client connection on demand, so a handler can buffer a
/// small body, stream a large one, or ignore it. Owned by the server; valid during handle().
/// Anything the handler leaves unread is drained or the connection is closed.
class body_reader {
  public:
    virtual ~body_reader() = default;
    /// The declared Content-Length; nullopt for a chunked body.
    virtual std::optional<std::uint64_t> content_length() const = 0;
    /// True when the request has no body left to read.
    virtual bool done() const = 0;
    /// Reads the rest of the body into `out`; bhttp::error::body_limit past `limit` bytes.
    virtual boost::asio::awaitable<boost::system::error_code> read_all(std::string& out,
                                                                       std::uint64_t limit) = 0;
    /// True when read_now() can read the whole body without waiting: it came with the head
    /// (a known length, all of it buffered, no `100 Continue` owed), or there is none.
    virtual bool ready() const { return false; }
    /// read_all() without waiting; only when ready().
    virtual boost::system::error_code read_now(std::string& /*out*/, std::uint64_t /*limit*/) {
        return boost::system::errc::make_error_code(boost::system::errc::operation_would_block);
    }
    /// The next piece of the body, or nullopt at its end (or on error, with `ec` set).
    virtual boost::asio::awaitable<std::optional<std::string>> read_some(
        boost::system::error_code& ec) = 0;
};

/// What the server knows about the request beyond the message itself.
struct request_info {
    std::string remote_address;
    unsigned worker = 0;
    bool draining = false;  ///< the server is shutting down (readiness reports 503)
};

/// Builds a response with `body` and its content type; keep-alive follows `req`.
response make_response(const request& req, status st, std::string body,
                       std::string_view content_type = "application/json");

/// The HTTP status of one of the gateway's own errors.
constexpr status status_of(gateway_error e) {
    return static_cast<status>(describe(e).status);
}

/// The response's content type is text/event-stream (SSE).
bool is_event_stream(const response& res);

/// Why the server answered without calling the handler.
enum class reject_reason {
    header_too_large,  ///< a head over the server's limit
    bad_request,       ///< unparsable request
    bad_framing,       ///< a Transfer-Encoding other than one final chunked (framing.hpp)
    internal_error,    ///< the handler threw
};

/// The row a rejection answers with: the server takes its status, the handler's body its code,
/// so the two cannot disagree.
constexpr gateway_error error_of(reject_reason r) {
    switch (r) {
        case reject_reason::header_too_large:
            return gateway_error::request_header_too_large;
        case reject_reason::bad_request:
        case reject_reason::bad_framing:
            return gateway_error::bad_request;
        case reject_reason::internal_error:
            break;
    }
    return gateway_error::internal_error;
}

/// Implemented by the application: the server knows no routes. Called concurrently from
/// every worker thread, so implementations must be thread-safe.
class handler {
  public:
    virtual ~handler() = default;
    /// `req` carries the head; its body is read through `body` when the handler wants it.
    virtual boost::asio::awaitable<response> handle(request& req, body_reader& body,
                                                    const request_info& info) = 0;
    /// The body of a response the server makes itself (content type application/json).
    /// `target` is the request target when the head was parsed, empty otherwise.
    virtual std::string reject_body(reject_reason reason, std::string_view target) = 0;
    /// Called on worker `worker`'s thread when it stops, while its event loop still exists:
    /// the place to close per-worker resources (pooled upstream connections).
    virtual void worker_stopped(unsigned /*worker*/) {}
};

}  // namespace ditto::http
