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

std::size_t put_head(boost::beast::http::request_parser<boost::beast::http::empty_body>& parser,
                     std::string_view in, fold_finder& folds, boost::system::error_code& ec) {
    ec = {};
    const auto used = parser.put(boost::asio::const_buffer(in.data(), in.size()), ec);
    if (folds.found_in(in.substr(0, used)))
        ec = boost::beast::http::error::bad_field;
    return used;
}

}  // namespace ditto::http
