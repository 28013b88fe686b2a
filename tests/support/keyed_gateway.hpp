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

class KeyedGateway : public ::testing::Test {
  protected:
    using headers = std::vector<std::pair<std::string, std::string>>;

    /// `keys`: the virtual_keys array members; `backend_extra` is appended to the backend's
    /// object (`,"model_map":{…}`).
    void start(const std::string& keys, const std::vector<std::string>& args = {},
               const std::string& backend_extra = "");

    /// One virtual key: `fields` are its limits/budget/guardrails (defaults: none) and any
    /// other members, e.g. R"("limits":{"rpm":2})".
    static std::string key(const std::string& id, const std::string& token,
                           const std::string& fields = "");

    std::optional<http_response> post(const std::string& token, const std::string& body = chat_body,
                                      headers extra = {},
                                      const std::string& path = "/v1/chat/completions");

    running_mock mock;
    running_gateway gw;
};

}  // namespace ditto::test
