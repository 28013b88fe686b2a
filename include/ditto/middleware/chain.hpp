#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ditto/core/json_scan.hpp"
#include "ditto/dialect/dialect.hpp"
#include "ditto/http/gateway_error.hpp"
#include "ditto/http/message.hpp"
#include "ditto/metrics/prometheus.hpp"
#include "ditto/middleware/keys.hpp"
#include "ditto/middleware/settlement.hpp"
#include "ditto/trace/span.hpp"

namespace ditto::middleware {

/// Everything the chain learns about one `/v1/*` request on its way in.
struct proxy_context {
    http::request& req;
    http::body_reader& body;
    const http::request_info& info;

    std::string path;  ///< normalized (aliases gain /v1), no query
    /// The client's dialect (docs/dialects.md), from the path. Gateway errors leave in its
    /// error shape; the proxy translates for backends that do not speak it.
    dialect::kind dialect = dialect::kind::openai;
    /// Gemini: the model and the stream flag the path names
    /// (`…/models/{model}:streamGenerateContent`).
    std::string path_model;
    bool path_stream = false;
    /// A count-tokens request (`/v1/messages/count_tokens`, Gemini `:countTokens`): answered
    /// by the gateway with its estimate unless a backend speaks the dialect.
    bool count_tokens = false;
    std::string query;  ///< raw query, no '?'
    std::string request_id;
    bool client_request_id = false;  ///< the client sent x-request-id (even blank)

    bool body_read = false;  ///< raw_body holds the whole body
    std::string raw_body;
    bool body_is_json = false;  ///< content-type JSON, non-empty, valid
    core::request_fields fields;

    std::shared_ptr<const key_snapshot> keys;  ///< keeps `key` alive
    const config::virtual_key_config* key = nullptr;

    std::vector<std::shared_ptr<void>> holds;  ///< permits released after the response

    /// ceil(body bytes / 4), and that plus the most output the request may produce
    /// (docs/governance.md, "Rate limits"). Set with the body.
    std::uint64_t input_estimate = 0;
    std::uint64_t charge_tokens = 0;
    /// False for every method but POST: the USD endpoint policy (docs/governance.md, "Costs") makes
    /// them free (model lookups, file and batch reads, deletes). Such a request reserves no budget,
    /// is counted in rpm but charges 0 to tpm, and is never settled to a `usage` its answer carries
    /// (GET /v1/responses/{id} returns a stored response with the usage already paid for).
    bool metered = true;

    /// The USD endpoint policy (docs/governance.md, "Costs"), when some scope of the key has a USD
    /// budget.
    enum class cost_policy : std::uint8_t { none, free, token_based };
    cost_policy cost = cost_policy::none;

    std::vector<std::string> candidates;  ///< backends in order (docs/routing.md), set by route
    /// The router version that chose them (docs/routing.md, "Canary"), in `keys`; empty
    /// before the route step.
    std::string_view router_version;
    bool canary = false;  ///< chosen by the canary router

    /// The request as chat completions, made on first need by a backend that does not speak
    /// the client's dialect (Responses, Anthropic; Gemini is translated with the body, so its
    /// raw_body is already chat), with the fields the proxy rewrites `model` by.
    std::optional<std::string> chat_body;
    core::request_fields chat_fields;

    settlement settle;  ///< charges to settle once the answer is known
    /// A cache hit (cache_step.cpp) or an x-request-id replay (dedup_step.cpp), served by the
    /// admission step once its rate limits admit it: builds the answer from the stored entry.
    std::function<http::response(proxy_context&)> cached_answer;

    // What the observe step records (docs/observability.md), filled on the way.
    metrics::blocked_by blocked = metrics::blocked_by::none;
    metrics::cache_outcome cache = metrics::cache_outcome::not_eligible;
    std::string backend;  ///< the backend whose answer is returned
    std::vector<metrics::attempt_record> attempts;
    std::chrono::steady_clock::duration upstream_time{};    ///< summed over attempts, to heads
    std::chrono::steady_clock::time_point observed_from{};  ///< when the observe step began
    trace::request_trace trace;  ///< W3C trace context and the sampled request's spans
};

class chain;

/// Calls the rest of the chain. Small and passed by value: a middleware coroutine keeps its
/// own copy in its frame, so calling it needs no coroutine of its own.
class next_fn {
  public:
    next_fn(const chain& c, std::size_t index) : chain_(&c), index_(index) {}
    boost::asio::awaitable<http::response> operator()(proxy_context& ctx) const;

  private:
    const chain* chain_;
    std::size_t index_;
};

/// What a step decided on the way in without waiting (docs/architecture.md, "One request's
/// walk through the chain").
enum class step_result : std::uint8_t {
    next,      ///< done: the chain goes on to the next step, without a coroutine frame
    answered,  ///< the answer (a refusal) is in the step's `out`; no later step runs
    wait,      ///< the step must wait or act on the way out: the chain calls handle()
    around,    ///< done for the way in: the chain goes on, and calls leave() on the answer
};

/// What a step did with the answer on its way out.
enum class leave_result : std::uint8_t {
    done,  ///< without waiting
    wait,  ///< the chain awaits leave_async() to finish it
};

/// One step of the request's way in and its response's way out. Implementations are
/// shared by all workers and must be thread-safe.
class middleware {
  public:
    virtual ~middleware() = default;
    /// Called first. A step that can decide without waiting, and has nothing to do on the
    /// way out, decides here; the default asks for handle().
    virtual step_result enter(proxy_context& /*ctx*/, std::optional<http::response>& /*out*/) {
        return step_result::wait;
    }
    virtual boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn next) = 0;
    /// On the way out, for a step whose enter() said `around`: acts on the answer. The steps
    /// the chain walked past are left in reverse order, all from one coroutine frame.
    virtual leave_result leave(proxy_context& /*ctx*/, http::response& /*res*/) {
        return leave_result::done;
    }
    /// The rest of leave() when it said `wait`.
    virtual boost::asio::awaitable<void> leave_async(proxy_context& ctx, http::response& res);
};

/// A step that always decides in enter(): never a coroutine frame of its own on the chain's
/// walk; handle() is enter() for callers that call it directly.
class sync_middleware : public middleware {
  public:
    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override = 0;
    boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn next) final;
};

/// A step that acts around the rest of the chain without a coroutine frame of its own: enter()
/// on the way in (`around`, or `answered`), leave() on the way out; handle() is both, for
/// callers that call it directly.
class around_middleware : public middleware {
  public:
    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override = 0;
    boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn next) final;
};

/// The middlewares in order, built once at start-up; the last one answers.
class chain {
  public:
    chain& add(std::shared_ptr<middleware> m) {
        items_.push_back(std::move(m));
        return *this;
    }
    boost::asio::awaitable<http::response> run(proxy_context& ctx) const;

  private:
    friend class next_fn;
    std::vector<std::shared_ptr<middleware>> items_;
};

/// A gateway-made `/v1/*` error: OpenAI shape, no x-ditto-* headers, status, type and code from
/// `e`'s row (docs/proxy.md, "Errors"); `message` says what happened here, `param` names the
/// request field at fault, when there is one.
http::response api_error(const http::request& req, http::gateway_error e, std::string_view message,
                         std::string_view param = {});

}  // namespace ditto::middleware
