// docs/access.md through the real gateway: operators' JWTs on the Admin API (each role's
// allowed and refused endpoints, a tenant-admin confined to its tenant, the audit's actor),
// clients' JWTs on /v1/* (key templates, limits as for keys), and the issuer's keys (rotation
// picked up, the issuer down: held keys still verify, new kids fail closed within the
// deadline). The issuer is tests/support/oidc_issuer: real loopback HTTP, keys made by OpenSSL.

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "support/gateway_fixture.hpp"
#include "support/keyed_gateway.hpp"
#include "support/oidc_issuer.hpp"
#include "support/wait.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const std::string chat = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";

class Access : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        idp = new oidc_issuer;
        idp->add_key("RS256", "rsa-1");
        idp->add_key("ES256", "ec-1");
        idp->add_key("EdDSA", "ed-1");
        mock = new running_mock;
        mock->start();
        gw = new running_gateway;
        gw->start(config(mock->port, idp->url()), {"--workers", "2", "--admin-token-env", "ADMIN"},
                  {{"ADMIN", "static-admin-token"}});
        // The gateway fetched the keys: a token signed by one of them works.
        ASSERT_TRUE(eventually(
            [] {
                auto r = admin("GET", "/admin/whoami",
                               idp->token("rsa-1", R"("sub":"probe","groups":["ditto-admins"])"));
                return r && r->status == 200;
            },
            10s));
    }
    static void TearDownTestSuite() {
        delete gw;
        delete mock;
        delete idp;
    }

    static std::string config(int mock_port, const std::string& issuer) {
        return R"({
  "backends": [{"name": "primary", "base_url": "http://127.0.0.1:)" +
               std::to_string(mock_port) + R"(/v1"}],
  "virtual_keys": [
    {"id": "acme-key", "token": "vk-acme", "tenant_id": "acme"},
    {"id": "globex-key", "token": "vk-globex", "tenant_id": "globex"}
  ],
  "router": {"default_backends": [{"backend": "primary"}]},
  "access": {
    "operators": {
      "issuer": ")" +
               issuer + R"(", "audience": "ditto-gateway", "client_id": "ditto-console",
      "roles_claim": "groups", "jwks_timeout_ms": 1500, "jwks_min_refetch_seconds": 1,
      "roles": {"ditto-admins": "admin", "acme-admins": "tenant-admin:acme",
                "globex-admins": "tenant-admin:globex", "sre": "viewer", "finance": "auditor"}
    },
    "clients": {
      "issuer": ")" +
               issuer + R"(", "audience": "ditto-clients", "jwks_timeout_ms": 1500,
      "jwks_min_refetch_seconds": 1,
      "templates": [
        {"when": {"claim": "groups", "value": "team-a"},
         "key": {"tenant_id": "team-a", "user_id": "{claim:email}", "limits": {"rpm": 3}}},
        {"when": {"claim": "groups", "value": "interns"}, "key": {"enabled": false}}
      ]
    }
  }
})";
    }

    static std::optional<http_response> admin(const std::string& method, const std::string& path,
                                              const std::string& token,
                                              const std::string& body = "") {
        http_headers h{{"Authorization", "Bearer " + token}};
        if (!body.empty())
            h.emplace_back("Content-Type", "application/json");
        return http_request(gw->port, method, path, body, h);
    }
    static std::optional<http_response> v1(const std::string& token,
                                           const std::string& path = "/v1/chat/completions") {
        return http_request(
            gw->port, "POST", path, chat,
            {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
    }
    static std::string op(const std::string& group, const std::string& sub = "ana",
                          const std::string& kid = "rsa-1") {
        return idp->token(kid, R"("sub":")" + sub + R"(","email":")" + sub +
                                   R"(@example.test","groups":[")" + group + R"("])");
    }

    static inline oidc_issuer* idp = nullptr;
    static inline running_mock* mock = nullptr;
    static inline running_gateway* gw = nullptr;
};

TEST_F(Access, EachRoleIsAllowedAndRefusedWhatTheTableSays) {
    struct row {
        const char* group;
        const char* role;  // whoami's
        int keys_get, keys_post, config_get, audit_get, spend_get, backends_get;
    };
    // 200/201 allowed; 401 a write refused to a read role; 403 outside the role's scope.
    const row rows[] = {
        {"ditto-admins", "write", 200, 200, 200, 200, 200, 400},
        {"sre", "read", 200, 401, 200, 200, 200, 400},
        {"finance", "auditor", 403, 403, 403, 200, 200, 403},
        {"acme-admins", "tenant_write", 200, 200, 403, 200, 200, 403},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.group);
        const auto t = op(r.group, std::string("u-") + r.group);
        auto who = admin("GET", "/admin/whoami", t);
        ASSERT_TRUE(who);
        ASSERT_EQ(who->status, 200) << who->body;
        const auto w = json::parse(who->body);
        EXPECT_EQ(w["role"], r.role);
        EXPECT_EQ(w["via"], "oidc");
        EXPECT_EQ(w["subject"], std::string("u-") + r.group);
        EXPECT_EQ(w["email"], std::string("u-") + r.group + "@example.test");
        EXPECT_EQ(admin("GET", "/admin/keys", t)->status, r.keys_get);
        const std::string key = std::string(R"({"id":"made-by-)") + r.group + R"(","token":"vk-)" +
                                r.group + R"(","tenant_id":"acme"})";
        const auto post = admin("POST", "/admin/keys", t, key);
        EXPECT_EQ(post->status == 201 ? 200 : post->status, r.keys_post) << post->body;
        EXPECT_EQ(admin("GET", "/admin/config/version", t)->status, r.config_get);
        EXPECT_EQ(admin("GET", "/admin/audit?limit=5", t)->status, r.audit_get);
        EXPECT_EQ(admin("GET", "/admin/spend", t)->status, r.spend_get);
        // No routing config: 400 not_configured once the role may ask.
        EXPECT_EQ(admin("GET", "/admin/backends", t)->status, r.backends_get);
    }
    // No mapped role; a role for two tenants.
    auto none = admin("GET", "/admin/whoami", op("interns"));
    EXPECT_EQ(none->status, 403);
    EXPECT_NE(none->body.find("no role"), std::string::npos) << none->body;
    auto two = admin("GET", "/admin/whoami",
                     idp->token("rsa-1", R"("sub":"x","groups":["acme-admins","globex-admins"])"));
    EXPECT_EQ(two->status, 403);
    EXPECT_NE(two->body.find("more than one tenant"), std::string::npos) << two->body;
    // The static token still works (break-glass), and says so.
    auto s = admin("GET", "/admin/whoami", "static-admin-token");
    ASSERT_EQ(s->status, 200);
    EXPECT_EQ(json::parse(s->body)["via"], "token");
}

TEST_F(Access, ATenantAdminSeesAndChangesOnlyItsTenant) {
    const auto t = op("acme-admins", "tara");
    auto keys = admin("GET", "/admin/keys", t);
    ASSERT_EQ(keys->status, 200);
    for (const auto& k : json::parse(keys->body))
        EXPECT_EQ(k.value("tenant_id", ""), "acme") << k.dump();
    auto foreign = admin("PUT", "/admin/keys/globex-key", t,
                         R"({"id":"globex-key","token":"vk-new","tenant_id":"globex"})");
    EXPECT_EQ(foreign->status, 403) << foreign->body;
    EXPECT_EQ(admin("DELETE", "/admin/keys/globex-key", t)->status, 403);
}

TEST_F(Access, EveryChangeIsAuditedWithItsOperator) {
    const auto t = op("ditto-admins", "olga");
    ASSERT_EQ(admin("POST", "/admin/keys", t, R"({"id":"audited","token":"vk-audited"})")->status,
              201);
    ASSERT_EQ(admin("DELETE", "/admin/keys/audited", t)->status, 204);
    auto audit = admin("GET", "/admin/audit?kind=admin.key&limit=10", "static-admin-token");
    ASSERT_EQ(audit->status, 200);
    int found = 0;
    for (const auto& r : json::parse(audit->body)) {
        const auto& p = r["payload"];
        if (!p.contains("actor") || p["actor"].value("sub", "") != "olga")
            continue;
        ++found;
        EXPECT_EQ(p["actor"]["via"], "oidc");
        EXPECT_EQ(p["actor"]["email"], "olga@example.test");
        EXPECT_EQ(p["actor"]["role"], "admin");
    }
    EXPECT_EQ(found, 2) << audit->body;
    // A static token's change says so.
    ASSERT_EQ(
        admin("POST", "/admin/keys", "static-admin-token", R"({"id":"by-token","token":"vk-bt"})")
            ->status,
        201);
    auto last = json::parse(
        admin("GET", "/admin/audit?kind=admin.key.upsert&limit=1", "static-admin-token")->body);
    ASSERT_EQ(last.size(), 1U);
    EXPECT_EQ(last[0]["payload"]["actor"], json::parse(R"({"via":"token","role":"write"})"));
}

TEST_F(Access, BadTokensAreRefusedWithTheirReason) {
    struct bad {
        std::string token;
        const char* reason;
    };
    const bad cases[] = {
        {idp->token("rsa-1", R"("sub":"a","groups":["ditto-admins"])", -300), "expired"},
        {idp->token("rsa-1", R"("sub":"a","groups":["ditto-admins"])", 300, "other-api"),
         "audience"},
        {[] {
             signing_key stranger("RS256", "never-published");
             return stranger.token(
                 R"({"iss":")" + idp->url() +
                 R"(","aud":"ditto-gateway","exp":9999999999,"groups":["ditto-admins"]})");
         }(),
         "does not publish"},
    };
    for (const auto& c : cases) {
        auto r = admin("GET", "/admin/whoami", c.token);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 401) << c.reason;
        EXPECT_NE(r->body.find(c.reason), std::string::npos) << r->body;
    }
    // A client JWT is no operator token (another audience), and an operator's no client's.
    EXPECT_EQ(
        admin("GET", "/admin/whoami",
              idp->token("ec-1", R"("sub":"c","groups":["ditto-admins"])", 300, "ditto-clients"))
            ->status,
        401);
    EXPECT_EQ(v1(op("ditto-admins"))->status, 401);
}

TEST_F(Access, SsoEndpointNamesTheIssuersEndpoints) {
    auto r = http_request(gw->port, "GET", "/admin/sso");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const auto j = json::parse(r->body);
    EXPECT_EQ(j["issuer"], idp->url());
    EXPECT_EQ(j["client_id"], "ditto-console");
    EXPECT_EQ(j["token_endpoint"], idp->url() + "/token");
    auto ui = http_request(gw->port, "GET", "/ui/");
    ASSERT_TRUE(ui);
    EXPECT_NE(ui->header("content-security-policy").find("connect-src 'self' " + idp->url() + ";"),
              std::string::npos)
        << ui->header("content-security-policy");
}

TEST_F(Access, ClientJwtsGetTheirTemplatesKeyAndLimits) {
    const auto ana = idp->token("ed-1", R"("sub":"ana","email":"ana@a.test","groups":["team-a"])",
                                300, "ditto-clients");
    const auto bob = idp->token("ec-1", R"("sub":"bob","email":"bob@a.test","groups":["team-a"])",
                                300, "ditto-clients");
    // rpm 3 per identity: ana's fourth request in the minute is refused, bob is his own key.
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(v1(ana)->status, 200) << i;
    auto fourth = v1(ana);
    EXPECT_EQ(fourth->status, 429) << fourth->body;
    EXPECT_EQ(v1(bob)->status, 200);
    // The audit names the identity's key and its scopes.
    auto audit =
        json::parse(admin("GET", "/admin/audit?kind=proxy&limit=20", "static-admin-token")->body);
    bool seen = false;
    for (const auto& r : audit) {
        if (r["payload"].value("virtual_key_id", "") == "jwt:bob") {
            seen = true;
            EXPECT_EQ(r["payload"].value("tenant_id", ""), "team-a") << r.dump();
        }
    }
    EXPECT_TRUE(seen) << audit.dump();
    // No template, a disabled template, a token without the claim a template needs.
    auto nobody =
        v1(idp->token("rsa-1", R"("sub":"eve","groups":["other"])", 300, "ditto-clients"));
    EXPECT_EQ(nobody->status, 403);
    EXPECT_NE(nobody->body.find("permission_denied"), std::string::npos) << nobody->body;
    EXPECT_EQ(v1(idp->token("rsa-1", R"("sub":"ian","groups":["interns"])", 300, "ditto-clients"))
                  ->status,
              401);
    auto no_email =
        v1(idp->token("rsa-1", R"("sub":"nomail","groups":["team-a"])", 300, "ditto-clients"));
    EXPECT_EQ(no_email->status, 403);
    EXPECT_NE(no_email->body.find("email"), std::string::npos) << no_email->body;
    // Claim values that would name another identity's counters are refused.
    auto scoped =
        v1(idp->token("rsa-1", R"("sub":"bob#model:gpt-4o","email":"e@a.test","groups":["team-a"])",
                      300, "ditto-clients"));
    EXPECT_EQ(scoped->status, 401) << scoped->body;
    auto period = v1(
        idp->token("rsa-1", R"("sub":"p1","email":"bob@1764547200-1767225600","groups":["team-a"])",
                   300, "ditto-clients"));
    EXPECT_EQ(period->status, 403) << period->body;
    // Anthropic's dialect gets its own error shape.
    auto msg = http_request(
        gw->port, "POST", "/v1/messages",
        R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})",
        {{"x-api-key",
          idp->token("rsa-1", R"("sub":"eve","groups":["other"])", 300, "ditto-clients")},
         {"Content-Type", "application/json"}});
    EXPECT_EQ(msg->status, 403);
    EXPECT_EQ(json::parse(msg->body)["error"]["type"], "permission_error") << msg->body;
}

// Last in the suite: it takes the issuer down.
TEST_F(Access, RotationIsPickedUpAndAnIssuerDownFailsNewKidsClosed) {
    // A key published after start: its first token makes the gateway refetch, and it passes.
    idp->add_key("ES256", "ec-rotated");
    auto rotated = admin("GET", "/admin/whoami", op("sre", "rita", "ec-rotated"));
    ASSERT_TRUE(rotated);
    EXPECT_EQ(rotated->status, 200) << rotated->body;
    // The issuer goes down: tokens by held keys still verify, new ones too (fresh tokens, not
    // remembered ones); a kid never fetched fails closed, within the 1.5 s deadline.
    idp->set_down(true);
    EXPECT_EQ(admin("GET", "/admin/whoami", op("sre", "held-" + std::to_string(unix_now()), "ed-1"))
                  ->status,
              200);
    idp->add_key("RS256", "rsa-unseen");
    const auto started = std::chrono::steady_clock::now();
    auto unseen = admin("GET", "/admin/whoami", op("ditto-admins", "mallory", "rsa-unseen"));
    const auto took = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(unseen);
    EXPECT_EQ(unseen->status, 401) << unseen->body;
    EXPECT_LT(took, 3s) << "a request waited on the JWKS past its deadline";
    auto client = v1(idp->token("rsa-unseen", R"("sub":"x","groups":["team-a"],"email":"x@a.test")",
                                300, "ditto-clients"));
    EXPECT_EQ(client->status, 401) << client->body;
    // Back up: the unseen key is fetched on its next use.
    idp->set_down(false);
    EXPECT_TRUE(eventually(
        [] {
            auto r = admin("GET", "/admin/whoami", op("ditto-admins", "mallory", "rsa-unseen"));
            return r && r->status == 200;
        },
        10s, 200ms));
}

// The issuer's documents as configured: a JWKS URL with a query (Azure AD B2C names its policy
// there) is fetched with it; a discovery document naming another issuer is not trusted, and
// clients then get 503 in their dialect, after the deadline, not a pass.
TEST(AccessIssuer, AJwksQueryIsKeptAndAForeignDiscoveryIsRefused) {
    oidc_issuer idp;
    idp.add_key("ES256", "k");
    running_mock up;
    up.start();
    const std::string backends = R"("backends":[{"name":"p","base_url":"http://127.0.0.1:)" +
                                 std::to_string(up.port) +
                                 R"(/v1"}],"virtual_keys":[],)"
                                 R"("router":{"default_backends":[{"backend":"p"}]},)";
    running_gateway with_query;
    with_query.start("{" + backends + R"("access":{"clients":{"issuer":")" + idp.url() +
                         R"(","audience":"a","jwks_uri":")" + idp.url() +
                         R"(/jwks?p=B2C_1_signin","templates":[{"key":{}}]}}})",
                     {"--workers", "1"});
    const auto token = idp.token("k", R"("sub":"ana")", 300, "a");
    const http_headers h{{"Authorization", "Bearer " + token},
                         {"Content-Type", "application/json"}};
    auto ok = http_request(with_query.port, "POST", "/v1/chat/completions", chat, h);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << ok->body;
    EXPECT_EQ(idp.last_jwks_target(), "/jwks?p=B2C_1_signin");

    // The configured issuer has a trailing slash; the document says it without: not ours.
    running_gateway foreign;
    foreign.start("{" + backends + R"("access":{"clients":{"issuer":")" + idp.url() +
                      R"(/","audience":"a","jwks_timeout_ms":300,"templates":[{"key":{}}]}}})",
                  {"--workers", "1"});
    const auto other = idp.token_for(idp.url() + "/", "k", R"("sub":"ana")", 300, "a");
    auto refused =
        http_request(foreign.port, "POST", "/v1/chat/completions", chat,
                     {{"Authorization", "Bearer " + other}, {"Content-Type", "application/json"}});
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503) << refused->body;
    EXPECT_NE(refused->body.find("identity_provider_unavailable"), std::string::npos)
        << refused->body;
}

}  // namespace
}  // namespace ditto::test
