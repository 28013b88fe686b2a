#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace ditto::test {

/// A minimal valid gateway.json whose single backend points at `upstream_port`.
std::string basic_config(int upstream_port, const std::string& token = "vk-test-1");

/// Starts the real ditto-gateway binary on a free loopback port with `config` (written to a
/// temp file) and `extra_args`; fails the test if it does not report its port in time.
struct running_gateway {
    temp_dir dir;
    child_process proc;
    int port = 0;
    /// Stops the gateway gracefully and fails the test if it reported a sanitizer error.
    ~running_gateway();

    void start(const std::string& config, const std::vector<std::string>& extra_args = {},
               const std::vector<std::pair<std::string, std::string>>& env = {});
};

/// Starts the real ditto-mock-upstream binary on a free loopback port.
struct running_mock {
    child_process proc;
    int port = 0;
    ~running_mock();
    void start(const std::vector<std::string>& extra_args = {});
    /// Requests the mock has answered (its /__mock/requests log); -1 when unreachable.
    int request_count() const;
};

/// A suite's fixture: one gateway (basic_config, one worker) in front of one mock for the whole
/// suite, the mock's request log cleared before each case so that a case reads exactly the
/// requests it caused. Derive as `class X : public gateway_over_mock<X>`: each suite its own.
template <class Suite>
class gateway_over_mock : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        mock = new running_mock;
        mock->start();
        gw = new running_gateway;
        gw->start(basic_config(mock->port), {"--workers", "1"});
    }
    static void TearDownTestSuite() {
        delete gw;
        delete mock;
        gw = nullptr;
        mock = nullptr;
    }
    void SetUp() override {
        ASSERT_TRUE(mock && gw && mock->port > 0 && gw->port > 0);
        auto cleared = http_request(mock->port, "DELETE", "/__mock/requests");
        ASSERT_TRUE(cleared && cleared->status == 204);
    }
    /// The mock's request log (JSON).
    static std::string recorded() {
        auto r = http_request(mock->port, "GET", "/__mock/requests");
        return r ? r->body : "";
    }
    static inline running_mock* mock = nullptr;
    static inline running_gateway* gw = nullptr;
};

/// Stops `proc` with SIGTERM (so sanitizers write their exit reports) and adds a test
/// failure when it does not exit within 15 s or its stderr holds an AddressSanitizer,
/// LeakSanitizer or UBSan report.
void stop_and_check_sanitizers(child_process& proc, const char* what);

}  // namespace ditto::test
