#pragma once

// Exactly-once settlement of one request's charges (docs/governance.md, "Budgets").
//
// Steps that charge something on the way in (rate limits, budgets) and the proxy's audit
// record register an action here. The settle step runs them once the answer is known: at
// once for a buffered answer, at the end of the body for a streamed one. Whatever path a
// request takes — an error, a client that goes away mid-stream, a connection torn down at
// shutdown — the settlement runs: if nobody ran it, its destructor hands it to the
// background executor. So no charge is ever left open by a forgotten branch.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ditto/core/json_scan.hpp"
#include "ditto/store/governor.hpp"

namespace ditto::middleware {

/// A governed settlement (include/ditto/store/governor.hpp) waiting for the request's audit
/// record, so that both go to the store in one operation (docs/redis.md): left by the
/// admission's settle action, sent by the proxy's audit action with its record, or by the
/// settlement itself after the last action when no record comes (a cache hit, a refusal).
struct pending_settlement {
    std::shared_ptr<store::governor> governor;
    store::settle_request request;
};

/// How the request ended, as the settle actions see it. Filled by the proxy and the settle
/// step; the budget action adds what it spent, for the audit record.
struct outcome {
    unsigned status = 0;         ///< 0: no answer (torn down before one existed)
    bool from_upstream = false;  ///< the answer is a backend's, not a gateway error
    bool streamed = false;
    bool completed = true;   ///< a streamed body reached its end
    bool cache_hit = false;  ///< answered from the proxy cache: no upstream tokens
    /// The proxy asked the upstream for stream usage the client did not ask for
    /// (docs/governance.md, "Usage accounting"): the settle and cache steps remove the extra
    /// usage event from the client's stream and the stored one.
    bool usage_event_added = false;
    core::usage_fields usage;  ///< what the upstream reported, if anything
    std::string backend;
    std::vector<std::string> attempted;
    std::string upstream_model;  ///< after model_map
    std::string error_type;      ///< a gateway error's OpenAI type/code/message
    std::string error_code;
    std::string error_message;
    std::uint64_t charge_cost_usd_micros = 0;
    std::optional<std::uint64_t> spent_tokens;
    std::optional<std::uint64_t> spent_cost_usd_micros;
    /// The budget periods' ledgers the admission reserved in (`<scope>@<start>-<end>`).
    std::vector<std::string> budget_ledgers;
    std::optional<pending_settlement> pending;

    bool success() const { return status / 100 == 2; }
};

class settle_action {
  public:
    virtual ~settle_action() = default;
    /// Runs once. An error is reported to the client as 500 storage_error when the answer
    /// is still buffered (docs/governance.md, "Audit"); for a stream it is logged.
    virtual boost::asio::awaitable<boost::system::error_code> settle(outcome& o) = 0;
    /// settle() done without waiting (the memory store); nullopt when it must wait, and then
    /// settle() runs instead. Lets a request settle without a coroutine frame.
    virtual std::optional<boost::system::error_code> settle_now(outcome& /*o*/) {
        return std::nullopt;
    }
};

class settlement {
  public:
    settlement() = default;
    settlement(settlement&& other) noexcept;
    settlement& operator=(settlement&&) = delete;
    settlement(const settlement&) = delete;
    ~settlement();

    /// Where a settlement left unrun is finished; set by the settle step before any action
    /// can be added.
    void bind(boost::asio::any_io_executor background) { background_ = std::move(background); }
    void add(std::unique_ptr<settle_action> a) { actions_.push_back(std::move(a)); }
    bool empty() const { return actions_.empty(); }
    bool done() const { return done_; }
    outcome& result() { return outcome_; }

    /// Runs every action once, in the order they were added (so the budget's spend is known
    /// to the audit). Returns the first error; later calls do nothing.
    boost::asio::awaitable<boost::system::error_code> run();
    /// run() as far as the actions can settle without waiting: the first error once all have
    /// run, or nullopt when one must wait, and then run() goes on from that action.
    std::optional<boost::system::error_code> run_now();

  private:
    std::vector<std::unique_ptr<settle_action>> actions_;
    outcome outcome_;
    std::optional<boost::asio::any_io_executor> background_;
    std::size_t next_ = 0;  ///< the first action not run yet
    boost::system::error_code first_error_;
    bool done_ = false;
};

}  // namespace ditto::middleware
