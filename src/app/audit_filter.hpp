#pragma once

#include <memory>

#include "ditto/observe/redactor.hpp"
#include "ditto/store/audit_log.hpp"

namespace ditto::app {

/// docs/observability.md for audit payloads: redacted on write and again on read (records written
/// before a redaction rule existed), and sampled at `rate` by the payload's identity (request id).
std::shared_ptr<store::audit_log> with_redaction(std::shared_ptr<store::audit_log> inner,
                                                 std::shared_ptr<const observe::redactor> r,
                                                 double rate);

}  // namespace ditto::app
