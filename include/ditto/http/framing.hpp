#pragma once

// How a request's body is delimited, checked before anything reads it (RFC 9112 §6). A
// request whose length the gateway and a later hop could read differently is refused, so no
// bytes of one request can be taken for the start of another (request smuggling).

#include <boost/beast/http/message.hpp>

namespace ditto::http {

/// True when the request's framing is unambiguous: no Transfer-Encoding, or exactly one
/// Transfer-Encoding field whose only coding is `chunked` (any case), in an HTTP/1.1 request
/// without a Content-Length. Anything else — an unknown or non-final coding (`xchunked`,
/// `gzip`, `chunked, identity`), an empty value, `chunked` twice, Transfer-Encoding in
/// HTTP/1.0 or together with Content-Length — must get 400 and the connection closed
/// (RFC 9112 §6.1, §6.3): we support no transfer coding but chunked.
bool request_framing_ok(const boost::beast::http::request_header<>& head);

}  // namespace ditto::http
