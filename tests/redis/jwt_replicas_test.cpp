// docs/access.md, "Clients", across three replicas sharing one real redis-server: an identity's
// key (made from a template, on each replica by itself) is counted in one place, so its budget
// is exact however its requests are spread, and two identities never share a ledger.
#include "support/oidc_issuer.hpp"
#include "support/replicas.hpp"

namespace ditto::test {
namespace {

TEST_F(Replicas, AJwtIdentitysBudgetIsExactAcrossThreeReplicas) {
    oidc_issuer idp;
    idp.add_key("ES256", "k1");
    extra_top = R"("access":{"clients":{"issuer":")" + idp.url() +
                R"(","audience":"ditto-clients","templates":[{"key":{"tenant_id":"jwt-users",)"
                R"("user_id":"{claim:email}","budget":{"total_tokens":270}}}]}})";
    start(3, virtual_key_json("key-1", "vk-1"));
    const auto ana =
        idp.token("k1", R"("sub":"ana","email":"ana@example.test")", 300, "ditto-clients");
    const auto bob =
        idp.token("k1", R"("sub":"bob","email":"bob@example.test")", 300, "ditto-clients");
    // 27 tokens a request (exact_chat): 10 fit in 270, on whichever replica they land.
    int ok = 0, refused = 0;
    for (int i = 0; i < 15; ++i) {
        auto r = post(i % 3, ana);
        ASSERT_TRUE(r);
        if (r->status == 200)
            ++ok;
        else if (r->status == 402)
            ++refused;
        else
            ADD_FAILURE() << r->status << " " << r->body;
    }
    EXPECT_EQ(ok, 10);
    EXPECT_EQ(refused, 5);
    // Bob is his own key: his budget is untouched by Ana's.
    auto b = post(2, bob);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->status, 200) << b->body;
    // The ledger is Redis's, under the identity's key id.
    EXPECT_NE(cli({"--scan", "--pattern", "t:*jwt:ana*"}), "");
}

}  // namespace
}  // namespace ditto::test
