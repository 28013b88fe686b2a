#pragma once

// A budget period's ledger is named `<scope>@<start>-<end>` (unix seconds of the period's
// bounds, docs/governance.md, "Budget periods"): the interval itself is the name, so two
// periods are one ledger exactly when they cover the same time, whatever the time zone.

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ditto::store {

struct period_scope {
    std::string_view scope;  ///< the scope the budget belongs to (`key-1`, `tenant:t`, …)
    std::int64_t start = 0;
    std::int64_t end = 0;
};

inline std::string period_scope_id(std::string_view scope, std::int64_t start, std::int64_t end) {
    std::string out;
    out.reserve(scope.size() + 24);
    out.append(scope)
        .append("@")
        .append(std::to_string(start))
        .append("-")
        .append(std::to_string(end));
    return out;
}

/// The parts of a period ledger's id; nullopt for any other scope id (one that merely holds an
/// `@`, such as `user:alice@example.com`, is not a period's).
inline std::optional<period_scope> split_period_scope(std::string_view id) {
    const auto at = id.rfind('@');
    if (at == std::string_view::npos)
        return std::nullopt;
    const auto rest = id.substr(at + 1);
    const auto dash = rest.find('-');
    if (dash == std::string_view::npos || dash == 0 || dash + 1 == rest.size())
        return std::nullopt;
    period_scope out{id.substr(0, at)};
    const auto a = std::from_chars(rest.data(), rest.data() + dash, out.start);
    const auto b = std::from_chars(rest.data() + dash + 1, rest.data() + rest.size(), out.end);
    if (a.ec != std::errc{} || a.ptr != rest.data() + dash || b.ec != std::errc{} ||
        b.ptr != rest.data() + rest.size() || out.end <= out.start)
        return std::nullopt;
    return out;
}

}  // namespace ditto::store
