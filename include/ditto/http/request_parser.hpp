#pragma once

// The client request parser: Beast's basic_parser, so every framing rule stays Beast's
// (request line, field syntax, Content-Length and chunked, limits), writing the head into our
// own http::request (request.hpp) instead of Beast's fields, and the body, when asked, into a
// string. One parser serves one request, head and body (docs/http-server.md).

#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string>

#include "ditto/http/request.hpp"

namespace ditto::http {

class request_parser final : public boost::beast::http::basic_parser<true> {
  public:
    /// Fills `into`, which the caller has cleared; `into` must outlive the parser.
    explicit request_parser(request& into) : req_(into) {}

    /// Where the body goes from now on: appended to `out`, refused with
    /// `error::body_limit` once `out` would pass `limit` bytes. Null discards nothing and
    /// takes no body: parsing stops at the first body byte (the head alone is parsed).
    void body_to(std::string* out, std::uint64_t limit) {
        sink_ = out;
        limit_ = limit;
        fill_ = false;
    }
    /// Where the next pieces of the body go: appended to `out` while it is under `room`
    /// bytes; the rest stays in the caller's buffer for the next piece (no error).
    void pieces_to(std::string* out, std::uint64_t room) {
        sink_ = out;
        limit_ = room;
        fill_ = true;
    }

    request& get() { return req_; }
    const request& get() const { return req_; }

  private:
    using error_code = boost::system::error_code;
    using string_view = boost::core::string_view;

    void on_request_impl(boost::beast::http::verb method, string_view method_str,
                         string_view target, int version, error_code& ec) override;
    void on_response_impl(int, string_view, int, error_code& ec) override;
    void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                       error_code& ec) override;
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override;
    std::size_t on_body_impl(string_view body, error_code& ec) override;
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
        return on_body_impl(body, ec);
    }
    void on_finish_impl(error_code&) override {}

    request& req_;
    std::string* sink_ = nullptr;
    std::uint64_t limit_ = 0;
    bool fill_ = false;
};

}  // namespace ditto::http
