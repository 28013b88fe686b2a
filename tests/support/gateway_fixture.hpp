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

/// Stops `proc` with SIGTERM (so sanitizers write their exit reports) and adds a test
/// failure when it does not exit within 15 s or its stderr holds an AddressSanitizer,
/// LeakSanitizer or UBSan report.
void stop_and_check_sanitizers(child_process& proc, const char* what);

}  // namespace ditto::test
