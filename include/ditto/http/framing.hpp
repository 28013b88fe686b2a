#pragma once

// How a request's body is delimited, checked before anything reads it (RFC 9112 §6). A
// request whose length the gateway and a later hop could read differently is refused, so no
// bytes of one request can be taken for the start of another (request smuggling).

#include <boost/system/error_code.hpp>
#include <cstddef>
#include <string_view>

#include "ditto/http/request.hpp"

namespace ditto::http {

/// True when the request's framing is unambiguous: no Transfer-Encoding, or exactly one
/// Transfer-Encoding field whose only coding is `chunked` (any case), in an HTTP/1.1 request
/// without a Content-Length. Anything else — an unknown or non-final coding (`xchunked`,
/// `gzip`, `chunked, identity`), an empty value, `chunked` twice, Transfer-Encoding in
/// HTTP/1.0 or together with Content-Length — must get 400 and the connection closed
/// (RFC 9112 §6.1, §6.3): we support no transfer coding but chunked.
bool request_framing_ok(const request& head);

/// Finds an obs-fold (RFC 9112 §5.2: a header line that starts with SP or HTAB) in a head's
/// bytes as a parser consumes them, possibly in several pieces. Beast joins such a line into
/// the previous one; the server refuses it instead, so that no hop after us can read the
/// header differently (docs/http-server.md).
class fold_finder {
  public:
    /// True when the bytes consumed so far, ending with `consumed`, hold a fold.
    bool found_in(std::string_view consumed);

  private:
    bool after_newline_ = false;
};

/// One step of reading a request head: feeds `parser` the buffered bytes `in` and returns
/// how many it consumed (also on need_more: the start line may be taken before the rest
/// arrives). An obs-fold in them is `bad_field`, whatever Beast made of it. The server and
/// the fuzzer (tests/fuzz/fuzz_http_request.cpp) read heads through this one function.
template <bool isRequest>
class message_parser;
using request_parser = message_parser<true>;
std::size_t put_head(request_parser& parser, std::string_view in, fold_finder& folds,
                     boost::system::error_code& ec);

}  // namespace ditto::http
