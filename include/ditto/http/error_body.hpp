#pragma once

#include <string>
#include <string_view>

namespace ditto::http {

/// `{"error":{"message","type","code"}}` (SPEC OAI shape); `code` omitted when empty.
std::string openai_error(std::string_view type, std::string_view code, std::string_view message);

/// `{"error":{"code","message"}}` (SPEC ADM shape, Admin API and /metrics/prometheus).
std::string admin_error(std::string_view code, std::string_view message);

}  // namespace ditto::http
