#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/config/gateway_config.hpp"
#include "ditto/core/hash.hpp"

namespace ditto::config {

/// Everything found while loading: errors are fatal, warnings are logged.
struct diagnostics {
    std::vector<std::string> errors;
    std::vector<std::string> warnings;
    bool ok() const { return errors.empty(); }
};

/// Parses gateway.json text into structs (docs/configuration.md). Type errors name the JSON path
/// (`backends[2].timeout_seconds: expected a non-negative integer`); all are collected.
/// Unknown fields are ignored with a warning; `mcp_servers`/`a2a_agents` likewise;
/// `provider`/`provider_config` on a backend are errors (translation is out of scope).
gateway_config parse_gateway_json(std::string_view text, diagnostics& diag);

/// Looks up a variable: the dotenv map first, then the process environment, where a blank
/// value counts as unset (docs/configuration.md, "Environment and secrets").
class env_lookup {
  public:
    env_lookup() = default;
    explicit env_lookup(std::map<std::string, std::string> dotenv) : dotenv_(std::move(dotenv)) {}
    std::optional<std::string> get(const std::string& name) const;

  private:
    std::map<std::string, std::string> dotenv_;
};

/// Parses a dotenv file's text (docs/configuration.md): `#` lines and blanks skipped, `export `
/// stripped, split on the first `=`, both sides trimmed, one pair of matching quotes stripped,
/// empty values dropped.
std::map<std::string, std::string> parse_dotenv(std::string_view text);

/// Expands one value: `os.environ/NAME` (whole trimmed value only), `${NAME}` anywhere, then
/// `secret://env/NAME` and `secret://file?path=…`. On failure returns nullopt and sets `error`
/// to the documented message (`missing env var: NAME`, …; docs/configuration.md).
std::optional<std::string> expand_value(std::string_view value, const env_lookup& env,
                                        std::string& error);

/// As above; `label` names the field in secret-resolution errors
/// (`failed to resolve secret for <label>: …`). The 3-argument form uses the label `value`.
std::optional<std::string> expand_value(std::string_view value, const env_lookup& env,
                                        std::string_view label, std::string& error);

/// Expands the fields docs/configuration.md names (base_url, header and query values, tokens) in
/// place; each failure is recorded as `<path>: <message>`, a secret failure as
/// `failed to resolve secret for <path>: <reason>`. Messages never contain values.
void expand_env(gateway_config& cfg, const env_lookup& env, diagnostics& diag);

/// Startup validation with the exact messages, in the order, of docs/configuration.md, "Validation
/// messages". Also checks what we need to build the backends (header names/values, base_url shape).
void validate(const gateway_config& cfg, diagnostics& diag);

/// The token lookup key (docs/configuration.md): `sha256:<64 hex>` stored tokens yield that hex,
/// anything else the sha256_hex of the trimmed token.
std::string token_lookup_key(std::string_view stored_token);
/// The same lookup key as the 32 bytes it spells (what the key index holds).
core::sha256_digest token_lookup_digest(std::string_view stored_token);

/// Reads, parses, expands and validates a config file. Missing file or unreadable → error.
gateway_config load_gateway_file(const std::filesystem::path& path, const env_lookup& env,
                                 diagnostics& diag);

}  // namespace ditto::config
