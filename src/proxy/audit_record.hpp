#pragma once

// The proxy's audit record (`proxy` / `proxy.error`, docs/observability.md "Audit"): written
// with fixed member names, so that the redactor judges the names once and each record's
// string values in one pass (docs/observability.md "What a record costs").

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ditto/middleware/settlement.hpp"

namespace ditto::proxy {

/// What the record says about the request, taken when the request reaches the proxy.
struct audit_request {
    std::string request_id, key_id;
    std::optional<std::string> tenant_id, project_id, user_id;
    std::string method, path;
    std::optional<std::string> model, service_tier;
    std::string provider = "openai";
    std::uint64_t charge_tokens = 0;
    std::uint64_t body_len = 0;
    std::string router_version;  ///< docs/routing.md, "Canary"
};

/// Every member name a record may have.
std::span<const std::string_view> audit_record_names();

/// Writes the record of `r` settled as `o` into `payload` (a JSON object) and appends each of
/// its string values to `values`, each followed by '\n'. Returns the record's kind.
std::string_view write_audit_record(const audit_request& r, const middleware::outcome& o,
                                    std::string& payload, std::string& values);

}  // namespace ditto::proxy
