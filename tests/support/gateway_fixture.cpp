#include "support/gateway_fixture.hpp"

#include <signal.h>

namespace ditto::test {

std::string basic_config(int upstream_port, const std::string& token) {
    return R"({
  "backends": [{"name": "primary", "base_url": "http://127.0.0.1:)" +
           std::to_string(upstream_port) + R"(/v1",
                "headers": {"authorization": "Bearer sk-test"}}],
  "virtual_keys": [{"id": "key-1", "token": ")" +
           token + R"(", "enabled": true, "limits": {}, "budget": {},
                    "cache": {"enabled": false}, "guardrails": {},
                    "passthrough": {"allow": false, "bypass_cache": false}}],
  "router": {"default_backends": [{"backend": "primary"}], "rules": []}
})";
}

void stop_and_check_sanitizers(child_process& proc, const char* what) {
    if (proc.pid() <= 0)
        return;
    proc.signal(SIGTERM);
    // A graceful stop is part of the contract: a process that ignores SIGTERM (a handler
    // that keeps its event loop alive) fails the test instead of being killed silently.
    if (!proc.wait_exit(std::chrono::seconds(15)))
        ADD_FAILURE() << what << " did not exit within 15 s of SIGTERM";
    const auto err = proc.stderr_text();
    for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                               "runtime error:", "WARNING: ThreadSanitizer"}) {
        if (err.find(marker) != std::string::npos) {
            ADD_FAILURE() << what << " reported a sanitizer error:\n" << err;
            return;
        }
    }
}

running_gateway::~running_gateway() {
    stop_and_check_sanitizers(proc, "ditto-gateway");
}
running_mock::~running_mock() {
    stop_and_check_sanitizers(proc, "ditto-mock-upstream");
}

void running_gateway::start(const std::string& config, const std::vector<std::string>& extra_args,
                            const std::vector<std::pair<std::string, std::string>>& env) {
    std::vector<std::string> args{dir.write("gateway.json", config), "--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    proc.start(DITTO_GATEWAY_BIN, args, env);
    auto p = proc.wait_for_port();
    ASSERT_TRUE(p) << "gateway did not start:\n" << proc.stderr_text();
    port = *p;
}

int running_mock::request_count() const {
    auto r = http_request(port, "GET", "/__mock/requests");
    if (!r || r->status != 200)
        return -1;
    int n = 0;
    for (auto p = r->body.find("\"seq\""); p != std::string::npos;
         p = r->body.find("\"seq\"", p + 1)) {
        ++n;
    }
    return n;
}

void running_mock::start(const std::vector<std::string>& extra_args) {
    std::vector<std::string> args{"--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    proc.start(DITTO_MOCK_BIN, args);
    auto p = proc.wait_for_port();
    ASSERT_TRUE(p) << "mock upstream did not start:\n" << proc.stderr_text();
    port = *p;
}

}  // namespace ditto::test
