#pragma once

// OTLP/HTTP's JSON encoding of an ExportTraceServiceRequest
// (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): ids as lower-case hex,
// 64-bit integers and nanosecond times as decimal strings, enums as numbers.

#include <span>
#include <string>

#include "ditto/trace/span.hpp"

namespace ditto::trace {

struct resource_info {
    std::string service_name = "ditto-gateway";
    std::string service_version;
    std::string instance_id;  ///< service.instance.id: one per process
};

/// One request body holding `traces`' spans (server span first, then its attempts).
std::string encode_otlp_json(const resource_info& resource,
                             std::span<const std::shared_ptr<pending_trace>> traces);

}  // namespace ditto::trace
