// Hot reload (docs/deployment.md): SIGHUP or POST /admin/config/reload re-reads gateway.json
// and swaps keys and router in without a failed request; an invalid file, or a backend
// change, changes nothing.
#include <atomic>
#include <csignal>
#include <thread>

#include "support/keyed_gateway.hpp"
#include "support/wait.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

class Reload : public ::testing::Test {
  protected:
    std::string config(const std::string& keys, const std::string& base_extra = "") {
        return R"({"backends":[{"name":"primary","base_url":"http://127.0.0.1:)" +
               std::to_string(mock.port) + R"(/v1")" + base_extra + R"(}],"virtual_keys":[)" +
               keys + R"(],"router":{"default_backends":[{"backend":"primary"}]}})";
    }
    void start(const std::string& keys, std::vector<std::string> args = {}) {
        mock.start();
        args.insert(args.end(), {"--admin-token", "adm"});
        gw.start(config(keys), args);
    }
    int chat(const std::string& token) {
        auto r = http_request(
            gw.port, "POST", "/v1/chat/completions", chat_body,
            {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
        return r ? r->status : 0;
    }
    void rewrite(const std::string& text) { gw.dir.write("gateway.json", text); }

    running_mock mock;
    running_gateway gw;
};

TEST_F(Reload, SighupWithAValidChangeTakesEffectWithoutAFailedRequest) {
    start(virtual_key_json("key-1", "vk-1"));
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0}, failed{0};
    std::thread load([&] {
        while (!stop) {
            (chat("vk-1") == 200 ? ok : failed)++;
        }
    });
    std::this_thread::sleep_for(200ms);
    rewrite(config(virtual_key_json("key-1", "vk-1") + "," + virtual_key_json("key-2", "vk-2")));
    gw.proc.signal(SIGHUP);
    EXPECT_TRUE(eventually([&] { return chat("vk-2") == 200; }, 3s));
    std::this_thread::sleep_for(200ms);
    stop = true;
    load.join();
    EXPECT_GT(ok.load(), 10);
    EXPECT_EQ(failed.load(), 0);
    EXPECT_TRUE(gw.proc.wait_for_stderr("config.reloaded", 2s));
    auto v = http_request(gw.port, "GET", "/admin/config/version", "",
                          {{"Authorization", "Bearer adm"}});
    EXPECT_NE(v->body.find(R"("reason":"config.reload")"), std::string::npos) << v->body;
}

TEST_F(Reload, AnInvalidFileChangesNothing) {
    start(virtual_key_json("key-1", "vk-1"));
    rewrite(R"({"backends":[ this is not json)");
    gw.proc.signal(SIGHUP);
    ASSERT_TRUE(gw.proc.wait_for_stderr("config.reload_invalid", 3s));
    EXPECT_EQ(chat("vk-1"), 200);
    // Valid JSON, invalid config (a route to an unknown backend): the same.
    rewrite(config(virtual_key_json("key-1", "vk-1", R"("route":"ghost")")));
    auto r = http_request(gw.port, "POST", "/admin/config/reload", "",
                          {{"Authorization", "Bearer adm"}});
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("unknown backend: ghost"), std::string::npos) << r->body;
    EXPECT_EQ(chat("vk-1"), 200);
}

TEST_F(Reload, BackendChangesNeedARestart) {
    start(virtual_key_json("key-1", "vk-1"));
    rewrite(config(virtual_key_json("key-2", "vk-2"), R"(,"timeout_seconds":5)"));
    auto r = http_request(gw.port, "POST", "/admin/config/reload", "",
                          {{"Authorization", "Bearer adm"}});
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("backends changed"), std::string::npos) << r->body;
    EXPECT_EQ(chat("vk-1"), 200);
    EXPECT_EQ(chat("vk-2"), 401);
}

TEST_F(Reload, TheAdminEndpointAppliesAndReportsTheVersion) {
    start(virtual_key_json("key-1", "vk-1"));
    rewrite(config(virtual_key_json("key-2", "vk-2")));
    auto r = http_request(gw.port, "POST", "/admin/config/reload", "",
                          {{"Authorization", "Bearer adm"}});
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"applied":true,"noop":false,"version_id":"cfgv-00000000000000000002"})");
    EXPECT_EQ(chat("vk-2"), 200);
    EXPECT_EQ(chat("vk-1"), 401);
    auto again = http_request(gw.port, "POST", "/admin/config/reload", "",
                              {{"Authorization", "Bearer adm"}});
    EXPECT_EQ(again->body,
              R"({"applied":false,"noop":true,"version_id":"cfgv-00000000000000000002"})");
}

TEST_F(Reload, WithAStateFileTheAdminApiOwnsTheKeys) {
    temp_dir dir;
    start(virtual_key_json("key-1", "vk-1"), {"--state", (dir.path() / "s.json").string()});
    rewrite(config(virtual_key_json("key-2", "vk-2")));
    auto r = http_request(gw.port, "POST", "/admin/config/reload", "",
                          {{"Authorization", "Bearer adm"}});
    EXPECT_EQ(r->body, R"({"applied":false,"noop":true})");
    EXPECT_EQ(chat("vk-1"), 200);
    EXPECT_EQ(chat("vk-2"), 401);
}

}  // namespace
}  // namespace ditto::test
