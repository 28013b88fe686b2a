// The gateway's own errors (docs/proxy.md, "Errors"): every row of http::gateway_errors pinned as
// the client sees it, in OpenAI's shape and in the Anthropic and Gemini shapes the dialect steps
// translate it to. A changed status, type or code is a change on the wire: it fails here first.

#include <gtest/gtest.h>

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ditto/dialect/dialect.hpp"
#include "ditto/http/error_body.hpp"
#include "ditto/http/gateway_error.hpp"
#include "ditto/middleware/chain.hpp"

namespace ditto::middleware {
namespace {

using http::gateway_error;
using json = nlohmann::json;

struct expected_row {
    gateway_error error;
    unsigned status;
    std::string_view type;       ///< OpenAI
    std::string_view code;       ///< OpenAI, kept as Anthropic's extra `code`
    std::string_view anthropic;  ///< Anthropic's error type
    std::string_view gemini;     ///< Gemini's `status`
};

// The table of docs/proxy.md, "Errors", in the enum's order.
constexpr expected_row expected[] = {
    {gateway_error::bad_request, 400, "invalid_request_error", "bad_request",
     "invalid_request_error", "INVALID_ARGUMENT"},
    // Never translated (the server refuses before any route); pinned as the mapping gives it.
    {gateway_error::request_header_too_large, 431, "invalid_request_error",
     "request_header_too_large", "invalid_request_error", "UNKNOWN"},
    {gateway_error::internal_error, 500, "api_error", "internal_error", "api_error", "INTERNAL"},
    {gateway_error::invalid_path, 400, "invalid_request_error", "invalid_path",
     "invalid_request_error", "INVALID_ARGUMENT"},
    {gateway_error::unsupported_endpoint, 404, "invalid_request_error", "unsupported_endpoint",
     "not_found_error", "NOT_FOUND"},
    {gateway_error::invalid_api_key, 401, "authentication_error", "invalid_api_key",
     "authentication_error", "UNAUTHENTICATED"},
    {gateway_error::key_expired, 401, "authentication_error", "key_expired", "authentication_error",
     "UNAUTHENTICATED"},
    {gateway_error::permission_denied, 403, "permission_error", "permission_denied",
     "permission_error", "PERMISSION_DENIED"},
    {gateway_error::identity_provider_unavailable, 503, "api_error",
     "identity_provider_unavailable", "api_error", "UNAVAILABLE"},
    {gateway_error::inflight_limit, 429, "rate_limit_error", "inflight_limit", "rate_limit_error",
     "RESOURCE_EXHAUSTED"},
    {gateway_error::unsupported_idempotency, 400, "invalid_request_error",
     "unsupported_idempotency", "invalid_request_error", "INVALID_ARGUMENT"},
    {gateway_error::request_too_large, 413, "invalid_request_error", "request_too_large",
     "request_too_large", "INVALID_ARGUMENT"},
    {gateway_error::invalid_json, 400, "invalid_request_error", "invalid_json",
     "invalid_request_error", "INVALID_ARGUMENT"},
    {gateway_error::invalid_type, 400, "invalid_request_error", "invalid_type",
     "invalid_request_error", "INVALID_ARGUMENT"},
    {gateway_error::integer_below_min_value, 400, "invalid_request_error",
     "integer_below_min_value", "invalid_request_error", "INVALID_ARGUMENT"},
    {gateway_error::integer_above_max_value, 400, "invalid_request_error",
     "integer_above_max_value", "invalid_request_error", "INVALID_ARGUMENT"},
    {gateway_error::invalid_request, 400, "invalid_request_error", "invalid_request",
     "invalid_request_error", "INVALID_ARGUMENT"},
    {gateway_error::translation_error, 500, "api_error", "translation_error", "api_error",
     "INTERNAL"},
    {gateway_error::request_id_conflict, 409, "invalid_request_error", "request_id_conflict",
     "invalid_request_error", "ABORTED"},
    {gateway_error::request_id_in_flight, 409, "invalid_request_error", "request_id_in_flight",
     "invalid_request_error", "ABORTED"},
    {gateway_error::request_id_replay_unavailable, 409, "invalid_request_error",
     "request_id_replay_unavailable", "invalid_request_error", "ABORTED"},
    {gateway_error::guardrail_rejected, 403, "policy_error", "guardrail_rejected",
     "permission_error", "PERMISSION_DENIED"},
    {gateway_error::cost_budget_unsupported_endpoint, 400, "invalid_request_error",
     "cost_budget_unsupported_endpoint", "invalid_request_error", "INVALID_ARGUMENT"},
    {gateway_error::pricing_not_configured, 500, "api_error", "pricing_not_configured", "api_error",
     "INTERNAL"},
    {gateway_error::rate_limited, 429, "rate_limit_error", "rate_limited", "rate_limit_error",
     "RESOURCE_EXHAUSTED"},
    {gateway_error::budget_exceeded, 402, "insufficient_quota", "budget_exceeded", "billing_error",
     "FAILED_PRECONDITION"},
    {gateway_error::cost_budget_exceeded, 402, "insufficient_quota", "cost_budget_exceeded",
     "billing_error", "FAILED_PRECONDITION"},
    {gateway_error::store_unavailable, 503, "api_error", "store_unavailable", "api_error",
     "UNAVAILABLE"},
    {gateway_error::storage_error, 500, "api_error", "storage_error", "api_error", "INTERNAL"},
    {gateway_error::backend_not_found, 502, "api_error", "backend_not_found", "api_error",
     "UNAVAILABLE"},
    {gateway_error::inflight_limit_backend, 429, "rate_limit_error", "inflight_limit_backend",
     "rate_limit_error", "RESOURCE_EXHAUSTED"},
    {gateway_error::backend_error, 502, "api_error", "backend_error", "api_error", "UNAVAILABLE"},
    {gateway_error::backend_timeout, 504, "api_error", "backend_timeout", "timeout_error",
     "DEADLINE_EXCEEDED"},
    {gateway_error::invalid_backend_response, 502, "api_error", "invalid_backend_response",
     "api_error", "UNAVAILABLE"},
};

std::string name_of(const expected_row& r) {
    return std::string(r.code);
}

std::string str(const json& j) {
    return j.is_string() ? j.get<std::string>() : "<" + j.dump() + ">";
}

TEST(GatewayErrors, EveryRowIsPinned) {
    ASSERT_EQ(http::gateway_errors.size(), std::size(expected));
    for (std::size_t i = 0; i < std::size(expected); ++i) {
        const auto& want = expected[i];
        const auto& row = http::gateway_errors[i];
        SCOPED_TRACE(name_of(want));
        EXPECT_EQ(row.error, want.error);
        EXPECT_EQ(&http::describe(want.error), &row);
        EXPECT_EQ(row.status, want.status);
        EXPECT_EQ(row.type, want.type);
        EXPECT_EQ(row.code, want.code);
    }
}

TEST(GatewayErrors, CodesAreDistinct) {
    for (std::size_t i = 0; i < http::gateway_errors.size(); ++i) {
        for (std::size_t j = i + 1; j < http::gateway_errors.size(); ++j)
            EXPECT_NE(http::gateway_errors[i].code, http::gateway_errors[j].code);
    }
}

TEST(GatewayErrors, ApiErrorAnswersWithTheRow) {
    const http::request req{http::bhttp::verb::post, "/v1/chat/completions", 11};
    for (const auto& want : expected) {
        SCOPED_TRACE(name_of(want));
        const auto res = api_error(req, want.error, "what happened", "messages[0]");
        EXPECT_EQ(res.msg.result_int(), want.status);
        auto body = json::parse(res.msg.body());
        EXPECT_EQ(str(body["error"]["type"]), want.type);
        EXPECT_EQ(str(body["error"]["code"]), want.code);
        EXPECT_EQ(str(body["error"]["message"]), "what happened");
        EXPECT_EQ(str(body["error"]["param"]), "messages[0]");
        // No x-ditto-* header: that is how the dialect steps tell a gateway error (docs/proxy.md).
        EXPECT_TRUE(res.msg.find("x-ditto-backend") == res.msg.end());
    }
}

// What the dialect steps send an Anthropic client (dialect_step.cpp, dialect_answer.cpp).
TEST(GatewayErrors, AnthropicTypeOfEveryRow) {
    for (const auto& want : expected) {
        SCOPED_TRACE(name_of(want));
        auto out = json::parse(dialect::error_from_openai(dialect::kind::anthropic, want.status,
                                                          http::openai_error(want.error, "m")));
        EXPECT_EQ(str(out["type"]), "error");
        EXPECT_EQ(str(out["error"]["type"]), want.anthropic);
        EXPECT_EQ(str(out["error"]["code"]), want.code);
        EXPECT_EQ(str(out["error"]["message"]), "m");
    }
}

TEST(GatewayErrors, GeminiStatusOfEveryRow) {
    for (const auto& want : expected) {
        SCOPED_TRACE(name_of(want));
        auto out = json::parse(dialect::error_from_openai(dialect::kind::gemini, want.status,
                                                          http::openai_error(want.error, "m")));
        EXPECT_EQ(str(out["error"]["status"]), want.gemini);
        EXPECT_EQ(out["error"]["code"], want.status);
        EXPECT_EQ(str(out["error"]["message"]), "m");
    }
}

// The Responses dialect is OpenAI's shape: the body passes unchanged.
TEST(GatewayErrors, ResponsesKeepsTheOpenAiBody) {
    for (const auto& want : expected) {
        const auto body = http::openai_error(want.error, "m");
        EXPECT_EQ(dialect::error_from_openai(dialect::kind::responses, want.status, body), body);
    }
}

// The server's own refusals: the status it sends and the code the handler's body names are one
// row.
TEST(GatewayErrors, ServerRejectionsAreRows) {
    EXPECT_EQ(http::error_of(http::reject_reason::header_too_large),
              gateway_error::request_header_too_large);
    EXPECT_EQ(http::error_of(http::reject_reason::bad_request), gateway_error::bad_request);
    EXPECT_EQ(http::error_of(http::reject_reason::bad_framing), gateway_error::bad_request);
    EXPECT_EQ(http::error_of(http::reject_reason::internal_error), gateway_error::internal_error);
    EXPECT_EQ(http::status_of(gateway_error::request_header_too_large),
              http::status::request_header_fields_too_large);
}

}  // namespace
}  // namespace ditto::middleware
