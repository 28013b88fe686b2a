#pragma once

#include <string>
#include <string_view>

#include "ditto/http/gateway_error.hpp"

namespace ditto::http {

/// `{"error":{"message","type","param","code"}}` (OpenAI's shape, docs/proxy.md); `param` and
/// `code` omitted when empty. `param` names the request field at fault, as OpenAI does.
std::string openai_error(std::string_view type, std::string_view code, std::string_view message,
                         std::string_view param = {});

/// The same for one of the gateway's own errors: its row's type and code.
std::string openai_error(gateway_error e, std::string_view message, std::string_view param = {});

/// `{"error":{"code","message"}}` (the Admin shape, docs/admin-api.md; also /metrics/prometheus).
std::string admin_error(std::string_view code, std::string_view message);

}  // namespace ditto::http
