#include "ditto/http/framing.hpp"

#include <boost/beast/http/error.hpp>

#include "ditto/core/strings.hpp"
#include "ditto/http/message_parser.hpp"

namespace ditto::http {

bool request_framing_ok(const request& head) {
    namespace bhttp = boost::beast::http;
    const auto codings = head.count(bhttp::field::transfer_encoding);
    if (codings == 0)
        return true;
    if (codings > 1 || head.version() < 11 ||
        head.find(bhttp::field::content_length) != head.end()) {
        return false;
    }
    return core::iequals(core::trim(head[bhttp::field::transfer_encoding]), "chunked");
}

bool fold_finder::found_in(std::string_view consumed) {
    if (consumed.empty())
        return false;
    if (after_newline_ && (consumed.front() == ' ' || consumed.front() == '\t'))
        return true;
    for (auto at = consumed.find('\n'); at != std::string_view::npos;
         at = consumed.find('\n', at + 1)) {
        if (at + 1 < consumed.size() && (consumed[at + 1] == ' ' || consumed[at + 1] == '\t'))
            return true;
    }
    after_newline_ = consumed.back() == '\n';
    return false;
}

std::size_t put_head(request_parser& parser, std::string_view in, fold_finder& folds,
                     boost::system::error_code& ec) {
    ec = {};
    const auto used = parser.put(boost::asio::const_buffer(in.data(), in.size()), ec);
    if (folds.found_in(in.substr(0, used)))
        ec = boost::beast::http::error::bad_field;
    return used;
}

}  // namespace ditto::http
