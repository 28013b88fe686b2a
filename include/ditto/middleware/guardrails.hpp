#pragma once

// docs/governance.md, "Guardrails": which set applies to a request, and the checks in order (model
// deny/allow, max_input_tokens, schema, text filters). RE2 and nlohmann stay in the .cpp.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ditto/config/gateway_config.hpp"
#include "ditto/http/gateway_error.hpp"

namespace ditto::middleware {

/// The outcome of the guardrails for one request; ok() when nothing blocked it.
struct guardrail_verdict {
    /// Unset = passed; else guardrail_rejected (403) or, for the schema, invalid_request (400).
    std::optional<http::gateway_error> error;
    std::string message;  ///< e.g. "deny_model:gpt-4*", "pii:email", or the schema reason
    bool ok() const { return !error; }
};

/// What the guardrails look at.
struct guardrail_input {
    std::string_view method;         ///< "POST", ...
    std::string_view path;           ///< normalized "/v1/..." without query
    std::string_view content_type;   ///< may be empty
    std::string_view model;          ///< routed model, trimmed; empty = none
    std::uint64_t input_tokens = 0;  ///< the estimate ceil(body bytes/4)
    std::string_view raw_body;
    bool body_is_json = false;  ///< content-type JSON and the body parsed as JSON
};

/// One guardrails_config with its RE2 patterns compiled once (banned phrases and regexes
/// case-insensitive; PII patterns as docs/governance.md gives them). Immutable after construction;
/// thread-safe.
class compiled_guardrails {
  public:
    explicit compiled_guardrails(const config::guardrails_config& cfg);
    ~compiled_guardrails();
    compiled_guardrails(compiled_guardrails&&) noexcept;
    compiled_guardrails& operator=(compiled_guardrails&&) noexcept;
    compiled_guardrails(const compiled_guardrails&) = delete;
    compiled_guardrails& operator=(const compiled_guardrails&) = delete;

    /// Runs the checks of docs/governance.md in order; the first failure wins.
    guardrail_verdict check(const guardrail_input& in) const;

    const config::guardrails_config& config() const { return cfg_; }

  private:
    struct patterns;
    config::guardrails_config cfg_;
    std::unique_ptr<patterns> re_;
};

/// All guardrails of a config compiled at load: per distinct guardrails value of the keys
/// (a million keys with the same, often empty, guardrails share one compiled set) and per
/// router rule index. Logically immutable; thread-safe (the only mutable part is the
/// mutex-guarded miss cache).
class guardrails_index {
  public:
    guardrails_index(const std::vector<config::virtual_key_config>& keys,
                     const config::router_config& router);
    ~guardrails_index();

    /// Which set applies (docs/governance.md): a key with a route → the key's; else the matching
    /// rule (router::match_rule) with guardrails replaces the key's; no model → the key's. The
    /// key's guardrails are found by value, so a key the index was not built from (a newer
    /// snapshot's) is still checked with its own; those are compiled once on first use and kept for
    /// the index's lifetime, so none passes unchecked.
    const compiled_guardrails& select(const config::virtual_key_config& key,
                                      std::string_view model) const;
    /// The rule's guardrails that replace the key's for `model`, or null (select()'s first step).
    const compiled_guardrails* rule_for(const config::virtual_key_config& key,
                                        std::string_view model) const;
    /// The key's own guardrails (select()'s second step).
    const compiled_guardrails& own(const config::virtual_key_config& key) const;

  private:
    using by_value = std::unordered_multimap<std::uint64_t, std::unique_ptr<compiled_guardrails>>;
    const compiled_guardrails* find(const by_value& m, std::uint64_t h,
                                    const config::guardrails_config& g) const;

    config::router_config router_;
    compiled_guardrails none_;  ///< the empty guardrails, most keys' (no lookup needed)
    by_value by_value_;         ///< by value hash, the others of the keys built from
    std::vector<std::optional<compiled_guardrails>> by_rule_;
    mutable std::mutex miss_mu_;
    mutable by_value misses_;
};

}  // namespace ditto::middleware
