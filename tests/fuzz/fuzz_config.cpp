// gateway.json as `ditto-gateway --check-config` and the Admin API read it: parse, `${ENV}`
// expansion, validation, the key/router round trip through serialize.cpp, the dotenv reader,
// the LiteLLM pricing file parser, and the JSON reader under the config (core::json_dom)
// against nlohmann. The same bytes go to every reader: the seeds are real configs and
// pricing files, and each reader must cope with the others' inputs anyway.
//
// Invariants (besides "no crash, no exception"): a resolved secret never shows in a message
// (docs/configuration.md), and the documented round trips hold
// (include/ditto/config/serialize.hpp).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ditto/config/load.hpp"
#include "ditto/config/serialize.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/cost/pricing.hpp"
#include "fuzz_check.hpp"
#include "shared/json_dom_oracle.hpp"

namespace {

namespace config = ditto::config;

// Only reachable through `${FUZZ_SECRET}`, `os.environ/FUZZ_SECRET` or
// `secret://env/FUZZ_SECRET`, so a message holding it leaked a resolved value.
constexpr std::string_view secret = "fuzz-s3cret-7f3a9";

const config::env_lookup& env() {
    static const config::env_lookup e(std::map<std::string, std::string>{
        {"FUZZ_SECRET", std::string(secret)},
        {"DITTO_DEMO_KEY", "vk-demo-123"},
        {"DITTO_MOCK_URL", "http://127.0.0.1:9090/v1"},
        {"BLANK", "  "},
    });
    return e;
}

// The input spelled the secret out itself (percent-encoding included: secret file paths are
// decoded), so a message may quote it.
bool spelled_out(std::string_view input) {
    return input.find(secret) != std::string_view::npos ||
           ditto::core::percent_decode(input).find(secret) != std::string::npos;
}

void check_no_secret(const config::diagnostics& diag, std::string_view input) {
    if (spelled_out(input))
        return;
    for (const auto& m : diag.errors)
        FUZZ_CHECK(m.find(secret) == std::string::npos);
    for (const auto& m : diag.warnings)
        FUZZ_CHECK(m.find(secret) == std::string::npos);
}

bool finite_weights(const config::router_config& r) {
    for (const auto& w : r.default_backends) {
        if (!std::isfinite(w.weight))
            return false;
    }
    for (const auto& rule : r.rules) {
        for (const auto& w : rule.backends) {
            if (!std::isfinite(w.weight))
                return false;
        }
    }
    return true;
}

// What the Admin API and the Redis store rely on: a key or router written by serialize.cpp
// reads back as the same value.
void check_round_trips(const config::gateway_config& cfg) {
    for (const auto& k : cfg.virtual_keys) {
        config::diagnostics d;
        const auto back =
            config::parse_virtual_key_json(config::key_to_json(k, config::token_form::raw), d);
        FUZZ_CHECK(back.has_value());
        FUZZ_CHECK(*back == k);

        config::diagnostics dh;
        const auto hashed =
            config::parse_virtual_key_json(config::key_to_json(k, config::token_form::sha256), dh);
        FUZZ_CHECK(hashed.has_value());
        FUZZ_CHECK(config::token_lookup_key(hashed->token) == config::token_lookup_key(k.token));
    }
    if (finite_weights(cfg.router)) {
        config::diagnostics d;
        const auto back = config::parse_router_json(config::router_to_json(cfg.router), d);
        FUZZ_CHECK(back.has_value());
        FUZZ_CHECK(*back == cfg.router);
    }
}

// The config's JSON reader against nlohmann, the parser it replaced (and which still words
// its syntax errors): same verdict, same values.
void fuzz_json_dom(std::string_view text) {
    FUZZ_CHECK(!ditto::test::json_dom_disagreement(text).has_value());
}

void fuzz_gateway_json(std::string_view text) {
    // The pipeline of load_gateway_file(), minus the file read.
    config::diagnostics diag;
    config::gateway_config cfg = config::parse_gateway_json(text, diag);
    if (!diag.ok())
        return;
    check_round_trips(cfg);
    config::expand_env(cfg, env(), diag);
    check_no_secret(diag, text);
    if (!diag.ok())
        return;
    config::validate(cfg, diag);
    check_no_secret(diag, text);
}

void fuzz_env(std::string_view text) {
    const auto vars = config::parse_dotenv(text);
    for (const auto& [name, value] : vars) {
        FUZZ_CHECK(!name.empty());
        FUZZ_CHECK(!value.empty());
    }
    std::string error;
    const auto expanded = config::expand_value(text, env(), "fuzz", error);
    if (!expanded && !spelled_out(text))
        FUZZ_CHECK(error.find(secret) == std::string::npos);
}

void fuzz_pricing(std::string_view text) {
    std::string error;
    const auto table = ditto::cost::pricing_table::parse(text, error);
    if (!table)
        return;
    // The parser keeps no list of names, so the harness reads them itself to price each model
    // at a few usages, extremes included (the estimate saturates, never wraps).
    const auto root = nlohmann::json::parse(text, nullptr, false);
    FUZZ_CHECK(root.is_object());
    constexpr std::uint64_t max = ~std::uint64_t{0};
    const ditto::cost::token_counts counts[] = {
        {},
        {.input = 1000, .cached = 200, .creation = 100, .output = 500},
        {.input = 10, .cached = 50, .creation = 50, .output = 1},  // cached > input: clamped
        {.input = max, .cached = max, .creation = max, .output = max},
    };
    for (const auto& [model, entry] : root.items()) {
        if (!table->has_model(model))
            continue;
        for (const auto& c : counts) {
            for (std::string_view tier : {"", "priority", "FLEX", "other"}) {
                FUZZ_CHECK(table->estimate_usd_micros(model, c, tier).has_value());
            }
        }
        (void)table->has_creation_rate(model);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    fuzz_json_dom(text);
    fuzz_gateway_json(text);
    fuzz_env(text);
    fuzz_pricing(text);
    return 0;
}
