#include "ditto/http/response_message.hpp"

namespace ditto::http {

namespace bhttp = boost::beast::http;

void response_message::reason(std::string_view r) {
    reason_off_ = keep(r);
    reason_len_ = static_cast<std::uint32_t>(r.size());
}

void response_message::prepare_payload() {
    if ((status_ >= 100 && status_ < 200) || status_ == 204 || status_ == 304) {
        erase(bhttp::field::content_length);
        erase(bhttp::field::transfer_encoding);
        return;
    }
    set_content_length(body_.size());
}

void response_message::clear() {
    header_list::clear();
    status_ = 200;
    reason_off_ = reason_len_ = 0;
    version_ = 11;
    body_.clear();
}

}  // namespace ditto::http
