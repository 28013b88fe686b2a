#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace ditto::metrics {

/// The JSON counters of `GET /metrics` (docs/http-server.md). Lock-free; each counter sits on its
/// own cache line so workers incrementing different counters do not contend.
struct counters {
    struct alignas(64) counter {
        std::atomic<std::uint64_t> value{0};
        void add(std::uint64_t n = 1) noexcept { value.fetch_add(n, std::memory_order_relaxed); }
        std::uint64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
    };
    counter requests;
    counter cache_hits;
    counter rate_limited;
    counter guardrail_blocked;
    counter budget_exceeded;
    counter backend_calls;  ///< upstream attempts

    /// `{"requests":…,"cache_hits":…,…}` in the order docs/http-server.md shows.
    std::string to_json() const;
};

}  // namespace ditto::metrics
