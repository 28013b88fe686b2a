#include "ditto/http/framing.hpp"

#include "ditto/core/strings.hpp"

namespace ditto::http {

bool request_framing_ok(const boost::beast::http::request_header<>& head) {
    namespace bhttp = boost::beast::http;
    const auto [first, last] = head.equal_range(bhttp::field::transfer_encoding);
    if (first == last)
        return true;
    if (std::next(first) != last || head.version() < 11 ||
        head.find(bhttp::field::content_length) != head.end()) {
        return false;
    }
    return core::iequals(core::trim(first->value()), "chunked");
}

}  // namespace ditto::http
