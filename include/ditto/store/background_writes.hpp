#pragma once

// Store writes that run on the background executor after their request: a write retried after
// an outage, the settlement of a request a worker left unfinished. The shutdown lets them
// finish, within its grace, before it closes the store for good (src/app/run.cpp); each holds
// a background_write while it is queued or running.

#include <atomic>
#include <cstdint>

namespace ditto::store {

/// How many are queued or running, process-wide.
inline std::atomic<std::int64_t> background_writes{0};

/// Counts one from its construction (before the work is spawned, so that a shutdown never
/// sees zero while one is on its way) to its destruction. Movable, so that a coroutine can own it.
class background_write {
  public:
    background_write() noexcept { background_writes.fetch_add(1, std::memory_order_relaxed); }
    ~background_write() {
        if (armed_)
            background_writes.fetch_sub(1, std::memory_order_release);
    }
    background_write(background_write&& other) noexcept : armed_(other.armed_) {
        other.armed_ = false;
    }
    background_write(const background_write&) = delete;
    background_write& operator=(const background_write&) = delete;
    background_write& operator=(background_write&&) = delete;

  private:
    bool armed_ = true;
};

}  // namespace ditto::store
