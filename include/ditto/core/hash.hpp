#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ditto::core {

/// FNV-1a 64-bit (offset 0xcbf29ce484222325, prime 0x100000001b3), as the SPEC defines it
/// for weighted routing seeds and sampling. Pure function.
constexpr std::uint64_t fnv1a64(std::string_view data) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : data) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/// Lowercase hex SHA-256 of `data`. Thread-safe.
std::string sha256_hex(std::string_view data);

/// Constant-time equality for secrets: the time depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace ditto::core
