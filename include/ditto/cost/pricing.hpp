#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ditto::cost {

/// Token usage of one request. `cached` and `creation` are counted inside `input` (OpenAI
/// `prompt_tokens` semantics) and are clamped to it, cached first.
struct token_counts {
    std::uint64_t input = 0;     ///< all prompt tokens, cached and creation ones included
    std::uint64_t cached = 0;    ///< prompt tokens served from the provider's cache
    std::uint64_t creation = 0;  ///< prompt tokens written to the provider's cache
    std::uint64_t output = 0;
};

/// Per-model token prices read from LiteLLM's `model_prices_and_context_window.json`.
/// Rates are held as integer pico-dollars (1e-12 USD) per token, so sub-micro-dollar prices
/// survive. Immutable once built: concurrent const calls are safe.
class pricing_table {
  public:
    /// An empty table: every estimate is nullopt.
    pricing_table() = default;

    /// Parses LiteLLM JSON. On failure returns nullopt and sets `error` (naming the model and
    /// field at fault). Entries with neither an input nor an output token price are skipped,
    /// not rejected; see skipped().
    static std::optional<pricing_table> parse(std::string_view json, std::string& error);

    /// Reads and parses a file; errors name the path.
    static std::optional<pricing_table> load_file(const std::string& path, std::string& error);

    /// Cost of one request in micro-dollars, rounded once (half up) and saturating at
    /// UINT64_MAX; nullopt for an unknown model. Each input token is charged once: cached
    /// ones at the cache-read rate (default: input), creation ones at the creation rate
    /// (default: input), the rest at the input rate. The model name must match exactly.
    /// `service_tier` "priority" or "flex" (any case) selects those rates where the model
    /// has them; any other value means standard pricing. Does not allocate.
    std::optional<std::uint64_t> estimate_usd_micros(std::string_view model,
                                                     const token_counts& counts,
                                                     std::string_view service_tier = {}) const;

    bool has_model(std::string_view model) const;

    /// True when the model prices cache writes (a standard or a context-tier rate).
    bool has_creation_rate(std::string_view model) const;

    /// Number of priced models.
    std::size_t size() const noexcept { return models_.size(); }

    /// Names of the entries left out for having no token price, in name order.
    const std::vector<std::string>& skipped() const noexcept { return skipped_; }

  private:
    // Index order of the rate kinds in model_rates; the variants exist only for the first three.
    static constexpr std::size_t kInput = 0;
    static constexpr std::size_t kOutput = 1;
    static constexpr std::size_t kCacheRead = 2;
    static constexpr std::size_t kCacheCreation = 3;
    static constexpr std::size_t kKinds = 4;
    static constexpr std::size_t kVariantKinds = 3;

    struct context_tier {
        std::uint64_t above = 0;  ///< applies when input tokens > above
        std::uint64_t rate = 0;   ///< pico-dollars per token
    };

    struct model_rates {
        std::array<std::optional<std::uint64_t>, kKinds> standard;
        std::array<std::optional<std::uint64_t>, kVariantKinds> priority;
        std::array<std::optional<std::uint64_t>, kVariantKinds> flex;
        std::array<std::vector<context_tier>, kKinds> tiers;  ///< by `above`, largest first
    };

    struct name_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    friend struct pricing_parser;

    std::unordered_map<std::string, model_rates, name_hash, std::equal_to<>> models_;
    std::vector<std::string> skipped_;
};

}  // namespace ditto::cost
