#pragma once

// Counter arithmetic that clamps instead of wrapping: a budget or a limit counter must never
// wrap around to a small number.

#include <cstdint>
#include <limits>

namespace ditto::core {

inline constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

constexpr std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t r = 0;
    return __builtin_add_overflow(a, b, &r) ? u64_max : r;
}

constexpr std::uint64_t sat_mul(std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t r = 0;
    return __builtin_mul_overflow(a, b, &r) ? u64_max : r;
}

/// a − b, or 0 when b > a.
constexpr std::uint64_t sub_floor0(std::uint64_t a, std::uint64_t b) noexcept {
    return a > b ? a - b : 0;
}

}  // namespace ditto::core
