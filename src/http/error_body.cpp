#include "ditto/http/error_body.hpp"

#include <nlohmann/json.hpp>

namespace ditto::http {

std::string openai_error(std::string_view type, std::string_view code, std::string_view message,
                         std::string_view param) {
    nlohmann::ordered_json err = {{"message", message}, {"type", type}};
    if (!param.empty())
        err["param"] = param;
    if (!code.empty())
        err["code"] = code;
    return nlohmann::ordered_json{{"error", err}}.dump(-1, ' ', false,
                                                       nlohmann::json::error_handler_t::replace);
}

std::string openai_error(gateway_error e, std::string_view message, std::string_view param) {
    const auto& row = describe(e);
    return openai_error(row.type, row.code, message, param);
}

std::string admin_error(std::string_view code, std::string_view message) {
    nlohmann::ordered_json err = {{"code", code}, {"message", message}};
    return nlohmann::ordered_json{{"error", err}}.dump(-1, ' ', false,
                                                       nlohmann::json::error_handler_t::replace);
}

}  // namespace ditto::http
