#pragma once

// Serialising HTTP/1.1 heads straight into a string. Beast's serializer walks its fields
// through layered buffer-sequence iterators; on the proxy's hot path a plain append is
// several times cheaper, and the head can then go out in one gathered write with the body.

#include <cstdint>
#include <string>
#include <string_view>

#include "ditto/http/request.hpp"
#include "ditto/http/response_message.hpp"

namespace ditto::http::wire {

/// "HTTP/1.x <code> <reason>\r\n" + fields + "\r\n".
/// `stored_fields` (already `name: value\r\n` each) go between the status line and the
/// head's own fields.
void append_response_head(std::string& out, const response_message& head,
                          std::string_view stored_fields = {});

/// "<METHOD> <target> HTTP/1.x\r\n" + fields + "\r\n".
void append_request_head(std::string& out, const request& head);

/// A chunk-size line: hex length + "\r\n".
void append_chunk_size(std::string& out, std::uint64_t size);

}  // namespace ditto::http::wire
