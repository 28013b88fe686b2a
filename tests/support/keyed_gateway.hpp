#pragma once

// A fixture for the governance suites: the real gateway in front of one mock backend
// ("primary"), with the virtual keys a test writes.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/gateway_fixture.hpp"

namespace ditto::test {

/// 73 bytes: estimate 19 input tokens + max_tokens 10 = a charge of 29; the mock reports
/// 19 + 9 = 28.
inline const std::string chat_body =
    R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})";

using http_headers = std::vector<std::pair<std::string, std::string>>;

/// One virtual key's JSON: `fields` are its limits/budget/guardrails (defaults: none) and any
/// other members, e.g. R"("limits":{"rpm":2})".
std::string virtual_key_json(const std::string& id, const std::string& token,
                             const std::string& fields = "");

class KeyedGateway : public ::testing::Test {
  protected:
    using headers = http_headers;

    /// `keys`: the virtual_keys array members; `backend_extra` is appended to the backend's
    /// object (`,"model_map":{…}`).
    void start(const std::string& keys, const std::vector<std::string>& args = {},
               const std::string& backend_extra = "",
               const std::vector<std::pair<std::string, std::string>>& env = {});

    static std::string key(const std::string& id, const std::string& token,
                           const std::string& fields = "") {
        return virtual_key_json(id, token, fields);
    }

    std::optional<http_response> post(const std::string& token, const std::string& body = chat_body,
                                      headers extra = {},
                                      const std::string& path = "/v1/chat/completions");

    running_mock mock;
    running_gateway gw;
};

}  // namespace ditto::test
