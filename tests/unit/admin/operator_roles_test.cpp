// docs/access.md, "Roles": an operator's claim values to one principal, and which claim values
// may name a key (docs/access.md, "Clients").
#include <gtest/gtest.h>

#include "ditto/admin/admin_tokens.hpp"
#include "ditto/config/access_settings.hpp"

namespace ditto::admin {
namespace {

using strings = std::vector<std::string>;

std::optional<principal> map(const strings& values, const std::map<std::string, std::string>& m,
                             std::string* why = nullptr) {
    std::string refusal;
    auto p = operator_principal(values, m, "sub-1", std::string("a@example.test"), refusal);
    if (why)
        *why = refusal;
    return p;
}

TEST(OperatorRoles, TheFirstRoleInOrderApplies) {
    const std::map<std::string, std::string> m{
        {"admins", "admin"}, {"acme", "tenant-admin:acme"},
        {"sre", "viewer"},   {"acme-ro", "tenant-viewer:acme"},
        {"fin", "auditor"},  {"globex", "tenant-admin:globex"}};
    EXPECT_EQ(map({"fin", "sre", "admins"}, m)->kind, role::write);
    EXPECT_EQ(map({"fin", "acme"}, m)->kind, role::tenant_write);
    EXPECT_EQ(map({"acme"}, m)->tenant, "acme");
    EXPECT_EQ(map({"fin", "sre", "acme-ro"}, m)->kind, role::read);
    EXPECT_EQ(map({"fin", "acme-ro"}, m)->kind, role::tenant_read);
    EXPECT_EQ(map({"fin"}, m)->kind, role::auditor);
    std::string why;
    EXPECT_FALSE(map({"acme", "globex"}, m, &why));
    EXPECT_NE(why.find("more than one tenant"), std::string::npos);
    EXPECT_EQ(map({"acme", "globex", "admins"}, m)->kind, role::write);
    EXPECT_FALSE(map({"nobody"}, m, &why));
    EXPECT_EQ(why, "no role for this identity");
    const auto p = map({"admins"}, m);
    EXPECT_EQ(p->actor_json(),
              R"({"via":"oidc","sub":"sub-1","email":"a@example.test","role":"admin"})");
}

TEST(OperatorRoles, WithoutAMapOnlyPrefixedValuesCount) {
    // A group a user may create and name "admin" makes nobody an operator.
    EXPECT_FALSE(map({"admin", "tenant-admin:acme", "viewer"}, {}));
    EXPECT_EQ(map({"admin", "ditto:viewer"}, {})->kind, role::read);
    const auto t = map({"ditto:tenant-admin:acme"}, {});
    ASSERT_TRUE(t);
    EXPECT_EQ(t->kind, role::tenant_write);
    EXPECT_EQ(t->tenant, "acme");
    EXPECT_FALSE(map({"ditto:tenant-admin:"}, {}));
    EXPECT_FALSE(map({"ditto:root"}, {}));
}

TEST(ClaimIds, OnlyValuesThatCannotNameAnotherScope) {
    for (const char* ok : {"ana", "ana@example.test", "3f1c2a9e-7b1d", "team a", "ana@1-x"})
        EXPECT_TRUE(config::is_safe_claim_id(ok)) << ok;
    for (const char* bad :
         {"", "bob#model:gpt-4o", "acme:project:search", "bob@1764547200-1767225600", "tab\there"})
        EXPECT_FALSE(config::is_safe_claim_id(bad)) << bad;
    EXPECT_FALSE(config::is_safe_claim_id(std::string(257, 'a')));
    EXPECT_TRUE(config::is_loopback_host("127.0.0.1"));
    EXPECT_TRUE(config::is_loopback_host("127.1.2.3"));
    EXPECT_TRUE(config::is_loopback_host("localhost"));
    EXPECT_FALSE(config::is_loopback_host("127.0.0.1.nip.io"));
    EXPECT_FALSE(config::is_loopback_host("127.evil.example"));
    EXPECT_FALSE(config::is_loopback_host("10.0.0.1"));
}

}  // namespace
}  // namespace ditto::admin
