#pragma once

// Keeping a copy of an answer while it is relayed (docs/caching.md, docs/proxy.md "Retries with
// x-request-id"): the proxy cache and the x-request-id replay store answers the same way, so a
// stored answer is the same bytes whichever of them replays it.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/cache/entry.hpp"
#include "ditto/http/message.hpp"

namespace ditto::cache {

/// False for an upstream header a stored answer must not carry: hop-by-hop and framing (the
/// replay sets its own), the upstream's date and cookies, and the per-request x-ditto-* ids
/// (x-ditto-shim, which says how the answer was made, stays).
bool replayable(std::string_view lower_name);

/// The stored form of `res`'s head: status, backend, replayable headers and their wire form,
/// also of an answer sent as stored bytes (a cache hit). No body and no metadata: the caller
/// fills them (answer_body()).
entry answer_head(const http::response& res);
/// `res`'s buffered body: the message's, or the stored bytes of a cache hit.
std::string_view answer_body(const http::response& res);

/// `body`, an SSE stream, without the usage event the gateway asked for and the client never
/// saw (docs/governance.md): a stored copy must be what the client saw.
std::string without_usage_chunk(const std::string& body);

/// `e` as an answer to `req`: its status, stored header bytes and body, sent as they are stored
/// (docs/caching.md). `holds` go with the response, and so does `e`, which keeps the bytes alive
/// until written. The caller adds its own per-request headers.
http::response stored_answer(std::shared_ptr<const entry> e, const http::request& req,
                             std::vector<std::shared_ptr<void>> holds);

/// Where a recorded stream ends up.
class recording_sink {
  public:
    virtual ~recording_sink() = default;
    /// The body ended normally within the limit: `e` is the whole answer.
    virtual boost::asio::awaitable<void> complete(entry e) = 0;
    /// The copy is lost: the body outgrew the limit (`overflow`; it is still relayed whole) or
    /// the stream failed. A sink destroyed without either call saw the client go away.
    virtual boost::asio::awaitable<void> abandon(bool overflow) = 0;
};

/// Relays `inner` unchanged while copying it into `head`'s body, up to `limit` bytes, and tells
/// `sink` how it ended. `strip_usage`: the stored copy drops the usage event (above).
std::unique_ptr<http::body_stream> record(std::unique_ptr<http::body_stream> inner, entry head,
                                          std::uint64_t limit, bool strip_usage,
                                          std::unique_ptr<recording_sink> sink);

}  // namespace ditto::cache
