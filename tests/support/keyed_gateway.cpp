#include "support/keyed_gateway.hpp"

namespace ditto::test {

void KeyedGateway::start(const std::string& keys, const std::vector<std::string>& args,
                         const std::string& backend_extra,
                         const std::vector<std::pair<std::string, std::string>>& env) {
    mock.start();
    gw.start(R"({"backends":[{"name":"primary","base_url":"http://127.0.0.1:)" +
                 std::to_string(mock.port) + R"(/v1")" + backend_extra + R"(}],"virtual_keys":[)" +
                 keys + R"(],"router":{"default_backends":[{"backend":"primary"}]}})",
             args, env);
}

std::string virtual_key_json(const std::string& id, const std::string& token,
                             const std::string& fields) {
    // The required members a test does not set itself get their "nothing" value.
    std::string out = R"({"id":")" + id + R"(","token":")" + token + R"(","enabled":true)";
    const std::pair<const char*, const char*> defaults[] = {
        {"limits", "{}"},
        {"budget", "{}"},
        {"cache", R"({"enabled":false})"},
        {"guardrails", "{}"},
        {"passthrough", R"({"allow":false,"bypass_cache":false})"}};
    for (const auto& [name, value] : defaults) {
        if (fields.find("\"" + std::string(name) + "\":") == std::string::npos)
            out += ",\"" + std::string(name) + "\":" + value;
    }
    return out + (fields.empty() ? "" : "," + fields) + "}";
}

std::optional<http_response> KeyedGateway::post(const std::string& token, const std::string& body,
                                                headers extra, const std::string& path) {
    extra.emplace_back("Authorization", "Bearer " + token);
    extra.emplace_back("Content-Type", "application/json");
    return http_request(gw.port, "POST", path, body, extra);
}

}  // namespace ditto::test
