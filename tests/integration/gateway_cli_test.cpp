// The command line as users run it: the real binary, its exit codes and its messages.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "support/gateway_fixture.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

TEST(GatewayCli, HelpAndVersion) {
    auto h = run_to_exit(DITTO_GATEWAY_BIN, {"--help"});
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_NE(h.out.find("--listen"), std::string::npos);
    EXPECT_NE(h.out.find("--check-config"), std::string::npos);
    auto v = run_to_exit(DITTO_GATEWAY_BIN, {"--version"});
    EXPECT_EQ(v.exit_code, 0);
    EXPECT_EQ(v.out.rfind("ditto-gateway ", 0), 0u) << v.out;
}

TEST(GatewayCli, UsageErrorsExitTwoWithOneLine) {
    auto r = run_to_exit(DITTO_GATEWAY_BIN, {"x.json", "--proxy-max-in-flight", "0"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty());
    auto u = run_to_exit(DITTO_GATEWAY_BIN, {"x.json", "--admin-tokn", "t"});
    EXPECT_EQ(u.exit_code, 2);
}

// docs/observability.md, "Tracing": a collector header is checked like a backend's, after its
// secret is resolved, and never echoed; an unusable endpoint stops start-up too.
TEST(GatewayCli, TracingFlagsThatCannotWorkStopStartUp) {
    temp_dir dir;
    auto path = dir.write("gw.json", basic_config(9000));
    const std::vector<std::pair<std::string, std::string>> env = {
        {"OTEL_AUTH", "Bearer ok\r\nx-injected: 1"}};
    auto bad_value =
        run_to_exit(DITTO_GATEWAY_BIN,
                    {path, "--listen", "127.0.0.1:0", "--otel-endpoint", "http://127.0.0.1:4318",
                     "--otel-header", "authorization=secret://env/OTEL_AUTH"},
                    20s, env);
    EXPECT_EQ(bad_value.exit_code, 1) << bad_value.err;
    EXPECT_NE(bad_value.err.find("--otel-header"), std::string::npos) << bad_value.err;
    EXPECT_EQ(bad_value.err.find("x-injected"), std::string::npos) << bad_value.err;
    auto missing =
        run_to_exit(DITTO_GATEWAY_BIN,
                    {path, "--listen", "127.0.0.1:0", "--otel-endpoint", "http://127.0.0.1:4318",
                     "--otel-header", "authorization=secret://env/DITTO_NO_SUCH_VAR"});
    EXPECT_EQ(missing.exit_code, 1) << missing.err;
    auto bad_url = run_to_exit(DITTO_GATEWAY_BIN, {path, "--listen", "127.0.0.1:0",
                                                   "--otel-endpoint", "http://user@host:4318"});
    EXPECT_EQ(bad_url.exit_code, 1) << bad_url.err;
}

TEST(GatewayCli, CheckConfigValid) {
    temp_dir dir;
    auto path = dir.write("gw.json", basic_config(9000));
    auto r = run_to_exit(DITTO_GATEWAY_BIN, {path, "--check-config"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("OK (1 backends, 1 virtual keys, 0 router rules)"), std::string::npos)
        << r.out;
}

TEST(GatewayCli, CheckConfigReportsEveryErrorWithItsPath) {
    temp_dir dir;
    auto path = dir.write("gw.json", R"({
      "backends": [{"name": "a", "base_url": "http://127.0.0.1:1", "timeout_seconds": "soon"},
                   {"name": "b", "base_url": "http://127.0.0.1:2", "provider": "bedrock"}],
      "virtual_keys": [
        {"id": "", "token": "t1", "enabled": true, "limits": {}, "budget": {},
         "cache": {"enabled": false}, "guardrails": {},
         "passthrough": {"allow": false, "bypass_cache": false}},
        {"id": "k2", "token": "${NOT_SET_ANYWHERE_X}", "enabled": true, "limits": {"rpm": -1},
         "budget": {}, "cache": {"enabled": false}, "guardrails": {},
         "passthrough": {"allow": false, "bypass_cache": false}}
      ],
      "router": {"default_backends": [{"backend": "ghost"}], "rules": []}
    })");
    auto r = run_to_exit(DITTO_GATEWAY_BIN, {path, "--check-config"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("backends[0].timeout_seconds"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("backends[1].provider"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("virtual_keys[1].limits.rpm"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("config is invalid"), std::string::npos) << r.err;
}

TEST(GatewayCli, CheckConfigValidationMessagesAfterExpansion) {
    temp_dir dir;
    auto path = dir.write("gw.json", R"({
      "backends": [{"name": "a", "base_url": "http://127.0.0.1:1"}],
      "virtual_keys": [
        {"id": "", "token": "t1", "enabled": true, "limits": {}, "budget": {},
         "cache": {"enabled": false}, "guardrails": {},
         "passthrough": {"allow": false, "bypass_cache": false}},
        {"id": "k2", "token": "t1", "enabled": true, "limits": {}, "budget": {},
         "cache": {"enabled": false}, "guardrails": {}, "route": "nowhere",
         "passthrough": {"allow": false, "bypass_cache": false}}
      ],
      "router": {"default_backends": [{"backend": "ghost"}], "rules": []}
    })");
    auto r = run_to_exit(DITTO_GATEWAY_BIN, {path, "--check-config"});
    EXPECT_EQ(r.exit_code, 1);
    for (const char* msg : {"virtual_keys[0].id cannot be empty",
                            "duplicate virtual key token (first at index 0, duplicate at index 1)",
                            "virtual_keys[1].route references unknown backend: nowhere",
                            "router references unknown backends: ghost"}) {
        EXPECT_NE(r.err.find(msg), std::string::npos) << msg << "\n" << r.err;
    }
}

TEST(GatewayCli, DotenvSuppliesVariablesAndSecretsStayOutOfOutput) {
    temp_dir dir;
    auto path = dir.write("gw.json", basic_config(9000, "${VK_FROM_DOTENV}"));
    auto env = dir.write(".env", "# comment\nexport VK_FROM_DOTENV=\"vk-super-secret\"\n");
    auto ok = run_to_exit(DITTO_GATEWAY_BIN, {path, "--dotenv", env, "--check-config"});
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    auto missing = run_to_exit(DITTO_GATEWAY_BIN, {path, "--check-config"});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("missing env var: VK_FROM_DOTENV"), std::string::npos)
        << missing.err;

    running_gateway gw;
    gw.start(basic_config(9000, "${VK_FROM_DOTENV}"), {"--dotenv", env});
    EXPECT_EQ(gw.proc.stderr_text().find("vk-super-secret"), std::string::npos);
}

TEST(GatewayCli, BundledDemoConfigIsValid) {
    const std::string dir = DITTO_SOURCE_DIR "/configs/";
    auto r = run_to_exit(DITTO_GATEWAY_BIN,
                         {dir + "demo.json", "--dotenv", dir + "demo.env", "--check-config"}, 20s,
                         {{"DITTO_MOCK_URL", "http://127.0.0.1:9090/v1"}});
    EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(GatewayCli, DemoSetupAnswersTheReadmeCurl) {
    // What scripts/run.sh starts: the mock upstream and the demo config in front of it.
    running_mock mock;
    mock.start();
    const std::string dir = DITTO_SOURCE_DIR "/configs/";
    child_process gw;
    gw.start(DITTO_GATEWAY_BIN,
             {dir + "demo.json", "--dotenv", dir + "demo.env", "--listen", "127.0.0.1:0"},
             {{"DITTO_MOCK_URL", "http://127.0.0.1:" + std::to_string(mock.port) + "/v1"}});
    auto port = gw.wait_for_port();
    ASSERT_TRUE(port) << gw.stderr_text();
    auto r = http_request(
        *port, "POST", "/v1/chat/completions",
        R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})",
        {{"Authorization", "Bearer vk-demo-123"}, {"Content-Type", "application/json"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->header("x-ditto-backend"), "mock");
}

// The README's minimal gateway.json (configs/minimal.json, also shown in the README): a key
// given by id and token alone, the backend secret from the environment. Run here against the
// mock in place of api.openai.com.
TEST(GatewayCli, ReadmeMinimalConfigWorks) {
    const std::string src = DITTO_SOURCE_DIR;
    std::ifstream file(src + "/configs/minimal.json"), readme(src + "/README.md");
    const std::string config{std::istreambuf_iterator<char>(file), {}};
    const std::string doc{std::istreambuf_iterator<char>(readme), {}};
    ASSERT_FALSE(config.empty());
    EXPECT_NE(doc.find("```json\n" + config + "```"), std::string::npos)
        << "README.md no longer shows configs/minimal.json as it is";

    running_mock mock;
    mock.start();
    std::string local = config;
    const std::string real = "https://api.openai.com/v1";
    ASSERT_NE(local.find(real), std::string::npos);
    local.replace(local.find(real), real.size(),
                  "http://127.0.0.1:" + std::to_string(mock.port) + "/v1");
    running_gateway gw;
    gw.start(local, {}, {{"OPENAI_API_KEY", "sk-upstream-secret"}, {"DITTO_KEY", "vk-mine"}});
    auto r =
        http_request(gw.port, "POST", "/v1/chat/completions",
                     R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})",
                     {{"Authorization", "Bearer vk-mine"}, {"Content-Type", "application/json"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    const auto seen = http_request(mock.port, "GET", "/__mock/requests");
    ASSERT_TRUE(seen);
    EXPECT_NE(seen->body.find("Bearer sk-upstream-secret"), std::string::npos) << seen->body;
    EXPECT_EQ(
        http_request(gw.port, "GET", "/v1/models", "", {{"Authorization", "Bearer nope"}})->status,
        401);
}

TEST(GatewayCli, MissingOrInvalidConfigRefusesToStart) {
    auto r = run_to_exit(DITTO_GATEWAY_BIN, {"/nonexistent/gw.json", "--listen", "127.0.0.1:0"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot read config file"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("listening"), std::string::npos);

    temp_dir dir;
    auto bad = dir.write("gw.json", R"({"virtual_keys": []})");
    auto b = run_to_exit(DITTO_GATEWAY_BIN, {bad, "--listen", "127.0.0.1:0"});
    EXPECT_EQ(b.exit_code, 1);
    EXPECT_NE(b.err.find("router"), std::string::npos) << b.err;
}

TEST(GatewayCli, BusyPortIsAnError) {
    // SO_REUSEPORT is only shared between sockets of the same user *and* both setting it;
    // a plain listener holds the port exclusively.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    const auto port = std::to_string(ntohs(addr.sin_port));
    temp_dir dir;
    auto path = dir.write("gw.json", basic_config(9000));
    auto r = run_to_exit(DITTO_GATEWAY_BIN, {path, "--listen", "127.0.0.1:" + port});
    ::close(fd);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot listen on 127.0.0.1:" + port), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ditto::test
