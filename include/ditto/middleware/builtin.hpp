#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "ditto/metrics/counters.hpp"
#include "ditto/middleware/chain.hpp"

namespace ditto::middleware {

/// SPEC §3.1 step 1: the client's trimmed x-request-id, else `ditto-<unix_ms>-<seq>`.
std::shared_ptr<middleware> make_request_id();

struct body_limits {
    std::uint64_t max_body_bytes = 64ULL * 1024 * 1024;  ///< --proxy-max-body-bytes
    std::uint64_t max_in_flight = 256;                   ///< --proxy-max-in-flight
};

/// SPEC §3.1 steps 3–5: the global in-flight permit (held until the response is written;
/// 429 inflight_limit), the body (413 over the limit; large multipart uploads are left to
/// stream), and the JSON scan (400 invalid_json).
std::shared_ptr<middleware> make_read_body(body_limits limits,
                                           std::shared_ptr<std::atomic<std::uint64_t>> in_flight);

/// SPEC §3.2: fail-closed virtual-key auth against the live key snapshot.
std::shared_ptr<middleware> make_auth(std::shared_ptr<live_keys> keys);

/// True for the multipart uploads that may exceed the body limit and are streamed to the
/// first candidate (SPEC §3.1 step 3).
bool is_streamable_upload(const proxy_context& ctx);

class guardrails_index;
}  // namespace ditto::middleware

namespace ditto::store {
class rate_limiter;
}  // namespace ditto::store

namespace ditto::middleware {

/// SPEC §3.4: rpm/tpm across the key's scopes (key, tenant, project, user), all admitted or
/// none; 429 `rate_limited` with `retry-after`; refunded when the answer is not 2xx. Tokens
/// are charged with the estimate: input + max output (`default_max_output_tokens` when the
/// request sets none, SPEC §0.4).
std::shared_ptr<middleware> make_rate_limit(std::shared_ptr<store::rate_limiter> limiter,
                                            std::shared_ptr<metrics::counters> counters,
                                            std::uint64_t default_max_output_tokens);

/// SPEC §3.3: the guardrails that apply to the key and routed model; 403 policy_error /
/// 400 invalid_request before anything is counted. Counts `guardrail_blocked`.
std::shared_ptr<middleware> make_guardrails(std::shared_ptr<const guardrails_index> index,
                                            std::shared_ptr<metrics::counters> counters);

/// SPEC §3.9 routed model: the trimmed JSON `model`, else the decoded `{id}` of
/// `/v1/models/{id}`, else empty.
std::string routed_model(const proxy_context& ctx);

}  // namespace ditto::middleware
