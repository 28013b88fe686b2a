#include "audit_record.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "ditto/observe/redactor.hpp"

namespace ditto::proxy {
namespace {

audit_request sample_request() {
    audit_request r;
    r.request_id = "req-1";
    r.key_id = "team-a";
    r.tenant_id = "t1";
    r.method = "POST";
    r.path = "/v1/chat/completions";
    r.model = "gpt-4o-mini";
    r.service_tier = "auto";
    r.charge_tokens = 300;
    r.body_len = 1024;
    return r;
}

middleware::outcome answered() {
    middleware::outcome o;
    o.status = 200;
    o.from_upstream = true;
    o.backend = "primary";
    o.attempted = {"primary"};
    o.upstream_model = "gpt-4o-mini-2024";
    o.usage.input = 12;
    o.usage.output = 3;
    o.spent_tokens = 15;
    o.charge_cost_usd_micros = 7;
    return o;
}

// Every member a record can have is in audit_record_names(), the list the redactor judges
// once: a member added without it would escape the secret-name rules.
TEST(AuditRecord, EveryMemberNameIsJudgedAndThePayloadIsJson) {
    const auto names = audit_record_names();
    auto streamed = answered();
    streamed.streamed = true;
    streamed.completed = false;
    middleware::outcome failed;
    failed.status = 502;
    failed.attempted = {"a", "b\"q"};
    failed.error_type = "upstream_error";
    failed.error_code = "bad_gateway";
    failed.error_message = "line\nbreak";
    for (const auto& o : {answered(), streamed, failed}) {
        std::string payload, values;
        const auto kind = write_audit_record(sample_request(), o, payload, values);
        EXPECT_EQ(kind, o.from_upstream ? "proxy" : "proxy.error");
        const auto doc = nlohmann::ordered_json::parse(payload);
        ASSERT_TRUE(doc.is_object()) << payload;
        for (const auto& [name, value] : doc.items()) {
            EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
            if (value.is_string()) {  // every string value is also in `values`
                EXPECT_NE(values.find(value.get<std::string>() + "\n"), std::string::npos) << name;
            }
        }
    }
    std::string payload, values;
    write_audit_record(sample_request(), failed, payload, values);
    const auto doc = nlohmann::json::parse(payload);
    EXPECT_EQ(doc["attempted_backends"], nlohmann::json::array({"a", "b\"q"}));
    EXPECT_EQ(doc["error_message"], "line\nbreak");
    EXPECT_EQ(doc["status"], 502);
}

// The fast path never keeps what the full path would replace: whenever values_clean() says
// clean, redact_json() returns the payload unchanged.
TEST(AuditRecord, ACleanVerdictAgreesWithTheFullRedaction) {
    const observe::redactor r(config::redaction_config{});
    ASSERT_TRUE(r.names_clean(audit_record_names()));
    int clean = 0;
    for (std::string model : {"gpt-4o", "sk-ABCDEFGHIJKLMNOP", "Bearer abc", "m?key=1"}) {
        for (std::string path : {"/v1/chat/completions", "/v1/x?api_key=s3cret"}) {
            auto req = sample_request();
            req.model = model;
            req.path = path;
            std::string payload, values;
            write_audit_record(req, answered(), payload, values);
            if (r.values_clean(values)) {  // false may be a false alarm ("m?key=1")
                ++clean;
                EXPECT_EQ(r.redact_json(payload), payload);
            }
        }
    }
    EXPECT_EQ(clean, 1);  // only gpt-4o on the plain path
}

}  // namespace
}  // namespace ditto::proxy
