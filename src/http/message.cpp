#include "ditto/http/message.hpp"

#include "ditto/core/strings.hpp"

namespace ditto::http {

response make_response(const request& req, status st, std::string body,
                       std::string_view content_type) {
    response r;
    r.msg.version(req.version());
    r.msg.result(st);
    r.msg.keep_alive(req.keep_alive());
    if (!content_type.empty())
        r.msg.set(field::content_type, content_type);
    r.msg.body() = std::move(body);
    r.msg.prepare_payload();
    return r;
}

bool is_event_stream(const response& res) {
    auto ct = res.msg.find(field::content_type);
    return ct != res.msg.end() && core::iequals_prefix(ct->value(), "text/event-stream");
}

}  // namespace ditto::http
