#include "ditto/cost/pricing.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

namespace ditto::cost {

namespace {

using json = nlohmann::json;

__extension__ typedef unsigned __int128 u128;

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
// 2^64 is exactly representable as a double, UINT64_MAX is not: compare against this bound.
constexpr double kTwoPow64 = 18446744073709551616.0;
constexpr double kPicoPerUsd = 1e12;
constexpr std::uint64_t kPicoPerMicro = 1'000'000;

enum class variant { standard, priority, flex };

struct field_spec {
    std::string_view name;
    std::size_t kind;
    variant var;
    bool per_1k;
};

// pricing_table keeps its kind indices private; pricing_parser static_asserts these match.
constexpr std::size_t kIn = 0;
constexpr std::size_t kOut = 1;
constexpr std::size_t kRead = 2;
constexpr std::size_t kCreate = 3;

constexpr std::array<field_spec, 12> kFields{{
    {"input_cost_per_token", kIn, variant::standard, false},
    {"input_cost_per_1k_tokens", kIn, variant::standard, true},
    {"output_cost_per_token", kOut, variant::standard, false},
    {"output_cost_per_1k_tokens", kOut, variant::standard, true},
    {"cache_read_input_token_cost", kRead, variant::standard, false},
    {"cache_creation_input_token_cost", kCreate, variant::standard, false},
    {"input_cost_per_token_priority", kIn, variant::priority, false},
    {"output_cost_per_token_priority", kOut, variant::priority, false},
    {"cache_read_input_token_cost_priority", kRead, variant::priority, false},
    {"input_cost_per_token_flex", kIn, variant::flex, false},
    {"output_cost_per_token_flex", kOut, variant::flex, false},
    {"cache_read_input_token_cost_flex", kRead, variant::flex, false},
}};

struct tier_prefix {
    std::string_view prefix;
    std::size_t kind;
};

constexpr std::array<tier_prefix, 4> kTierPrefixes{{
    {"input_cost_per_token_above_", kIn},
    {"output_cost_per_token_above_", kOut},
    {"cache_read_input_token_cost_above_", kRead},
    {"cache_creation_input_token_cost_above_", kCreate},
}};

constexpr std::string_view kTierSuffix = "_tokens";

bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

std::string in_quotes(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    out += s;
    out += '"';
    return out;
}

std::string field_error(std::string_view model, std::string_view field, std::string_view what) {
    return "entry " + in_quotes(model) + " field " + in_quotes(field) + " " + std::string(what);
}

// Converts a USD price to pico-dollars per token. Rounding happens here once per rate rather
// than per request, so a price like 1.5e-7 USD keeps its exact 150000 p$.
bool to_pico(const json& value, bool per_1k, std::string_view model, std::string_view field,
             std::uint64_t& out, std::string& error) {
    if (!value.is_number()) {
        error = field_error(model, field, "is not a number");
        return false;
    }
    const double usd = value.get<double>();
    if (!std::isfinite(usd)) {
        error = field_error(model, field, "is not finite");
        return false;
    }
    if (usd < 0) {
        error = field_error(model, field, "is negative");
        return false;
    }
    // One multiplication instead of dividing by 1000 first keeps a single rounding step.
    const double pico = std::round(usd * (per_1k ? kPicoPerUsd / 1000.0 : kPicoPerUsd));
    if (!(pico < kTwoPow64)) {
        error = field_error(model, field, "is too large");
        return false;
    }
    out = static_cast<std::uint64_t>(pico);
    return true;
}

// Parses "<digits>[k]" exactly; false for anything else (the field is then not a tier).
// `overflow` reports a well-formed threshold that does not fit in 64 bits.
bool parse_threshold(std::string_view s, std::uint64_t& out, bool& overflow) {
    overflow = false;
    std::uint64_t multiplier = 1;
    if (!s.empty() && s.back() == 'k') {
        multiplier = 1000;
        s.remove_suffix(1);
    }
    if (s.empty()) {
        return false;
    }
    std::uint64_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (n > (kU64Max - digit) / 10) {
            overflow = true;
        } else {
            n = n * 10 + digit;
        }
    }
    if (!overflow && n > kU64Max / multiplier) {
        overflow = true;
    }
    out = n * multiplier;
    return true;
}

u128 mul(std::uint64_t a, std::uint64_t b) noexcept {
    return static_cast<u128>(a) * b;
}

// A u128 product of two u64 cannot overflow, but the sum of several can.
u128 add_sat(u128 a, u128 b) noexcept {
    const u128 sum = a + b;
    return sum < a ? ~u128{0} : sum;
}

}  // namespace

struct pricing_parser {
    using rates = pricing_table::model_rates;
    using tier = pricing_table::context_tier;

    static_assert(pricing_table::kInput == kIn && pricing_table::kOutput == kOut &&
                  pricing_table::kCacheRead == kRead && pricing_table::kCacheCreation == kCreate);

    // Fills `r` from one LiteLLM entry. Returns false with `error` set on a bad field.
    static bool parse_entry(std::string_view model, const json& entry, rates& r,
                            std::string& error) {
        std::array<std::optional<std::uint64_t>, 2> per_1k;  // indexed by kIn, kOut
        for (const auto& [key, value] : entry.items()) {
            const std::string_view name = key;
            if (const field_spec* spec = find_field(name)) {
                std::uint64_t pico = 0;
                if (!to_pico(value, spec->per_1k, model, name, pico, error)) {
                    return false;
                }
                if (spec->per_1k) {
                    per_1k[spec->kind] = pico;
                } else if (spec->var == variant::priority) {
                    r.priority[spec->kind] = pico;
                } else if (spec->var == variant::flex) {
                    r.flex[spec->kind] = pico;
                } else {
                    r.standard[spec->kind] = pico;
                }
                continue;
            }
            if (!parse_tier_field(model, name, value, r, error)) {
                return false;
            }
        }
        // The per-token spelling is the more precise one, so it wins when both are present.
        for (std::size_t k = 0; k < per_1k.size(); ++k) {
            if (!r.standard[k] && per_1k[k]) {
                r.standard[k] = per_1k[k];
            }
        }
        for (auto& tiers : r.tiers) {
            std::sort(tiers.begin(), tiers.end(),
                      [](const tier& a, const tier& b) { return a.above > b.above; });
        }
        return true;
    }

    static const field_spec* find_field(std::string_view name) noexcept {
        for (const auto& f : kFields) {
            if (f.name == name) {
                return &f;
            }
        }
        return nullptr;
    }

    // Handles "<kind>_above_<N>[k]_tokens"; any other name is ignored (returns true).
    static bool parse_tier_field(std::string_view model, std::string_view name, const json& value,
                                 rates& r, std::string& error) {
        for (const auto& p : kTierPrefixes) {
            if (!name.starts_with(p.prefix) || !name.ends_with(kTierSuffix) ||
                name.size() < p.prefix.size() + kTierSuffix.size()) {
                continue;
            }
            std::string_view middle = name.substr(p.prefix.size());
            middle.remove_suffix(kTierSuffix.size());
            std::uint64_t above = 0;
            bool overflow = false;
            if (!parse_threshold(middle, above, overflow)) {
                return true;  // e.g. "..._above_1hr_tokens" is a different LiteLLM field
            }
            if (overflow) {
                error = field_error(model, name, "has a threshold that is too large");
                return false;
            }
            std::uint64_t pico = 0;
            if (!to_pico(value, false, model, name, pico, error)) {
                return false;
            }
            auto& tiers = r.tiers[p.kind];
            // "above_128k" and "above_128000" would be two prices for one threshold.
            for (const auto& t : tiers) {
                if (t.above == above) {
                    error = field_error(model, name, "repeats a context threshold");
                    return false;
                }
            }
            tiers.push_back({above, pico});
            return true;
        }
        return true;
    }

    static std::optional<pricing_table> parse(std::string_view text, std::string& error) {
        json root;
        try {
            root = json::parse(text.begin(), text.end());
        } catch (const json::exception& e) {
            error = std::string("invalid JSON: ") + e.what();
            return std::nullopt;
        }
        if (!root.is_object()) {
            error = "root is not a JSON object";
            return std::nullopt;
        }
        pricing_table table;
        table.models_.reserve(root.size());
        for (const auto& [model, entry] : root.items()) {
            if (!entry.is_object()) {
                error = "entry " + in_quotes(model) + " is not an object";
                return std::nullopt;
            }
            rates r;
            if (!parse_entry(model, entry, r, error)) {
                return std::nullopt;
            }
            // Image, audio and similar entries are priced per pixel, second, ...: nothing a
            // token count can estimate, and the real file has many of them.
            if (!r.standard[pricing_table::kInput] && !r.standard[pricing_table::kOutput]) {
                table.skipped_.push_back(model);
                continue;
            }
            table.models_.insert_or_assign(model, std::move(r));
        }
        return table;
    }
};

std::optional<pricing_table> pricing_table::parse(std::string_view json_text, std::string& error) {
    std::string why;
    auto table = pricing_parser::parse(json_text, why);
    if (!table) {
        error = "pricing: " + why;
    }
    return table;
}

std::optional<pricing_table> pricing_table::load_file(const std::string& path, std::string& error) {
    // stdio rather than ifstream: libstdc++ throws from a filebuf read error (e.g. a directory),
    // and this function reports problems through `error` only.
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                               &std::fclose);
    if (!file) {
        error = "pricing: cannot open " + in_quotes(path) + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::string text;
    std::array<char, 65536> buf;
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), file.get())) > 0) {
        text.append(buf.data(), n);
    }
    if (std::ferror(file.get())) {
        error = "pricing: cannot read " + in_quotes(path) + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::string why;
    auto table = pricing_parser::parse(text, why);
    if (!table) {
        error = "pricing: " + in_quotes(path) + ": " + why;
    }
    return table;
}

std::optional<std::uint64_t> pricing_table::estimate_usd_micros(
    std::string_view model, const token_counts& counts, std::string_view service_tier) const {
    const auto it = models_.find(model);
    if (it == models_.end()) {
        return std::nullopt;
    }
    const model_rates& r = it->second;

    const std::array<std::optional<std::uint64_t>, kVariantKinds>* variant_rates = nullptr;
    if (iequals_ascii(service_tier, "priority")) {
        variant_rates = &r.priority;
    } else if (iequals_ascii(service_tier, "flex")) {
        variant_rates = &r.flex;
    }

    auto pick = [&](std::size_t kind) -> std::optional<std::uint64_t> {
        if (variant_rates != nullptr && kind < kVariantKinds && (*variant_rates)[kind]) {
            return (*variant_rates)[kind];
        }
        // Sorted largest threshold first, so the first one exceeded is the one that applies.
        for (const auto& t : r.tiers[kind]) {
            if (counts.input > t.above) {
                return t.rate;
            }
        }
        return r.standard[kind];
    };

    const std::uint64_t in_rate = pick(kInput).value_or(0);
    const std::uint64_t out_rate = pick(kOutput).value_or(0);
    const std::uint64_t read_rate = pick(kCacheRead).value_or(in_rate);
    const std::optional<std::uint64_t> creation_rate = pick(kCacheCreation);

    // Each input token is charged once, at its own rate (docs/governance.md, "Formula"): the
    // original (LiteLLM #9812) also charged creation tokens the input rate. Cached and
    // creation tokens are counted inside `input`, so they are clamped to what is left of it.
    const std::uint64_t cached = std::min(counts.cached, counts.input);
    const std::uint64_t creation = std::min(counts.creation, counts.input - cached);
    const std::uint64_t plain = counts.input - cached - creation;
    u128 pico = mul(plain, in_rate);
    pico = add_sat(pico, mul(cached, read_rate));
    pico = add_sat(pico, mul(creation, creation_rate.value_or(in_rate)));
    pico = add_sat(pico, mul(counts.output, out_rate));

    // Division first so the half-up rounding cannot overflow near the saturated value.
    u128 micros = pico / kPicoPerMicro;
    if (pico % kPicoPerMicro >= kPicoPerMicro / 2) {
        ++micros;
    }
    if (micros > kU64Max) {
        return kU64Max;
    }
    return static_cast<std::uint64_t>(micros);
}

bool pricing_table::has_model(std::string_view model) const {
    return models_.find(model) != models_.end();
}

bool pricing_table::has_creation_rate(std::string_view model) const {
    const auto it = models_.find(model);
    if (it == models_.end()) {
        return false;
    }
    return it->second.standard[kCacheCreation].has_value() ||
           !it->second.tiers[kCacheCreation].empty();
}

}  // namespace ditto::cost
