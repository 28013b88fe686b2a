#pragma once

// A response head and its buffered body, kept like the request (request.hpp): fields as
// {enum, offsets} into one byte string in arrival order. It is what the upstream client parses
// an answer into (response_parser.hpp), what the chain adds its headers to and what the server
// writes (wire.hpp); the member names follow Beast's message.

#include <boost/beast/http/status.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ditto/http/request.hpp"

namespace ditto::http {

class response_message : public header_list {
  public:
    response_message() = default;
    response_message(boost::beast::http::status st, unsigned version)
        : status_(static_cast<unsigned>(st)), version_(version) {}

    boost::beast::http::status result() const { return boost::beast::http::int_to_status(status_); }
    unsigned result_int() const { return status_; }
    void result(boost::beast::http::status st) { status_ = static_cast<unsigned>(st); }
    void result(unsigned code) { status_ = code; }
    /// The reason phrase received, or "" (the writer then uses the code's usual one).
    std::string_view reason() const { return text(reason_off_, reason_len_); }
    void reason(std::string_view r);
    unsigned version() const { return version_; }
    void version(unsigned v) { version_ = v; }

    bool keep_alive() const { return connection_keeps_alive(version_); }
    void keep_alive(bool on) { set_keep_alive(version_, on); }

    std::optional<std::uint64_t> content_length() const { return declared_length(); }
    bool has_content_length() const {
        return find(boost::beast::http::field::content_length) != end();
    }
    void content_length(std::uint64_t n) { set_content_length(n); }
    /// Content-Length for the body, except on answers that have none (1xx, 204, 304), which
    /// get no length field; Transfer-Encoding goes either way.
    void prepare_payload();

    std::string& body() { return body_; }
    const std::string& body() const { return body_; }

    /// The head alone, as Beast's `base()` (code that writes heads takes this).
    const response_message& base() const { return *this; }
    response_message& base() { return *this; }

    void clear();

  private:
    unsigned status_ = 200;
    std::uint32_t reason_off_ = 0, reason_len_ = 0;
    unsigned version_ = 11;
    std::string body_;
};

}  // namespace ditto::http
