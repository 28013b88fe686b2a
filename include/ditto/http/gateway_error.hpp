#pragma once

// The errors the gateway makes itself (docs/proxy.md, "Errors"): one row each, so that a call
// site names the error and cannot misspell its status, type or code. Beast-free, like
// error_body.hpp.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ditto::http {

/// Named after its OpenAI `code`; the order is the table's.
enum class gateway_error : std::uint8_t {
    // The HTTP server, before any route.
    bad_request,
    request_header_too_large,
    internal_error,
    // The path.
    invalid_path,
    unsupported_endpoint,
    // The request: auth, body, fields.
    invalid_api_key,
    key_expired,
    permission_denied,
    identity_provider_unavailable,
    inflight_limit,
    unsupported_idempotency,
    request_too_large,
    invalid_json,
    invalid_type,
    integer_below_min_value,
    integer_above_max_value,
    invalid_request,
    translation_error,
    // Retries with an x-request-id (docs/proxy.md).
    request_id_conflict,
    request_id_in_flight,
    request_id_replay_unavailable,
    // Policy: guardrails, rate limits, budgets, the store behind them.
    guardrail_rejected,
    cost_budget_unsupported_endpoint,
    pricing_not_configured,
    rate_limited,
    budget_exceeded,
    cost_budget_exceeded,
    store_unavailable,
    storage_error,
    // Backends.
    backend_not_found,
    inflight_limit_backend,
    backend_error,
    backend_timeout,
    invalid_backend_response,
};

/// What the client sees: the HTTP status and the OpenAI body's `type` and `code`. The other
/// dialects map the status to their own type (docs/dialects.md, "Errors").
struct gateway_error_row {
    gateway_error error;
    unsigned status;
    std::string_view type;
    std::string_view code;
};

inline constexpr std::array<gateway_error_row, 34> gateway_errors{{
    {gateway_error::bad_request, 400, "invalid_request_error", "bad_request"},
    {gateway_error::request_header_too_large, 431, "invalid_request_error",
     "request_header_too_large"},
    {gateway_error::internal_error, 500, "api_error", "internal_error"},
    {gateway_error::invalid_path, 400, "invalid_request_error", "invalid_path"},
    {gateway_error::unsupported_endpoint, 404, "invalid_request_error", "unsupported_endpoint"},
    {gateway_error::invalid_api_key, 401, "authentication_error", "invalid_api_key"},
    // An expired key, or a token a rotation replaced after its grace (docs/governance.md).
    {gateway_error::key_expired, 401, "authentication_error", "key_expired"},
    // A client's JWT that is valid but maps to no key template (docs/access.md, "Clients").
    {gateway_error::permission_denied, 403, "permission_error", "permission_denied"},
    // The issuer of clients' JWTs has never been reached: its keys are unknown (docs/access.md).
    {gateway_error::identity_provider_unavailable, 503, "api_error",
     "identity_provider_unavailable"},
    {gateway_error::inflight_limit, 429, "rate_limit_error", "inflight_limit"},
    {gateway_error::unsupported_idempotency, 400, "invalid_request_error",
     "unsupported_idempotency"},
    {gateway_error::request_too_large, 413, "invalid_request_error", "request_too_large"},
    {gateway_error::invalid_json, 400, "invalid_request_error", "invalid_json"},
    // OpenAI's own codes for a malformed token limit (docs/governance.md).
    {gateway_error::invalid_type, 400, "invalid_request_error", "invalid_type"},
    {gateway_error::integer_below_min_value, 400, "invalid_request_error",
     "integer_below_min_value"},
    {gateway_error::integer_above_max_value, 400, "invalid_request_error",
     "integer_above_max_value"},
    {gateway_error::invalid_request, 400, "invalid_request_error", "invalid_request"},
    {gateway_error::translation_error, 500, "api_error", "translation_error"},
    // 409: the OpenAI SDKs retry it, which is right for "in flight" and harmless for the others.
    {gateway_error::request_id_conflict, 409, "invalid_request_error", "request_id_conflict"},
    {gateway_error::request_id_in_flight, 409, "invalid_request_error", "request_id_in_flight"},
    {gateway_error::request_id_replay_unavailable, 409, "invalid_request_error",
     "request_id_replay_unavailable"},
    {gateway_error::guardrail_rejected, 403, "policy_error", "guardrail_rejected"},
    {gateway_error::cost_budget_unsupported_endpoint, 400, "invalid_request_error",
     "cost_budget_unsupported_endpoint"},
    {gateway_error::pricing_not_configured, 500, "api_error", "pricing_not_configured"},
    {gateway_error::rate_limited, 429, "rate_limit_error", "rate_limited"},
    // 402 and OpenAI's type for an exhausted quota: a budget does not refill in seconds, so
    // it is not a 429 that clients retry.
    {gateway_error::budget_exceeded, 402, "insufficient_quota", "budget_exceeded"},
    {gateway_error::cost_budget_exceeded, 402, "insufficient_quota", "cost_budget_exceeded"},
    // Before the upstream: the request can be sent again. After it (settling a buffered
    // answer): a 500, the upstream was called (docs/governance.md, "Audit").
    {gateway_error::store_unavailable, 503, "api_error", "store_unavailable"},
    {gateway_error::storage_error, 500, "api_error", "storage_error"},
    {gateway_error::backend_not_found, 502, "api_error", "backend_not_found"},
    {gateway_error::inflight_limit_backend, 429, "rate_limit_error", "inflight_limit_backend"},
    {gateway_error::backend_error, 502, "api_error", "backend_error"},
    {gateway_error::backend_timeout, 504, "api_error", "backend_timeout"},
    {gateway_error::invalid_backend_response, 502, "api_error", "invalid_backend_response"},
}};

/// The row of `e`.
constexpr const gateway_error_row& describe(gateway_error e) {
    return gateway_errors[static_cast<std::size_t>(e)];
}

namespace detail {
constexpr bool rows_in_enum_order() {
    for (std::size_t i = 0; i < gateway_errors.size(); ++i) {
        if (static_cast<std::size_t>(gateway_errors[i].error) != i)
            return false;
    }
    return gateway_errors.back().error == gateway_error::invalid_backend_response;
}
}  // namespace detail
// describe() indexes by the enum's value: a row added out of order, or an enumerator without a
// row, fails here.
static_assert(detail::rows_in_enum_order(), "gateway_errors rows must follow the enum's order");

}  // namespace ditto::http
