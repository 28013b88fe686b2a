#include "ditto/http/message_parser.hpp"

#include <boost/beast/http/error.hpp>

namespace ditto::http {

namespace bhttp = boost::beast::http;

std::size_t body_sink::take(std::string_view body, boost::system::error_code& ec) {
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

template <bool isRequest>
void message_parser<isRequest>::on_request_impl(bhttp::verb method, string_view method_str,
                                                string_view target, int version, error_code& ec) {
    if constexpr (isRequest) {
        if (method == bhttp::verb::unknown)
            msg_->method_string({method_str.data(), method_str.size()});
        else
            msg_->method(method);
        msg_->target({target.data(), target.size()});
        msg_->version(static_cast<unsigned>(version));
    } else {
        ec = bhttp::error::bad_version;  // never called: Beast wants the override all the same
    }
}

template <bool isRequest>
void message_parser<isRequest>::on_response_impl(int code, string_view reason, int version,
                                                 error_code& ec) {
    if constexpr (!isRequest) {
        msg_->result(static_cast<unsigned>(code));
        msg_->reason({reason.data(), reason.size()});
        msg_->version(static_cast<unsigned>(version));
    } else {
        ec = bhttp::error::bad_version;
    }
}

// After the head, fields are a chunked body's trailers: dropped, never forwarded
// (docs/http-server.md).
template <bool isRequest>
void message_parser<isRequest>::on_field_impl(bhttp::field name, string_view name_string,
                                              string_view value, error_code&) {
    if (msg_ && !this->is_header_done())
        msg_->insert(name, {name_string.data(), name_string.size()}, {value.data(), value.size()});
}

template class message_parser<true>;
template class message_parser<false>;

}  // namespace ditto::http
