#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ditto/metrics/counters.hpp"
#include "ditto/middleware/chain.hpp"

namespace ditto::middleware {

/// The request id (docs/proxy.md, "What goes upstream"): the client's trimmed x-request-id,
/// else `ditto-<unix_ms>-<seq>`.
std::shared_ptr<middleware> make_request_id();

/// docs/observability.md: times the request (the `x-ditto-overhead-ms` header: time in
/// the gateway, upstream excluded), records it in `p` when set (and the stream it relays),
/// and writes the access log line / `proxy.response` event at info. Right after request_id.
/// With `traces` (docs/observability.md, "Tracing"): reads the client's traceparent, and
/// records the request's server span when the trace is sampled at `trace_rate`.
std::shared_ptr<middleware> make_observe(std::shared_ptr<metrics::prometheus> p,
                                         std::shared_ptr<trace::span_sink> traces = nullptr,
                                         double trace_rate = 1.0);

/// docs/dialects.md: the gateway's own error answers in the client's dialect (Anthropic,
/// Gemini error shapes). Right after observe, outside every step that can refuse.
std::shared_ptr<middleware> make_dialect_errors();

/// docs/dialects.md: a Gemini request becomes the chat request it is governed and sent as
/// (400 when it cannot be translated), and is charged by it. Right after auth.
std::shared_ptr<middleware> make_gemini_request(std::uint64_t default_max_output_tokens);

/// The charge (docs/governance.md, "Rate limits"): `ctx.input_estimate` = ceil(body_bytes / 4) (the
/// body as the client sent it, in every dialect), and `ctx.charge_tokens` = that plus the request's
/// output limit from `ctx.fields` (else the default); 0 for an unmetered request.
void charge_request(proxy_context& ctx, std::uint64_t default_max_output_tokens,
                    std::size_t body_bytes);

struct body_limits {
    std::uint64_t max_body_bytes = 64ULL * 1024 * 1024;  ///< --proxy-max-body-bytes
    std::uint64_t max_in_flight = 256;                   ///< --proxy-max-in-flight
    std::uint64_t default_max_output_tokens = 4096;      ///< --default-max-output-tokens
};

/// The body step (docs/architecture.md, "Requests"): the global in-flight permit (held until the
/// response is written; 429 inflight_limit), the body (413 over the limit; large multipart uploads
/// are left to stream), the JSON scan (400 invalid_json), and the token charge.
std::shared_ptr<middleware> make_read_body(body_limits limits,
                                           std::shared_ptr<std::atomic<std::uint64_t>> in_flight);

/// Fail-closed virtual-key auth against the live key snapshot (docs/proxy.md, "Virtual-key auth").
class jwt_clients;
/// `clients`: access.clients (docs/access.md), a JWT in place of a virtual key; null: keys only.
std::shared_ptr<middleware> make_auth(std::shared_ptr<live_keys> keys,
                                      std::shared_ptr<jwt_clients> clients = nullptr);

/// True for the multipart uploads that may exceed the body limit and are streamed to the
/// first candidate (docs/proxy.md, "Large uploads").
bool is_streamable_upload(const proxy_context& ctx);

}  // namespace ditto::middleware

namespace ditto::store {
class governor;
class dedup_store;
class audit_log;
}  // namespace ditto::store

namespace ditto::cost {
class pricing_table;
}  // namespace ditto::cost

namespace ditto::cache {
class response_cache;
}  // namespace ditto::cache

namespace ditto::middleware {

/// Runs the request's settlement (docs/governance.md) once its answer is known: at once for
/// a buffered answer (a store failure turns it into 500 storage_error), at the end of the
/// body for a stream (reading SSE usage, removing the usage event the client did not ask
/// for; reading a relayed 2xx JSON answer's `usage` when it is at most
/// `usage_max_body_bytes`, 0: never). Must come before every step that charges something. A
/// settlement left unrun (a torn-down request) finishes on `background`.
std::shared_ptr<middleware> make_settle(boost::asio::any_io_executor background,
                                        std::uint64_t usage_max_body_bytes);

/// Drops candidates that should not be tried now (the ejected and unhealthy backends of
/// docs/routing.md); never returns an empty list for a non-empty one.
using candidate_filter = std::function<std::vector<std::string>(std::vector<std::string>)>;

/// Fills `ctx.candidates` from the snapshot's router (docs/proxy.md, "Routing"), through `filter`
/// when set; none → 502 backend_not_found.
std::shared_ptr<middleware> make_route(candidate_filter filter = {});

/// The USD endpoint policy (docs/governance.md, "Costs"), before the guardrails, for keys with a
/// USD budget.
std::shared_ptr<middleware> make_cost_policy();

struct budget_options {
    std::shared_ptr<const cost::pricing_table> pricing;  ///< --pricing-litellm; may be null
    /// Each backend's model_map, to price the model a candidate would really be sent.
    std::map<std::string, std::map<std::string, std::string>> model_maps;
    /// --redis-failure-mode open: when the store cannot reserve, admit without a reservation
    /// (availability over accounting); otherwise 503 store_unavailable.
    bool fail_open = false;
};

/// docs/governance.md, "Rate limits", "Budgets" and "Costs": one admission for the key's scopes
/// (include/ditto/store/governor.hpp): rpm/tpm charging `ctx.charge_tokens` (429 `rate_limited`
/// with `retry-after`), and the token charge and cost estimate reserved on every scope with a
/// budget (402 budget_exceeded / cost_budget_exceeded, audited as proxy.blocked), all or none.
/// After the cache step: a hit is admitted on its rate limits only, then served. Settled on the
/// way out: rate refunded or corrected to the reported usage, budgets committed or rolled back,
/// with the proxy's audit record in the same store operation.
std::shared_ptr<middleware> make_admit(budget_options options,
                                       std::shared_ptr<store::governor> governor,
                                       std::shared_ptr<store::audit_log> audit,
                                       std::shared_ptr<metrics::counters> counters);

/// docs/governance.md, "Guardrails": the guardrails that apply to the key and routed model
/// (compiled in the key snapshot); 403 policy_error / 400 invalid_request before anything is
/// counted. Counts `guardrail_blocked`.
std::shared_ptr<middleware> make_guardrails(std::shared_ptr<metrics::counters> counters);

/// docs/caching.md: answers eligible requests from the cache (memory, then the
/// shared tier) with x-ditto-cache: hit and no upstream call; stores 2xx answers that fit
/// (SSE streams once complete, with streaming caching on); concurrent identical misses wait
/// for one upstream call. After the rate limit (a hit counts in rpm, not in tpm) and before
/// the budget (a hit reserves nothing).
std::shared_ptr<middleware> make_cache(std::shared_ptr<cache::response_cache> c,
                                       std::shared_ptr<metrics::counters> counters);

/// docs/proxy.md, "Retries with x-request-id".
struct dedup_options {
    std::chrono::milliseconds lease{30'000};          ///< a leader that stops refreshing loses it
    std::chrono::milliseconds refresh_every{5'000};   ///< the leader's lease refresh
    std::chrono::milliseconds poll_every{50};         ///< a retry waiting on its leader
    std::chrono::milliseconds retention{86'400'000};  ///< a completed answer is replayed for
    std::uint64_t max_record_bytes = 64ULL * 1024 * 1024;  ///< --proxy-max-body-bytes
    std::vector<std::string> key_headers;  ///< --proxy-cache-key-headers: varies the fingerprint
    /// The longest a retry waits for its leader's answer: the request's own deadline, from its
    /// candidate backends.
    std::function<std::chrono::milliseconds(const std::vector<std::string>&)> wait_bound;
};

/// docs/proxy.md, "Retries with x-request-id": a non-safe request with a client x-request-id
/// leads (`x-ditto-request-dedup: leader`) or replays the first answer (`replay`), or is refused
/// (409 conflict or in flight). `shared` (every replica's, may be null) is asked first, `local`
/// (this process's) without it or while it fails.
/// After route, before the cache and the admission: a replay is neither charged nor cached.
std::shared_ptr<middleware> make_dedup(std::shared_ptr<store::dedup_store> shared,
                                       std::shared_ptr<store::dedup_store> local, dedup_options o);

/// The routed model (docs/proxy.md, "Routing"): the trimmed JSON `model`, else the decoded `{id}`
/// of `/v1/models/{id}`, else empty.
std::string routed_model(const proxy_context& ctx);

}  // namespace ditto::middleware
