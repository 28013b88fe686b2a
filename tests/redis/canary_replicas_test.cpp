// docs/routing.md, "Canary", across two replicas sharing one real redis-server: a canary started
// on one replica is adopted by the other through the store's change feed, and a request id picks
// the same version on both (the share is a hash of the id, the version a hash of the router).
#include <nlohmann/json.hpp>

#include "support/replicas.hpp"
#include "support/wait.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

TEST_F(Replicas, ACanaryStartedOnOneReplicaRoutesOnEvery) {
    start(2, virtual_key_json("key-1", "vk-1"),
          {"--admin-token", "adm", "--prometheus-metrics", "--proxy-replay-ttl", "0"});
    auto put = http_request(
        gws[0]->port, "PUT", "/admin/config/canary",
        R"({"percent":50,"router":{"default_backends":[{"backend":"primary","weight":3}]}})",
        {{"Authorization", "Bearer adm"}, {"Content-Type", "application/json"}});
    ASSERT_TRUE(put);
    ASSERT_EQ(put->status, 200) << put->body;
    const std::string canary_v = json::parse(put->body)["canary"]["canary_version"];
    ASSERT_TRUE(eventually(
        [&] {
            auto r = http_request(gws[1]->port, "GET", "/admin/config/canary", "",
                                  {{"Authorization", "Bearer adm"}});
            return r && r->status == 200 && r->body.find(canary_v) != std::string::npos;
        },
        10s));
    // The same 40 ids through each replica: each id's two records name one version.
    for (int gw = 0; gw < 2; ++gw) {
        for (int i = 0; i < 40; ++i) {
            auto r = post(gw, "vk-1", exact_chat, {{"x-request-id", "same-" + std::to_string(i)}});
            ASSERT_TRUE(r);
            ASSERT_EQ(r->status, 200) << r->body;
        }
    }
    std::map<std::string, std::set<std::string>> versions;
    ASSERT_TRUE(eventually(
        [&] {
            versions.clear();
            auto a = http_request(gws[1]->port, "GET", "/admin/audit?kind=proxy&limit=200", "",
                                  {{"Authorization", "Bearer adm"}});
            std::size_t records = 0;
            for (const auto& r : json::parse(a->body)) {
                const auto& p = r["payload"];
                if (p.value("request_id", "").starts_with("same-")) {
                    versions[p["request_id"]].insert(p.value("router_version", ""));
                    ++records;
                }
            }
            return records == 80;
        },
        10s));
    int canary = 0;
    for (const auto& [id, v] : versions) {
        EXPECT_EQ(v.size(), 1U) << id;
        canary += v.count(canary_v) ? 1 : 0;
    }
    EXPECT_GT(canary, 5);
    EXPECT_LT(canary, 35);
}

}  // namespace
}  // namespace ditto::test
