// Issue 25's key fields (docs/governance.md): a budget's period and time zone, `expires_at` and
// a rotation's previous token; parsed, refused with the field's path, and written back only
// when set so that older keys keep their canonical JSON.

#include <gtest/gtest.h>

#include "ditto/config/load.hpp"
#include "ditto/config/serialize.hpp"

namespace ditto::config {
namespace {

std::optional<virtual_key_config> key(const std::string& extra, diagnostics& diag) {
    return parse_virtual_key_json(R"({"id":"k","token":"t")" + extra + "}", diag);
}

std::string first_error(const std::string& extra) {
    diagnostics diag;
    key(extra, diag);
    return diag.errors.empty() ? "" : diag.errors.front();
}

TEST(KeyPeriods, PeriodAndTimeZoneAreRead) {
    diagnostics diag;
    const auto k = key(R"(,"budget":{"total_tokens":5,"period":"month","timezone":"Asia/Tokyo"},)"
                       R"("tenant_id":"t","tenant_budget":{"total_usd_micros":9,"period":"week"})",
                       diag);
    ASSERT_TRUE(k) << (diag.errors.empty() ? "" : diag.errors.front());
    EXPECT_EQ(k->budget.period, budget_period::month);
    EXPECT_EQ(k->budget.timezone, "Asia/Tokyo");
    EXPECT_EQ(k->tenant_budget->period, budget_period::week);
    EXPECT_EQ(k->tenant_budget->timezone, "");
}

TEST(KeyPeriods, BadValuesAreRefusedWithTheirPath) {
    EXPECT_NE(first_error(R"(,"budget":{"period":"year"})").find("budget.period"),
              std::string::npos);
    EXPECT_NE(first_error(R"(,"budget":{"period":"day","timezone":"Mars/Olympus"})")
                  .find("budget.timezone"),
              std::string::npos);
    EXPECT_NE(first_error(R"(,"budget":{"period":"day","timezone":"../../etc/passwd"})"), "");
    EXPECT_NE(first_error(R"(,"budget":{"timezone":"UTC"})").find("applies only to a day"),
              std::string::npos);
    EXPECT_NE(first_error(R"(,"expires_at":"tomorrow")").find("RFC 3339"), std::string::npos);
    EXPECT_NE(first_error(R"(,"expires_at":"2027-02-30T00:00:00Z")").find("expires_at"),
              std::string::npos);
    EXPECT_NE(first_error(R"(,"previous_token":"x")").find("go together"), std::string::npos);
}

TEST(KeyPeriods, WrittenBackOnlyWhenSet) {
    diagnostics diag;
    const auto plain = key(R"(,"budget":{"total_tokens":5})", diag);
    ASSERT_TRUE(plain);
    const auto text = key_to_json(*plain, token_form::raw);
    EXPECT_EQ(text.find("period"), std::string::npos) << text;
    EXPECT_EQ(text.find("expires_at"), std::string::npos) << text;

    const auto k =
        key(R"(,"budget":{"total_tokens":5,"period":"day","timezone":"Europe/Paris"},)"
            R"("expires_at":"2027-01-31T10:00:00.250+01:00",)"
            R"("previous_token":"old","previous_token_expires_at":"2027-01-01T00:00:00Z")",
            diag);
    ASSERT_TRUE(k) << (diag.errors.empty() ? "" : diag.errors.front());
    EXPECT_EQ(k->expires_at_ms, 1'801'386'000'250);
    const auto full = key_to_json(*k, token_form::raw);
    EXPECT_NE(full.find(R"("budget":{"total_tokens":5,"total_usd_micros":null,"period":"day",)"
                        R"("timezone":"Europe/Paris"})"),
              std::string::npos)
        << full;
    EXPECT_NE(full.find(R"("expires_at":"2027-01-31T09:00:00.250Z")"), std::string::npos) << full;
    EXPECT_NE(full.find(R"("previous_token":"old")"), std::string::npos) << full;
    // The redacted form hides the previous token like the token.
    EXPECT_EQ(key_to_json(*k, token_form::redacted).find(R"("old")"), std::string::npos);
    // And it reads back to the same key.
    const auto again = parse_virtual_key_json(full, diag);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *k);
}

TEST(KeyPeriods, ModelLimitsAreReadWrittenAndChecked) {
    diagnostics diag;
    const auto k = key(R"(,"model_limits":{"gpt-4o*":{"rpm":5,"budget":{"total_tokens":9,)"
                       R"("period":"day"}},"o1":{"tpm":100}})",
                       diag);
    ASSERT_TRUE(k) << (diag.errors.empty() ? "" : diag.errors.front());
    ASSERT_EQ(k->model_limits.size(), 2u);
    EXPECT_EQ(k->model_limits.at("gpt-4o*").rpm, 5u);
    EXPECT_EQ(k->model_limits.at("gpt-4o*").budget->period, budget_period::day);
    EXPECT_EQ(k->model_limits.at("o1").tpm, 100u);
    const auto text = key_to_json(*k, token_form::raw);
    EXPECT_NE(text.find(R"("model_limits":{"gpt-4o*":{"rpm":5,"tpm":null,"budget":{)"
                        R"("total_tokens":9,"total_usd_micros":null,"period":"day"}},)"
                        R"("o1":{"rpm":null,"tpm":100}})"),
              std::string::npos)
        << text;
    const auto again = parse_virtual_key_json(text, diag);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *k);
    EXPECT_NE(first_error(R"(,"model_limits":{"gpt*4":{"rpm":1}})").find("model_limits.gpt*4"),
              std::string::npos);
    EXPECT_NE(first_error(R"(,"model_limits":{"":{"rpm":1}})"), "");
    EXPECT_NE(first_error(R"(,"model_limits":{"m":{"rpm":-1}})").find("model_limits.m.rpm"),
              std::string::npos);
    EXPECT_NE(first_error(R"(,"model_limits":[])").find("model_limits"), std::string::npos);
}

// Review of issue 25: what could make one key's ledger another's, or break the stored JSON.
TEST(KeyPeriods, IdsAndPatternsThatWouldCollideAreRefused) {
    // A pattern that would write its own JSON members into the stored config.
    EXPECT_NE(first_error(R"(,"model_limits":{"x\":{}},\"tenant_id\":\"acme":{"rpm":1}})")
                  .find("model pattern"),
              std::string::npos);
    EXPECT_NE(first_error(R"(,"model_limits":{"a b":{"rpm":1}})").find("model pattern"),
              std::string::npos);
    const auto config_errors = [](const std::string& keys) {
        diagnostics diag;
        const auto cfg =
            parse_gateway_json(R"({"virtual_keys":[)" + keys + R"(],"router":{}})", diag);
        validate(cfg, diag);
        return diag.errors;
    };
    const auto has = [](const std::vector<std::string>& errors, const std::string& what) {
        for (const auto& e : errors) {
            if (e.find(what) != std::string::npos)
                return true;
        }
        return false;
    };
    EXPECT_TRUE(has(config_errors(R"({"id":"victim@1893456000-1893542400","token":"a"})"),
                    "virtual_keys[0].id must not end in @<digits>-<digits>"));
    EXPECT_TRUE(has(config_errors(R"({"id":"k","token":"a","user_id":"bob@2024-2025"})"),
                    "virtual_keys[0].user_id must not end in @<digits>-<digits>"));
    EXPECT_TRUE(has(config_errors(R"({"id":"victim#model:gpt-4o*","token":"a"})"),
                    "must not hold \"#model:\""));
    EXPECT_TRUE(config_errors(R"({"id":"alice@example.com","token":"a"})").empty());
    // Keys sharing a tenant count in the same periods.
    EXPECT_TRUE(
        has(config_errors(
                R"({"id":"a","token":"a","tenant_id":"t","tenant_budget":{"period":"month"}},)"
                R"({"id":"b","token":"b","tenant_id":"t","tenant_budget":)"
                R"({"period":"month","timezone":"Europe/Paris"}})"),
            "virtual_keys[1].tenant_budget: another key's budget for tenant:t counts in other "
            "periods"));
    EXPECT_TRUE(
        config_errors(R"({"id":"a","token":"a","tenant_id":"t","tenant_budget":{"period":"day"}},)"
                      R"({"id":"b","token":"b","tenant_id":"t","tenant_budget":{"period":"day"}})")
            .empty());
    // A previous token is no other key's token, previous or current.
    EXPECT_TRUE(has(config_errors(R"({"id":"a","token":"a","previous_token":"p",)"
                                  R"("previous_token_expires_at":"2030-01-01T00:00:00Z"},)"
                                  R"({"id":"b","token":"b","previous_token":"p",)"
                                  R"("previous_token_expires_at":"2030-01-01T00:00:00Z"})"),
                    "virtual_keys[1].previous_token is already a token"));
    EXPECT_TRUE(has(config_errors(R"({"id":"a","token":"a","previous_token":"b",)"
                                  R"("previous_token_expires_at":"2030-01-01T00:00:00Z"},)"
                                  R"({"id":"b","token":"b"})"),
                    "virtual_keys[0].previous_token is already a token"));
}

}  // namespace
}  // namespace ditto::config
