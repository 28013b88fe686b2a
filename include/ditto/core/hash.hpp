#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ditto::core {

/// FNV-1a 64-bit (offset 0xcbf29ce484222325, prime 0x100000001b3), the hash of weighted routing
/// seeds (docs/routing.md) and sampling (docs/observability.md). Pure function.
constexpr std::uint64_t fnv1a64(std::string_view data) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : data) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

using sha256_digest = std::array<unsigned char, 32>;

/// SHA-256 of `data`. Thread-safe.
sha256_digest sha256(std::string_view data);

/// Lowercase hex SHA-256 of `data`. Thread-safe.
std::string sha256_hex(std::string_view data);

/// SHA-256 over pieces fed one after the other (no concatenated copy of a large body).
/// One instance per computation; not thread-safe.
class sha256_hasher {
  public:
    sha256_hasher();
    ~sha256_hasher();
    sha256_hasher(const sha256_hasher&) = delete;
    sha256_hasher& operator=(const sha256_hasher&) = delete;
    sha256_hasher& update(std::string_view data);
    /// Lowercase hex of everything fed; the hasher is spent afterwards.
    std::string hex();

  private:
    void* ctx_;
};

/// Constant-time equality for secrets: the time depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace ditto::core
