#pragma once

// The parsers for client requests and upstream answers: Beast's basic_parser, so every framing
// rule stays Beast's (start line, field syntax, Content-Length and chunked, limits), writing the
// head into our own message (request.hpp, response_message.hpp) instead of Beast's fields, and
// the body, when asked, into a string. One parser serves one message, head and body
// (docs/http-server.md).

#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string>
#include <type_traits>

#include "ditto/http/request.hpp"
#include "ditto/http/response_message.hpp"

namespace ditto::http {

/// Where a parser puts body bytes.
class body_sink {
  public:
    /// The body from now on: appended to `out`, refused with `error::body_limit` once `out`
    /// would pass `limit` bytes. Until one is given the parser takes no body: it stops at the
    /// first body byte with `error::need_buffer` (the head alone is parsed).
    void body_to(std::string* out, std::uint64_t limit) { aim(out, limit, false); }
    /// The next pieces of the body: appended to `out` while it is under `room` bytes; the rest
    /// stays in the caller's buffer for the next piece (`need_buffer`, not an error).
    void pieces_to(std::string* out, std::uint64_t room) { aim(out, room, true); }

  protected:
    std::size_t take(std::string_view body, boost::system::error_code& ec);
    void reserve(std::uint64_t length) {
        if (sink_ && length <= limit_)
            sink_->reserve(sink_->size() + length);
    }

  private:
    void aim(std::string* out, std::uint64_t limit, bool fill) {
        sink_ = out;
        limit_ = limit;
        fill_ = fill;
    }
    std::string* sink_ = nullptr;
    std::uint64_t limit_ = 0;
    bool fill_ = false;
};

template <bool isRequest>
class message_parser final : public boost::beast::http::basic_parser<isRequest>, public body_sink {
  public:
    using message_type = std::conditional_t<isRequest, request, response_message>;

    /// Fills `into`, which the caller has cleared; `into` must outlive the parsing of the head.
    explicit message_parser(message_type& into) : msg_(&into) {}
    message_parser(message_parser&&) = default;

    message_type& get() { return *msg_; }
    const message_type& get() const { return *msg_; }
    /// The head has moved on (to the client's answer): the parser reads only the body now.
    void detach() { msg_ = nullptr; }

  private:
    using error_code = boost::system::error_code;
    using string_view = boost::core::string_view;

    void on_request_impl(boost::beast::http::verb method, string_view method_str,
                         string_view target, int version, error_code& ec) override;
    void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
    void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                       error_code& ec) override;
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
        if (length)
            reserve(*length);
    }
    std::size_t on_body_impl(string_view body, error_code& ec) override {
        return take({body.data(), body.size()}, ec);
    }
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
        return take({body.data(), body.size()}, ec);
    }
    void on_finish_impl(error_code&) override {}

    message_type* msg_;
};

extern template class message_parser<true>;
extern template class message_parser<false>;

using request_parser = message_parser<true>;
using response_parser = message_parser<false>;

}  // namespace ditto::http
