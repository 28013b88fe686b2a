#include "ditto/http/wire.hpp"

#include <charconv>

namespace ditto::http::wire {
namespace {

namespace bhttp = boost::beast::http;

void append_version(std::string& out, unsigned version) {
    out += version == 10 ? "HTTP/1.0" : "HTTP/1.1";
}

void append_fields(std::string& out, const header_list& f) {
    for (const auto& field : f) {
        const auto name = field.name_string();
        const auto value = field.value();
        out.append(name.data(), name.size()).append(": ");
        out.append(value.data(), value.size()).append("\r\n");
    }
    out += "\r\n";
}

}  // namespace

void append_response_head(std::string& out, const response_message& head,
                          std::string_view stored_fields) {
    append_version(out, head.version());
    char code[4];
    auto [end, ec] = std::to_chars(code, code + sizeof(code), head.result_int());
    out.append(" ").append(code, end).append(" ");
    auto reason = head.reason();
    if (reason.empty()) {
        const auto usual = bhttp::obsolete_reason(head.result());
        reason = {usual.data(), usual.size()};
    }
    out.append(reason.data(), reason.size()).append("\r\n");
    out.append(stored_fields);
    append_fields(out, head);
}

void append_request_head(std::string& out, const request& head) {
    const auto method = head.method_string();
    const auto target = head.target();
    out.append(method.data(), method.size()).append(" ");
    out.append(target.data(), target.size()).append(" ");
    append_version(out, head.version());
    out += "\r\n";
    append_fields(out, head);
}

void append_chunk_size(std::string& out, std::uint64_t size) {
    char buf[17];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), size, 16);
    out.append(buf, end).append("\r\n");
}

}  // namespace ditto::http::wire
