// docs/admin-api.md and the Admin API acceptance scenarios (docs/testing.md) through the real
// gateway: mounting, tokens and their permissions, tenant isolation, keys, config versions (export,
// diff, validate, router, rollback), the state file, the hash-chained audit export, ledgers, reap
// and cache purge.
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "ditto/core/hash.hpp"
#include "support/keyed_gateway.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

const std::string first_version = "cfgv-00000000000000000001";

class Admin : public KeyedGateway {
  protected:
    void start_admin(const std::string& keys, std::vector<std::string> args = {}) {
        args.insert(args.end(), {"--admin-token", "adm-w", "--admin-read-token", "adm-r"});
        start(keys, args);
    }
    std::optional<http_response> admin(const std::string& method, const std::string& target,
                                       const std::string& token, const std::string& body = "") {
        http_headers h;
        if (!token.empty())
            h.emplace_back("Authorization", "Bearer " + token);
        if (!body.empty())
            h.emplace_back("Content-Type", "application/json");
        return http_request(gw.port, method, target, body, h);
    }
    int status(const std::string& method, const std::string& target, const std::string& token,
               const std::string& body = "") {
        auto r = admin(method, target, token, body);
        return r ? r->status : 0;
    }
    static bool contains(const std::optional<http_response>& r, const std::string& s) {
        return r && r->body.find(s) != std::string::npos;
    }
    int chat(const std::string& token) { return post(token)->status; }
};

// ---- mounting and tokens ----

TEST(AdminMounting, WithoutTokensEveryAdminPathIsAnEmpty404) {
    running_mock mock;
    mock.start();
    running_gateway gw;
    gw.start(basic_config(mock.port));
    for (const char* path : {"/admin/keys", "/admin/config/version", "/admin/audit", "/admin"}) {
        auto r = http_request(gw.port, "GET", path, "", {{"Authorization", "Bearer x"}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 404) << path;
        EXPECT_TRUE(r->body.empty()) << path;
    }
}

TEST_F(Admin, MissingOrWrongTokenIs401AndBothHeadersWork) {
    start_admin(key("key-1", "vk-1"));
    auto none = admin("GET", "/admin/keys", "");
    EXPECT_EQ(none->status, 401);
    EXPECT_EQ(none->body, R"({"error":{"code":"unauthorized","message":"invalid admin token"}})");
    EXPECT_EQ(status("GET", "/admin/keys", "adm-wrong"), 401);
    EXPECT_EQ(status("GET", "/admin/keys", "vk-1"), 401);  // a virtual key is not an admin token
    EXPECT_EQ(status("GET", "/admin/keys", "adm-r"), 200);
    auto x = http_request(gw.port, "GET", "/admin/keys", "", {{"x-admin-token", "adm-w"}});
    EXPECT_EQ(x->status, 200);
    EXPECT_EQ(status("GET", "/admin/nothing-here", "adm-w"), 404);
}

TEST_F(Admin, KeyLifecycle) {
    start_admin(key("key-1", "vk-1"));
    EXPECT_EQ(chat("vk-2"), 401);
    auto created = admin("POST", "/admin/keys", "adm-w", key("key-2", "vk-2"));
    ASSERT_EQ(created->status, 201) << created->body;
    EXPECT_TRUE(contains(created, R"("token":"vk-2")"));  // echoed with the token sent
    EXPECT_EQ(chat("vk-2"), 200);

    auto list = admin("GET", "/admin/keys", "adm-r");
    EXPECT_TRUE(contains(list, R"({"id":"key-1","token":"redacted")")) << list->body;
    EXPECT_TRUE(contains(list, R"({"id":"key-2","token":"redacted")")) << list->body;
    EXPECT_LT(list->body.find("key-1"), list->body.find("key-2"));  // sorted by id
    auto secrets = admin("GET", "/admin/keys?include_tokens=true", "adm-w");
    EXPECT_TRUE(contains(secrets, R"("token":"vk-2")")) << secrets->body;
    auto filtered = admin("GET", "/admin/keys?id_prefix=key-2&limit=5", "adm-w");
    EXPECT_FALSE(contains(filtered, "key-1"));

    // PUT: the path's id wins; replacing is 200, and the new token replaces the old one.
    auto replaced = admin("PUT", "/admin/keys/key-2", "adm-w", key("ignored", "vk-2b"));
    ASSERT_EQ(replaced->status, 200) << replaced->body;
    EXPECT_TRUE(contains(replaced, R"("id":"key-2")"));
    EXPECT_EQ(chat("vk-2"), 401);
    EXPECT_EQ(chat("vk-2b"), 200);

    auto gone = admin("DELETE", "/admin/keys/key-2", "adm-w");
    EXPECT_EQ(gone->status, 204);
    EXPECT_EQ(chat("vk-2b"), 401);
    auto again = admin("DELETE", "/admin/keys/key-2", "adm-w");
    EXPECT_EQ(again->status, 404);
    EXPECT_EQ(again->body, R"({"error":{"code":"not_found","message":"virtual key not found"}})");
}

TEST_F(Admin, InvalidKeysAreRefusedAndChangeNothing) {
    start_admin(key("key-1", "vk-1"));
    auto bad_route =
        admin("POST", "/admin/keys", "adm-w", key("key-2", "vk-2", R"("route":"nowhere")"));
    EXPECT_EQ(bad_route->status, 400);
    EXPECT_TRUE(contains(bad_route, "unknown backend: nowhere")) << bad_route->body;
    EXPECT_EQ(status("POST", "/admin/keys", "adm-w", "{not json"), 400);
    // A token in use: 409, whoever asks (issue 19 item 7).
    EXPECT_EQ(status("POST", "/admin/keys", "adm-w", key("key-3", "vk-1")), 409);
    EXPECT_EQ(chat("vk-2"), 401);
    auto v = admin("GET", "/admin/config/version", "adm-r");
    EXPECT_TRUE(contains(v, first_version)) << v->body;
}

TEST_F(Admin, ABodyDeclaredOverTheLimitIs413BeforeAnyByteIsRead) {
    // Found by fuzzing: a declared length over the 8 MiB admin limit used to be reserved at
    // once (100 GB: bad_alloc, a 500) and read past the limit.
    start_admin(key("key-1", "vk-1"));
    http_connection c(gw.port);
    ASSERT_TRUE(
        c.send("POST /admin/keys HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer adm-w\r\n"
               "Content-Type: application/json\r\nContent-Length: 100000000000\r\n\r\n{"));
    auto r = c.read_response(std::chrono::seconds(5));
    ASSERT_TRUE(r) << "no answer to an oversized declared body";
    EXPECT_EQ(r->status, 413) << r->body;
    EXPECT_TRUE(contains(r, "request_too_large")) << r->body;
    EXPECT_TRUE(gw.proc.running());
    EXPECT_EQ(chat("vk-1"), 200);
}

TEST_F(Admin, ReadTokenReadsButNeverWritesOrSeesSecrets) {
    start_admin(key("key-1", "vk-1"));
    auto w = admin("POST", "/admin/keys", "adm-r", key("key-2", "vk-2"));
    EXPECT_EQ(w->status, 401);
    EXPECT_EQ(status("DELETE", "/admin/keys/key-1", "adm-r"), 401);
    EXPECT_EQ(status("PUT", "/admin/config/router", "adm-r", "{}"), 401);
    auto secrets = admin("GET", "/admin/keys?include_tokens=true", "adm-r");
    EXPECT_EQ(secrets->status, 403);
    EXPECT_EQ(secrets->body, R"({"error":{"code":"forbidden","message":"admin token cannot access )"
                             R"(virtual key secrets"}})");
    EXPECT_EQ(status("GET", "/admin/config/export?include_tokens=true", "adm-r"), 403);
    EXPECT_EQ(status("GET", "/admin/config/export", "adm-r"), 200);
}

TEST_F(Admin, TenantTokensAreConfinedToTheirTenant) {
    start(key("a-1", "vk-a1", R"("tenant_id":"acme")") + "," +
              key("b-1", "vk-b1", R"("tenant_id":"beta")"),
          {"--admin-token", "adm-w", "--admin-tenant-token", "acme=t-acme",
           "--admin-tenant-read-token", "acme=t-acme-r"});
    auto mine = admin("GET", "/admin/keys", "t-acme");
    EXPECT_TRUE(contains(mine, "a-1"));
    EXPECT_FALSE(contains(mine, "b-1"));
    auto cross = admin("GET", "/admin/keys?tenant_id=beta", "t-acme");
    EXPECT_EQ(cross->status, 403);
    EXPECT_EQ(cross->body, R"({"error":{"code":"forbidden","message":"cross-tenant admin access )"
                           R"(is not allowed"}})");
    // An upsert without a tenant gets the token's; another tenant's is refused.
    auto created = admin("POST", "/admin/keys", "t-acme", key("a-2", "vk-a2"));
    ASSERT_EQ(created->status, 201) << created->body;
    EXPECT_TRUE(contains(created, R"("tenant_id":"acme")"));
    EXPECT_EQ(status("POST", "/admin/keys", "t-acme", key("x", "vk-x", R"("tenant_id":"beta")")),
              403);
    EXPECT_EQ(status("PUT", "/admin/keys/b-1", "t-acme", key("b-1", "vk-b9")), 403);
    EXPECT_EQ(status("DELETE", "/admin/keys/b-1", "t-acme"), 403);
    EXPECT_EQ(chat("vk-b1"), 200);
    // Tenant tokens see secrets of their own keys only with write rights.
    EXPECT_EQ(status("GET", "/admin/keys?include_tokens=true", "t-acme"), 200);
    EXPECT_EQ(status("GET", "/admin/keys?include_tokens=true", "t-acme-r"), 403);
    EXPECT_EQ(status("POST", "/admin/keys", "t-acme-r", key("a-3", "vk-a3")), 401);
    // Config is for global tokens.
    EXPECT_EQ(status("GET", "/admin/config/version", "t-acme"), 403);
    EXPECT_EQ(status("POST", "/admin/reservations/reap", "t-acme", "{}"), 403);
}

TEST_F(Admin, TenantTokensLearnNothingAboutAnotherTenantsTokensOrIds) {
    // Issue 19 item 7: a duplicate answered "duplicate virtual key token (first at index 1, …)",
    // telling a tenant that a token (or, with " k2 ", an id) belonged to some other key and
    // where it sat. Now the answer is the same whoever holds it, and names no key or place.
    start(key("a-1", "vk-a1", R"("tenant_id":"acme")") + "," +
              key("b-1", "vk-b1", R"("tenant_id":"beta")") + "," +
              key("k2", "vk-b2", R"("tenant_id":"beta")"),
          {"--admin-token", "adm-w", "--admin-tenant-token", "acme=t-acme", "--admin-tenant-token",
           "beta=t-beta"});
    const std::string in_use =
        R"({"error":{"code":"conflict","message":"virtual key token is already in use"}})";
    auto theirs = admin("POST", "/admin/keys", "t-acme", key("a-2", "vk-b1"));
    EXPECT_EQ(theirs->status, 409);
    EXPECT_EQ(theirs->body, in_use);
    // Its own token, the other tenant's in hashed form, and from the other side: the same.
    EXPECT_EQ(admin("POST", "/admin/keys", "t-acme", key("a-3", "vk-a1"))->body, in_use);
    EXPECT_EQ(
        admin("POST", "/admin/keys", "t-acme", key("a-4", "sha256:" + core::sha256_hex("vk-b2")))
            ->body,
        in_use);
    EXPECT_EQ(admin("POST", "/admin/keys", "t-beta", key("b-9", "vk-a1"))->body, in_use);
    EXPECT_EQ(admin("PUT", "/admin/keys/a-1", "t-acme", key("a-1", " vk-b2 "))->body, in_use);
    // Ids are compared trimmed, as validation does: " k2 " is k2, another tenant's key.
    auto spaced = admin("POST", "/admin/keys", "t-acme", key(" k2 ", "vk-a5"));
    EXPECT_EQ(spaced->status, 403);
    EXPECT_EQ(spaced->body, admin("POST", "/admin/keys", "t-acme", key("k2", "vk-a5"))->body);
    // A validation error names the sent key, not its place among every tenant's keys.
    auto bad = admin("POST", "/admin/keys", "t-acme", key("a-6", "vk-a6", R"("route":"nowhere")"));
    EXPECT_EQ(bad->status, 400);
    EXPECT_FALSE(contains(bad, "virtual_keys[")) << bad->body;
    EXPECT_FALSE(contains(bad, "index")) << bad->body;
    // Nothing changed; a key re-sent with its id padded replaces itself.
    EXPECT_EQ(chat("vk-b1"), 200);
    EXPECT_EQ(chat("vk-b2"), 200);
    EXPECT_EQ(status("PUT", "/admin/keys/%20a-1%20", "t-acme", key("a-1", "vk-a1")), 200);
    auto listed = admin("GET", "/admin/keys", "adm-w");
    EXPECT_EQ(listed->body.find(R"("id":"a-)"), listed->body.rfind(R"("id":"a-)")) << listed->body;
    EXPECT_EQ(chat("vk-a1"), 200);
}

TEST(AdminMounting, TenantOnlySetups) {
    running_mock mock;
    mock.start();
    running_gateway gw;
    gw.start(basic_config(mock.port), {"--admin-tenant-read-token", "acme=t-r"});
    http_headers h{{"Authorization", "Bearer t-r"}};
    // No global token: config routes are not mounted; no write-capable token: POST is 405.
    EXPECT_EQ(http_request(gw.port, "GET", "/admin/config/version", "", h)->status, 404);
    EXPECT_EQ(http_request(gw.port, "POST", "/admin/keys", "{}", h)->status, 405);
    EXPECT_EQ(http_request(gw.port, "GET", "/admin/keys", "", h)->status, 200);
}

// ---- config versions ----

TEST_F(Admin, VersionsExportDiffAndRollback) {
    start_admin(key("key-1", "vk-1"));
    auto boot = admin("GET", "/admin/config/versions", "adm-r");
    EXPECT_TRUE(contains(boot, R"("reason":"bootstrap","virtual_key_count":1)")) << boot->body;
    ASSERT_EQ(admin("POST", "/admin/keys", "adm-w", key("key-2", "vk-2"))->status, 201);
    const std::string second = "cfgv-00000000000000000002";
    auto cur = admin("GET", "/admin/config/version", "adm-r");
    EXPECT_TRUE(contains(cur, R"("version_id":")" + second + R"(","created_at_ms":)"));
    EXPECT_TRUE(contains(cur, R"("reason":"admin.key.upsert","virtual_key_count":2)"));
    auto list = admin("GET", "/admin/config/versions", "adm-r");
    EXPECT_LT(list->body.find(second), list->body.find(first_version));  // newest first

    auto exp = admin("GET", "/admin/config/export", "adm-r");
    EXPECT_TRUE(contains(exp, R"("token":"redacted")"));
    EXPECT_TRUE(contains(exp, R"("router":{"default_backends":)"));
    auto with = admin("GET", "/admin/config/export?include_tokens=true&version_id=" + first_version,
                      "adm-w");
    EXPECT_TRUE(contains(with, R"("token":"vk-1")"));
    EXPECT_FALSE(contains(with, "key-2"));
    EXPECT_TRUE(contains(admin("GET", "/admin/config/versions/" + second, "adm-r"), "key-2"));
    EXPECT_EQ(status("GET", "/admin/config/versions/cfgv-99", "adm-r"), 404);

    auto diff = admin(
        "GET", "/admin/config/diff?from_version_id=" + first_version + "&to_version_id=" + second,
        "adm-r");
    EXPECT_TRUE(contains(diff, R"("summary":{"from_virtual_key_count":1,"to_virtual_key_count":2,)"
                               R"("added":1,"removed":0,"changed":0,"unchanged":1,)"
                               R"("router_changed":false})"))
        << diff->body;
    EXPECT_EQ(status("GET", "/admin/config/diff?from_version_id=" + first_version, "adm-r"), 400);

    // A dry run changes nothing; a rollback restores the keys (key-2 refused again).
    auto dry = admin("POST", "/admin/config/rollback", "adm-w",
                     R"({"version_id":")" + first_version + R"(","dry_run":true})");
    EXPECT_TRUE(contains(dry, R"("dry_run":true,"noop":true)")) << dry->body;
    EXPECT_EQ(chat("vk-2"), 200);
    auto back = admin("POST", "/admin/config/rollback", "adm-w",
                      R"({"version_id":")" + first_version + R"("})");
    ASSERT_EQ(back->status, 200) << back->body;
    EXPECT_TRUE(contains(back, R"("dry_run":false,"noop":false)"));
    EXPECT_TRUE(contains(back, R"("reason":"admin.config.rollback:)" + first_version));
    EXPECT_EQ(chat("vk-2"), 401);
    // Rolling back to what is already current is a no-op.
    auto same = admin("POST", "/admin/config/rollback", "adm-w",
                      R"({"version_id":")" + first_version + R"("})");
    EXPECT_TRUE(contains(same, R"("noop":true)"));
    EXPECT_EQ(status("POST", "/admin/config/rollback", "adm-w", R"({"version_id":"cfgv-9"})"), 404);
}

TEST_F(Admin, ValidateReportsIssuesWithCodesAndPaths) {
    start_admin(key("key-1", "vk-1"));
    auto ok = admin("POST", "/admin/config/validate", "adm-r",
                    "{\"virtual_keys\":[" + key("a", "t-a") + "]}");
    EXPECT_TRUE(contains(ok, R"({"valid":true,"virtual_key_count":1,)")) << ok->body;
    auto bad = admin("POST", "/admin/config/validate", "adm-r",
                     "{\"virtual_keys\":[" + key("a", "t-a") + "," + key("a", "t-b") + "," +
                         key("c", "t-a", R"("route":"nowhere")") +
                         R"(],"expected_virtual_keys_sha256":"00"})");
    ASSERT_EQ(bad->status, 200);
    EXPECT_TRUE(contains(bad, R"("valid":false)")) << bad->body;
    EXPECT_TRUE(contains(bad, R"("code":"duplicate_id")")) << bad->body;
    EXPECT_TRUE(contains(bad, R"("code":"duplicate_token")")) << bad->body;
    EXPECT_TRUE(contains(bad, R"("code":"invalid_route")")) << bad->body;
    EXPECT_TRUE(contains(bad, R"("path":"/virtual_keys/2/route")")) << bad->body;
    EXPECT_TRUE(contains(bad, R"("code":"hash_mismatch")")) << bad->body;
    auto router = admin("POST", "/admin/config/validate", "adm-r",
                        R"({"router":{"default_backends":[{"backend":"ghost"}]}})");
    EXPECT_TRUE(contains(router, R"("code":"invalid_router")")) << router->body;
    EXPECT_TRUE(contains(router, R"("router_default_backend_count":1)")) << router->body;
}

TEST_F(Admin, RouterUpsertDryRunInvalidApplyAndRollback) {
    start_admin(key("key-1", "vk-1"));
    const std::string next =
        R"({"default_backends":[{"backend":"primary"}],"rules":[{"model_prefix":"gpt-","backend":"primary"}]})";
    auto dry =
        admin("PUT", "/admin/config/router", "adm-w", R"({"dry_run":true,"router":)" + next + "}");
    EXPECT_TRUE(contains(dry, R"({"dry_run":true,"noop":true,"router_changed":true)")) << dry->body;
    auto invalid = admin("PUT", "/admin/config/router", "adm-w",
                         R"({"router":{"default_backends":[{"backend":"ghost"}]}})");
    EXPECT_EQ(invalid->status, 400);
    EXPECT_TRUE(contains(invalid, "ghost")) << invalid->body;
    auto applied = admin("PUT", "/admin/config/router", "adm-w", R"({"router":)" + next + "}");
    ASSERT_EQ(applied->status, 200) << applied->body;
    EXPECT_TRUE(contains(applied, R"({"dry_run":false,"noop":false,"router_changed":true)"));
    EXPECT_TRUE(contains(applied, R"("reason":"admin.config.router.upsert","virtual_key_count":1,)"
                                  R"("virtual_keys_sha256")"));
    auto exp = admin("GET", "/admin/config/export", "adm-r");
    EXPECT_TRUE(contains(exp, R"("model_prefix":"gpt-")")) << exp->body;
    EXPECT_EQ(chat("vk-1"), 200);
    auto unchanged = admin("PUT", "/admin/config/router", "adm-w", R"({"router":)" + next + "}");
    EXPECT_TRUE(contains(unchanged, R"("noop":true,"router_changed":false)")) << unchanged->body;
    ASSERT_EQ(status("POST", "/admin/config/rollback", "adm-w",
                     R"({"version_id":")" + first_version + R"("})"),
              200);
    EXPECT_FALSE(contains(admin("GET", "/admin/config/export", "adm-r"), "gpt-"));
}

// ---- the state file ----

TEST_F(Admin, StateFileKeepsHashedTokensAcrossRestarts) {
    temp_dir dir;
    const auto state = (dir.path() / "state.json").string();
    start_admin(key("key-1", "vk-1"), {"--state", state});
    ASSERT_EQ(admin("POST", "/admin/keys", "adm-w", key("key-2", "vk-2"))->status, 201);
    std::ifstream in(state);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_NE(text.str().find(R"("token":"sha256:)"), std::string::npos) << text.str();
    EXPECT_EQ(text.str().find("vk-2"), std::string::npos) << "a raw token was written";
    struct stat st {};
    ASSERT_EQ(::stat(state.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    // A new process on the same file: the key created through the API still works, and its
    // secret is no longer available (only its hash was kept).
    running_gateway again;
    again.start(R"({"backends":[{"name":"primary","base_url":"http://127.0.0.1:)" +
                    std::to_string(mock.port) + R"(/v1"}],"virtual_keys":[],)" +
                    R"("router":{"default_backends":[{"backend":"primary"}]}})",
                {"--state", state, "--admin-token", "adm-w"});
    auto ok =
        http_request(again.port, "POST", "/v1/chat/completions", chat_body,
                     {{"Authorization", "Bearer vk-2"}, {"Content-Type", "application/json"}});
    EXPECT_EQ(ok->status, 200);
    http_headers w{{"Authorization", "Bearer adm-w"}};
    for (const char* path :
         {"/admin/keys?include_tokens=true", "/admin/config/export?include_tokens=true",
          "/admin/config/versions/cfgv-00000000000000000001?include_tokens=true"}) {
        auto r = http_request(again.port, "GET", path, "", w);
        EXPECT_EQ(r->status, 409) << path;
        EXPECT_NE(r->body.find("secret_unavailable"), std::string::npos) << r->body;
    }
    EXPECT_EQ(http_request(again.port, "GET", "/admin/keys", "", w)->status, 200);
}

TEST(AdminCli, TokenAndStateFlagErrors) {
    EXPECT_EQ(run_to_exit(DITTO_GATEWAY_BIN, {"--admin-tenant-token", "acme"}).exit_code, 2);
    EXPECT_EQ(run_to_exit(DITTO_GATEWAY_BIN, {"--admin-tenant-token", "=tok"}).exit_code, 2);
    auto dup = run_to_exit(DITTO_GATEWAY_BIN,
                           {"--admin-tenant-token", "a=t1", "--admin-tenant-token-env", "a=ENV_X"});
    EXPECT_EQ(dup.exit_code, 2);
    EXPECT_NE(dup.err.find("duplicate tenant a"), std::string::npos) << dup.err;
    EXPECT_EQ(
        run_to_exit(DITTO_GATEWAY_BIN, {"--admin-token", "a", "--admin-token-env", "B"}).exit_code,
        2);
    auto both = run_to_exit(DITTO_GATEWAY_BIN,
                            {"--state", "/tmp/s.json", "--redis", "redis://127.0.0.1:1"});
    EXPECT_EQ(both.exit_code, 2);
    EXPECT_NE(both.err.find("choose exactly one of --state"), std::string::npos) << both.err;
}

TEST_F(Admin, TokensFromTheEnvironmentAndSecretReferences) {
    mock.start();
    const auto cfg = R"({"backends":[{"name":"primary","base_url":"http://127.0.0.1:)" +
                     std::to_string(mock.port) + R"("}],"virtual_keys":[],)" +
                     R"("router":{"default_backends":[{"backend":"primary"}]}})";
    gw.start(cfg, {"--admin-token-env", "ADM_W", "--admin-read-token", "secret://env/ADM_R"},
             {{"ADM_W", "from-env"}, {"ADM_R", "from-secret"}});
    EXPECT_EQ(status("GET", "/admin/keys", "from-env"), 200);
    EXPECT_EQ(status("GET", "/admin/keys", "from-secret"), 200);
    EXPECT_EQ(status("POST", "/admin/keys", "from-secret", key("k", "v")), 401);
    // A missing variable stops start-up, naming the variable and never a value.
    child_process p;
    temp_dir d;
    p.start(DITTO_GATEWAY_BIN, {d.write("g.json", cfg), "--listen", "127.0.0.1:0",
                                "--admin-token-env", "NOT_SET_ANYWHERE"});
    EXPECT_EQ(p.wait_exit(10s), std::optional<int>(1));
    EXPECT_NE(p.stderr_text().find("NOT_SET_ANYWHERE"), std::string::npos) << p.stderr_text();
}

// ---- audit ----

// Recomputes the chain of an NDJSON export: each line's canonical record is the line
// without its prev_hash/hash members; hash = sha256(prev + "\n" + canonical).
bool chain_verifies(const std::string& ndjson, std::size_t& lines) {
    std::istringstream in(ndjson);
    std::string line, prev;
    lines = 0;
    while (std::getline(in, line)) {
        if (line.empty())
            continue;
        ++lines;
        const auto h = line.rfind(R"(,"hash":")");
        if (h == std::string::npos)
            return false;
        const auto hash = line.substr(h + 9, 64);
        auto cut = line.find(R"(,"prev_hash":")");
        if (cut == std::string::npos || cut > h)
            cut = h;
        if (!prev.empty() && line.substr(cut + 14, 64) != prev)
            return false;
        const auto canonical = line.substr(0, cut) + "}";
        if (core::sha256_hex(prev + "\n" + canonical) != hash)
            return false;
        prev = hash;
    }
    return true;
}

TEST_F(Admin, AuditExportHashChainVerifiesAndDetectsTampering) {
    start_admin(key("key-1", "vk-1", R"("tenant_id":"acme")"),
                {"--admin-tenant-read-token", "acme=t-r"});
    ASSERT_EQ(admin("POST", "/admin/keys", "adm-w", key("key-2", "vk-2"))->status, 201);
    EXPECT_EQ(chat("vk-1"), 200);
    EXPECT_EQ(chat("vk-2"), 200);
    ASSERT_EQ(admin("DELETE", "/admin/keys/key-2", "adm-w")->status, 204);

    auto list = admin("GET", "/admin/audit?limit=2", "adm-r");
    EXPECT_EQ(list->status, 200);
    EXPECT_TRUE(contains(
        list,
        R"("kind":"admin.key.delete","payload":{"actor":{"via":"token","role":"write"},"key_id":"key-2")"))
        << list->body;
    auto exp = admin("GET", "/admin/audit/export", "adm-r");
    ASSERT_EQ(exp->status, 200);
    EXPECT_EQ(exp->header("content-type"), "application/x-ndjson");
    std::size_t lines = 0;
    EXPECT_TRUE(chain_verifies(exp->body, lines)) << exp->body;
    EXPECT_EQ(lines, 4u);  // upsert, two proxy records, delete
    // One byte of one record changed: the chain no longer verifies.
    auto tampered = exp->body;
    const auto at = tampered.find(R"("status":200)");
    ASSERT_NE(at, std::string::npos);
    tampered[at + 10] = '1';
    EXPECT_FALSE(chain_verifies(tampered, lines));

    // A tenant reader sees (and gets a chain over) its tenant's records only.
    auto mine = admin("GET", "/admin/audit/export", "t-r");
    EXPECT_TRUE(chain_verifies(mine->body, lines)) << mine->body;
    EXPECT_EQ(lines, 1u);
    EXPECT_TRUE(contains(mine, R"("virtual_key_id":"key-1")"));

    auto csv = admin("GET", "/admin/audit/export?format=csv&limit=1", "adm-r");
    EXPECT_EQ(csv->header("content-type"), "text/csv");
    EXPECT_EQ(csv->body.rfind("id,ts_ms,kind,payload_json,prev_hash,hash\n", 0), 0u) << csv->body;
    EXPECT_EQ(status("GET", "/admin/audit/export?format=xml", "adm-r"), 400);
    EXPECT_EQ(status("GET", "/admin/audit?limit=0", "adm-r"), 400);
}

// ---- ledgers, reap, backends ----

TEST_F(Admin, BudgetAndCostLedgersWithTheirViews) {
    start_admin(key("key-1", "vk-1", R"("tenant_id":"acme","budget":{"total_tokens":1000})") + "," +
                    key("key-2", "vk-2", R"("budget":{"total_tokens":1000})"),
                {"--admin-tenant-read-token", "acme=t-r"});
    EXPECT_EQ(chat("vk-1"), 200);
    EXPECT_EQ(chat("vk-2"), 200);
    auto all = admin("GET", "/admin/budgets", "adm-r");
    EXPECT_TRUE(contains(all, R"({"key_id":"key-1","spent_tokens":28,"reserved_tokens":0,)"))
        << all->body;
    auto tenants = admin("GET", "/admin/budgets/tenants", "adm-r");
    EXPECT_TRUE(contains(tenants, R"({"tenant_id":"acme","spent_tokens":28,"reserved_tokens":0,)"
                                  R"("key_count":1,)"))
        << tenants->body;
    EXPECT_TRUE(contains(tenants, R"({"tenant_id":null,"spent_tokens":28)")) << tenants->body;
    auto mine = admin("GET", "/admin/budgets", "t-r");
    EXPECT_TRUE(contains(mine, "key-1"));
    EXPECT_FALSE(contains(mine, "key-2")) << mine->body;
    EXPECT_EQ(admin("GET", "/admin/costs/users", "adm-r")->status, 200);
    EXPECT_EQ(status("GET", "/admin/budgets/planets", "adm-r"), 404);
    auto reap = admin("POST", "/admin/reservations/reap", "adm-w", R"({"dry_run":true})");
    EXPECT_TRUE(contains(reap, R"({"store":"memory","dry_run":true,"cutoff_ts_ms":)"))
        << reap->body;
    EXPECT_EQ(status("POST", "/admin/reservations/reap", "adm-w", R"({"limit":0})"), 400);
    auto backends = admin("GET", "/admin/backends", "adm-r");
    EXPECT_EQ(backends->status, 400);
    EXPECT_EQ(backends->body, R"({"error":{"code":"not_configured","message":"proxy routing not )"
                              R"(enabled"}})");
}

// ---- cache purge ----

TEST_F(Admin, C4_C7_CachePurge) {
    start_admin(key("key-1", "vk-1"), {"--proxy-cache"});
    const std::string m1 = R"({"model":"m1","messages":[]})";
    const std::string m2 = R"({"model":"m2","messages":[]})";
    auto first = post("vk-1", m1);
    post("vk-1", m2);
    EXPECT_EQ(post("vk-1", m1)->header("x-ditto-cache"), "hit");
    // C7: {path, model} removes only that model's entry.
    auto by_model = admin("POST", "/admin/proxy_cache/purge", "adm-w",
                          R"({"path":"/v1/chat/completions?x=1","model":" m2 "})");
    EXPECT_EQ(by_model->body,
              R"({"cleared_memory":false,"deleted_memory":1,"deleted_redis":null})");
    EXPECT_EQ(post("vk-1", m1)->header("x-ditto-cache"), "hit");
    EXPECT_FALSE(post("vk-1", m2)->has_header("x-ditto-cache"));
    // C4: by cache key; the next call goes upstream.
    const int before = mock.request_count();
    auto by_key = admin("POST", "/admin/proxy_cache/purge", "adm-w",
                        R"({"cache_key":")" + first->header("x-ditto-cache-key") + R"("})");
    EXPECT_EQ(by_key->body, R"({"cleared_memory":false,"deleted_memory":1,"deleted_redis":null})");
    EXPECT_FALSE(post("vk-1", m1)->has_header("x-ditto-cache"));
    EXPECT_EQ(mock.request_count(), before + 1);
    auto all = admin("POST", "/admin/proxy_cache/purge", "adm-w", R"({"all":true})");
    EXPECT_TRUE(contains(all, R"({"cleared_memory":true,"deleted_memory":2,)")) << all->body;
    auto empty = admin("POST", "/admin/proxy_cache/purge", "adm-w", R"({"model":"  "})");
    EXPECT_EQ(empty->status, 400);
    EXPECT_TRUE(contains(empty, "must set all=true or at least one of")) << empty->body;
    EXPECT_EQ(status("POST", "/admin/proxy_cache/purge", "adm-r", R"({"all":true})"), 401);
    auto audit = admin("GET", "/admin/audit", "adm-r");
    EXPECT_TRUE(contains(audit, R"("kind":"admin.proxy_cache.purge")")) << audit->body;
}

TEST_F(Admin, MistypedBodyMembersAreRefusedAndChangeNothing) {
    start_admin(key("key-1", "vk-1"), {"--proxy-cache"});
    post("vk-1");
    const struct {
        std::string method, path, body, message;
    } cases[] = {
        {"PUT", "/admin/config/router", R"({"router":[]})", "router is required (an object)"},
        {"PUT", "/admin/config/router",
         R"({"router":{"default_backends":[{"backend":"primary"}]},"dry_run":"yes"})",
         "dry_run must be a boolean"},
        {"POST", "/admin/config/rollback", R"({"version_id":1})",
         "version_id is required (a string)"},
        {"POST", "/admin/config/rollback",
         R"({"version_id":"cfgv-00000000000000000001","dry_run":1})", "dry_run must be a boolean"},
        {"POST", "/admin/reservations/reap", R"({"dry_run":"false"})", "dry_run must be a boolean"},
        {"POST", "/admin/proxy_cache/purge", R"({"all":"true"})", "all must be a boolean"},
        // A mistyped field next to a valid one would widen the purge if it were ignored.
        {"POST", "/admin/proxy_cache/purge", R"({"path":"/v1/chat/completions","model":5})",
         "model must be a string"},
        {"POST", "/admin/proxy_cache/purge", "[1]", "body must be a JSON object"},
    };
    for (const auto& t : cases) {
        auto r = admin(t.method, t.path, "adm-w", t.body);
        EXPECT_EQ(r->status, 400) << t.path << " " << t.body;
        EXPECT_EQ(r->body,
                  R"({"error":{"code":"invalid_request","message":")" + t.message + R"("}})")
            << t.path << " " << t.body;
    }
    // Nothing changed: one config version, the cached entry still there.
    EXPECT_TRUE(contains(admin("GET", "/admin/config/version", "adm-r"), first_version));
    EXPECT_EQ(post("vk-1")->header("x-ditto-cache"), "hit");
}

TEST_F(Admin, PurgeIsNotMountedWithoutTheCache) {
    start_admin(key("key-1", "vk-1"));
    EXPECT_EQ(status("POST", "/admin/proxy_cache/purge", "adm-w", R"({"all":true})"), 404);
}

}  // namespace
}  // namespace ditto::test

namespace ditto::test {
namespace {

// For the console (docs/console.md): a PUT may leave the token out (or send the "redacted" a
// listing shows) and keep the stored one, hashed or not, with its rotation; /admin/whoami.
TEST_F(Admin, PutWithoutATokenKeepsTheStoredOneAndItsRotation) {
    start_admin(key("key-1", "vk-1"));
    auto edited =
        admin("PUT", "/admin/keys/key-1", "adm-w",
              R"({"enabled":true,"limits":{"rpm":7},"budget":{},"cache":{"enabled":false},)"
              R"("guardrails":{},"passthrough":{"allow":false,"bypass_cache":false}})");
    ASSERT_EQ(edited->status, 200) << edited->body;
    EXPECT_TRUE(contains(edited, R"("token":"redacted")")) << edited->body;
    EXPECT_TRUE(contains(edited, R"("rpm":7)"));
    EXPECT_EQ(chat("vk-1"), 200);
    // After a rotation the stored token is a hash: "redacted" keeps it, and the old token's grace.
    auto rotated = admin("POST", "/admin/keys/key-1/rotate", "adm-w", R"({"grace_seconds":3600})");
    ASSERT_EQ(rotated->status, 200) << rotated->body;
    const auto at = rotated->body.find(R"("token":")") + 9;
    const auto fresh = rotated->body.substr(at, rotated->body.find('"', at) - at);
    auto redacted = admin("PUT", "/admin/keys/key-1", "adm-w",
                          key("key-1", "redacted", R"("limits":{"rpm":9})"));
    ASSERT_EQ(redacted->status, 200) << redacted->body;
    EXPECT_EQ(chat(fresh), 200);
    EXPECT_EQ(chat("vk-1"), 200);  // still in its grace
    auto list = admin("GET", "/admin/keys", "adm-r");
    EXPECT_TRUE(contains(list, R"("rpm":9)")) << list->body;
    EXPECT_TRUE(contains(list, "previous_token_expires_at")) << list->body;
    // A new key needs a token of its own.
    auto created = admin("PUT", "/admin/keys/key-2", "adm-w", R"({"enabled":true})");
    EXPECT_EQ(created->status, 400);
    EXPECT_TRUE(contains(created, "token is required for a new key")) << created->body;
}

TEST_F(Admin, WhoamiSaysWhatTheTokenMayDo) {
    start(key("key-1", "vk-1"),
          {"--admin-token", "adm-w", "--admin-read-token", "adm-r", "--admin-tenant-token",
           "acme=t-acme", "--admin-tenant-read-token", "acme=t-acme-r"});
    EXPECT_EQ(
        admin("GET", "/admin/whoami", "adm-w")->body,
        R"({"role":"write","can_write":true,"tenant_id":null,"via":"token","subject":null,"email":null})");
    EXPECT_EQ(
        admin("GET", "/admin/whoami", "adm-r")->body,
        R"({"role":"read","can_write":false,"tenant_id":null,"via":"token","subject":null,"email":null})");
    EXPECT_EQ(
        admin("GET", "/admin/whoami", "t-acme")->body,
        R"({"role":"tenant_write","can_write":true,"tenant_id":"acme","via":"token","subject":null,"email":null})");
    EXPECT_EQ(
        admin("GET", "/admin/whoami", "t-acme-r")->body,
        R"({"role":"tenant_read","can_write":false,"tenant_id":"acme","via":"token","subject":null,"email":null})");
    EXPECT_EQ(status("GET", "/admin/whoami", "nope"), 401);
    EXPECT_EQ(status("POST", "/admin/whoami", "adm-w", "{}"), 405);
}

TEST_F(Admin, AuditListFiltersByKindPrefixAndPagesByTime) {
    start_admin(key("key-1", "vk-1"));
    ASSERT_EQ(status("POST", "/admin/keys", "adm-w", key("key-2", "vk-2")), 201);
    ASSERT_EQ(status("DELETE", "/admin/keys/key-2", "adm-w"), 204);
    ASSERT_EQ(chat("vk-1"), 200);  // a proxy record
    auto keys = admin("GET", "/admin/audit?kind=admin.key.", "adm-r");
    ASSERT_EQ(keys->status, 200) << keys->body;
    EXPECT_TRUE(contains(keys, "admin.key.upsert"));
    EXPECT_TRUE(contains(keys, "admin.key.delete"));
    EXPECT_FALSE(contains(keys, "proxy")) << keys->body;
    // The newest record's time as the bound: only older ones come back.
    auto all = admin("GET", "/admin/audit?limit=1", "adm-r");
    const auto ts_at = all->body.find(R"("ts_ms":)") + 8;
    const auto newest = std::stoll(all->body.substr(ts_at));
    auto older = admin("GET", "/admin/audit?before_ts_ms=" + std::to_string(newest), "adm-r");
    ASSERT_EQ(older->status, 200);
    EXPECT_EQ(older->body.find(R"("ts_ms":)" + std::to_string(newest)), std::string::npos)
        << older->body;
    EXPECT_EQ(status("GET", "/admin/audit?before_ts_ms=soon", "adm-r"), 400);
}

}  // namespace
}  // namespace ditto::test
