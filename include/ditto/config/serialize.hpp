#pragma once

// Virtual keys and the router as standalone JSON documents in the gateway.json shape
// (docs/configuration.md, "Canonical JSON"), for the Redis store, the state file and the Admin API.
// Writing lives in src/config/serialize.cpp, reading in src/config/parse.cpp next to the
// gateway.json parser so that a stored key means exactly what the same key in gateway.json means.

#include <optional>
#include <string>
#include <string_view>

#include "ditto/config/gateway_config.hpp"
#include "ditto/config/load.hpp"

namespace ditto::config {

/// How key_to_json writes the token.
enum class token_form {
    raw,       ///< the token as stored in memory (Admin upsert echo, config hashes)
    sha256,    ///< `sha256:<64 lowercase hex>` of token_lookup_key(); what persistence stores
    redacted,  ///< the literal `"redacted"` (Admin listings without include_tokens)
};

/// One virtual key as compact canonical JSON (docs/configuration.md): members in declaration order,
/// unset optional scope ids/budgets/limits omitted, `route` always written (`null` when unset),
/// unset values inside limits, budget and cache written as `null`, `guardrails.max_input_tokens`
/// omitted when unset. With token_form::sha256 a token that already is `sha256:<64 hex>` is
/// written unchanged. parse_virtual_key_json() of the result (raw or an already hashed token)
/// compares equal to `k` whenever `k` is something the parser can produce: scope ids trimmed
/// and non-blank. Invalid UTF-8 in strings is replaced by U+FFFD rather than throwing.
std::string key_to_json(const virtual_key_config& k, token_form form);
/// The same text appended to `out` (a config hash writes a million keys into one buffer).
void append_key_json(std::string& out, const virtual_key_config& k, token_form form);

/// The router as compact canonical JSON (docs/configuration.md, "Canonical JSON"):
/// `{"default_backends":[{"backend":..,"weight":..}],"rules":[...]}`. A rule always carries
/// `model_prefix`, `backend` (possibly "") and `backends`; `exact` only when true and
/// `guardrails` only when set. Never writes the legacy `default_backend`. Weights round-trip
/// exactly when finite; JSON has no NaN/Infinity, so a non-finite weight becomes `null`, which
/// reads back as the default 1.0.
std::string router_to_json(const router_config& r);

/// Parses one virtual key document with the gateway.json rules. Paths in messages start with
/// `virtual_key` (`virtual_key.limits.rpm: expected an integer ...`). Invalid JSON or any
/// error → nullopt with the errors in `diag`; unknown fields only add warnings.
std::optional<virtual_key_config> parse_virtual_key_json(std::string_view text, diagnostics& diag);

/// Parses one router document with the gateway.json rules, including the legacy
/// `default_backend` fold (and its warning). Paths start with `router`. Invalid JSON or any
/// error → nullopt with the errors in `diag`.
std::optional<router_config> parse_router_json(std::string_view text, diagnostics& diag);

}  // namespace ditto::config
