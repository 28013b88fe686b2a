#include "ditto/http/request_parser.hpp"

#include <boost/beast/http/error.hpp>

namespace ditto::http {

namespace bhttp = boost::beast::http;

void request_parser::on_request_impl(bhttp::verb method, string_view method_str, string_view target,
                                     int version, error_code&) {
    if (method == bhttp::verb::unknown)
        req_.method_string(method_str);
    else
        req_.method(method);
    req_.target(target);
    req_.version(static_cast<unsigned>(version));
}

// A request parser never reads a status line; Beast wants the override all the same.
void request_parser::on_response_impl(int, string_view, int, error_code& ec) {
    ec = bhttp::error::bad_version;
}

// After the head, fields are a chunked body's trailers: dropped, never forwarded
// (docs/http-server.md).
void request_parser::on_field_impl(bhttp::field name, string_view name_string, string_view value,
                                   error_code&) {
    if (!is_header_done())
        req_.insert(name, name_string, value);
}

void request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) {
    if (sink_ && length && *length <= limit_)
        sink_->reserve(sink_->size() + *length);
}

std::size_t request_parser::on_body_impl(string_view body, error_code& ec) {
    if (!sink_) {
        ec = bhttp::error::need_buffer;  // only the head was asked for
        return 0;
    }
    const std::uint64_t room = sink_->size() < limit_ ? limit_ - sink_->size() : 0;
    if (body.size() > room) {
        if (!fill_) {
            ec = bhttp::error::body_limit;
            return 0;
        }
        if (room == 0) {
            ec = bhttp::error::need_buffer;  // the piece is full: the rest is the next one's
            return 0;
        }
        body = body.substr(0, room);
    }
    sink_->append(body.data(), body.size());
    return body.size();
}

}  // namespace ditto::http
