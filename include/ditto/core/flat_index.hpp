#pragma once

// An open-addressing hash index over the positions of a caller's array: the set behind the
// virtual key lookup and the duplicate checks of validation. With a million keys,
// std::unordered_map costs an allocation and two cache misses per insert; this costs one
// miss and no allocation. The caller keeps the items and says how to compare two of them.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace ditto::core {

class flat_index {
  public:
    /// Room for `n` items at a load factor of at most one half.
    explicit flat_index(std::size_t n = 0) {
        std::size_t cap = 16;
        while (cap < 2 * n)
            cap *= 2;
        slots_.resize(cap);
        mask_ = cap - 1;
    }

    /// Adds item `i` with hash `h` unless an equal item is there; returns the position of
    /// the item in the index afterwards (`i`, or the earlier equal one). `same(j)` tells
    /// whether item j equals item i.
    template <typename Same>
    std::uint32_t insert(std::uint64_t h, std::uint32_t i, Same&& same) {
        const auto tag = static_cast<std::uint32_t>(h >> 32);
        for (std::size_t pos = h & mask_;; pos = (pos + 1) & mask_) {
            slot& s = slots_[pos];
            if (s.index_plus_1 == 0) {
                s = {tag, i + 1};
                return i;
            }
            if (s.tag == tag && same(s.index_plus_1 - 1))
                return s.index_plus_1 - 1;
        }
    }

    /// The position of the item with hash `h` that `match(j)` accepts, if any.
    template <typename Match>
    std::optional<std::uint32_t> find(std::uint64_t h, Match&& match) const {
        const auto tag = static_cast<std::uint32_t>(h >> 32);
        for (std::size_t pos = h & mask_;; pos = (pos + 1) & mask_) {
            const slot& s = slots_[pos];
            if (s.index_plus_1 == 0)
                return std::nullopt;
            if (s.tag == tag && match(s.index_plus_1 - 1))
                return s.index_plus_1 - 1;
        }
    }

  private:
    struct slot {
        std::uint32_t tag = 0;           ///< the hash's high half: most mismatches end here
        std::uint32_t index_plus_1 = 0;  ///< 0: empty
    };
    std::vector<slot> slots_;
    std::size_t mask_ = 0;
};

}  // namespace ditto::core
