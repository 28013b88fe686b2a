#pragma once

// Concurrent identical misses on one replica make one upstream call (docs/caching.md): the
// first becomes the leader, the others wait (bounded) for its entry.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ditto/cache/entry.hpp"

namespace ditto::cache {

/// One miss in progress. Waiters may sit on any worker: the leader wakes each on its own
/// executor.
class flight {
  public:
    /// The leader's entry; null when the leader's answer was not stored (an error, too
    /// large, a client gone), or after `bound`.
    boost::asio::awaitable<std::shared_ptr<const entry>> wait(std::chrono::milliseconds bound);
    /// Once; later calls do nothing.
    void finish(std::shared_ptr<const entry> e);

  private:
    struct waiter;
    // Plain functions: no lock is ever held in a coroutine frame.
    bool add_waiter(const std::shared_ptr<waiter>& w);
    std::shared_ptr<const entry> result();

    std::mutex mu_;
    bool done_ = false;
    std::shared_ptr<const entry> result_;
    std::vector<std::shared_ptr<waiter>> waiters_;
};

class single_flight {
  public:
    /// The leader's side of a flight: finishing it (or dropping it unfinished) ends the
    /// flight for every waiter and lets the next miss lead a new one.
    class lead {
      public:
        lead() = default;
        lead(single_flight* owner, std::string key, std::shared_ptr<flight> f)
            : owner_(owner), key_(std::move(key)), f_(std::move(f)) {}
        lead(lead&& o) noexcept = default;
        lead& operator=(lead&& o) noexcept;
        lead(const lead&) = delete;
        ~lead() { finish(nullptr); }
        void finish(std::shared_ptr<const entry> e);

      private:
        single_flight* owner_ = nullptr;
        std::string key_;
        std::shared_ptr<flight> f_;
    };

    struct ticket {
        std::shared_ptr<flight> follow;  ///< set for a waiter
        lead leader;                     ///< set for the leader
    };
    ticket join(const std::string& key);
    std::size_t in_progress();

  private:
    void leave(const std::string& key, const flight* f);

    std::mutex mu_;
    std::unordered_map<std::string, std::shared_ptr<flight>> flights_;
};

}  // namespace ditto::cache
