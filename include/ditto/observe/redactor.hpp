#pragma once

// Redaction and sampling (docs/observability.md): what keeps secrets out of logs,
// audit payloads and metric labels, and how often a log or audit record is written.

#include <bitset>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/config/gateway_config.hpp"

namespace re2 {
class RE2;
}

namespace ditto::observe {

class redactor {
  public:
    explicit redactor(const config::redaction_config& cfg);
    ~redactor();
    redactor(const redactor&) = delete;
    redactor& operator=(const redactor&) = delete;

    /// A JSON document with: the values of secret-named members (key names and header names,
    /// any case) replaced; the secret query parameters of URL-like members (`path`, `url`,
    /// …) replaced; every string scrubbed by the regexes; then the JSON pointers replaced.
    /// Text that is not JSON is scrubbed as text.
    std::string redact_json(std::string_view json) const;
    /// A free-form value (a log field, a label value): the regexes only.
    std::string redact_text(std::string_view text) const;
    /// A named value (a log field): the whole value when the name is secret, else the regexes.
    std::string redact_field(std::string_view name, std::string_view value) const;
    /// True when the name (any case) is a secret key name or header.
    bool secret_name(std::string_view name) const;
    /// False when no regex can match inside any line of `text` (values joined by '\n'): one
    /// scan instead of one per value. True may be a false alarm; redact_field() decides.
    bool may_match(std::string_view text) const;
    const std::string& replacement() const { return replacement_; }

    /// For records the gateway builds itself from fixed member names (the proxy's audit
    /// record, docs/observability.md "What a record costs"): true when none of `names` is a
    /// secret name and no JSON pointer is configured, so that the record's string values
    /// alone decide. Meant to be judged once, not per record.
    bool names_clean(std::span<const std::string_view> names) const;
    /// True when a record's string values, joined by '\n', need nothing replaced: no regex
    /// matches (none may be anchored) and none holds a '?' (a URL query that a
    /// `sanitize_query_in_keys` rule could apply to). False may be a false alarm:
    /// redact_json() then decides.
    bool values_clean(std::string_view values) const;

  private:
    std::string replace_query(std::string_view url) const;
    bool needs_work(std::string_view json) const;
    bool any_regex_matches(std::string_view text) const;

    std::string replacement_;
    std::vector<std::string> secret_names_;   ///< lower case
    std::vector<std::string> query_params_;   ///< lower case
    std::vector<std::string> sanitize_keys_;  ///< lower case
    std::vector<std::string> pointers_;
    std::vector<std::unique_ptr<re2::RE2>> regexes_;
    std::unique_ptr<re2::RE2> any_;  ///< the regexes as one alternation, for may_match()
    bool always_check_ = false;      ///< some regex may be anchored: may_match() is always true
    /// (length, first letter) of the names above: a cheap first test, see name_slot().
    std::bitset<64 * 64 + 1> name_filter_;
};

/// Sampling (docs/observability.md): emit when
/// fnv1a64(sink + "|" + identity) <= floor(rate · 2^64-1).
bool sampled(std::string_view sink, std::string_view identity, double rate);

/// The identity a payload is sampled by: the first non-empty request_id, trace_id,
/// response_id, session_id or id found (searched recursively), else the payload itself.
std::string sampling_identity(std::string_view json);

}  // namespace ditto::observe
