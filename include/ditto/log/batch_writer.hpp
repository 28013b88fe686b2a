#pragma once

// The one writer of log lines to a file descriptor (docs/observability.md "Log lines").
// Producers append whole lines to a shared buffer under a mutex (a copy, no allocation once the
// buffer has grown); a background thread writes the buffer with one write(2) per batch, when it
// passes `batch_bytes`, when a warning or error arrives, or every `interval`. A producer never
// waits on the file: past `max_buffered` bytes lines are dropped, counted, and the count is
// written as a line of its own once the writer catches up.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace ditto::log {

class batch_writer {
  public:
    struct options {
        int fd = 2;
        std::size_t batch_bytes = 64 * 1024;
        std::size_t max_buffered = 8 * 1024 * 1024;
        std::chrono::milliseconds interval{50};
    };
    /// Starts the background thread.
    explicit batch_writer(options o);
    /// Writes what is buffered, then joins the thread.
    ~batch_writer();
    batch_writer(const batch_writer&) = delete;
    batch_writer& operator=(const batch_writer&) = delete;

    /// Appends one line (with its '\n'). `urgent` (warnings, errors) wakes the writer now.
    void append(std::string_view line, bool urgent);
    /// Writes everything appended before the call, on the caller's thread.
    void flush();
    /// Lines dropped so far because the buffer was full.
    std::uint64_t dropped() const;

  private:
    void run();
    void write_out(std::string& batch);

    const options opt_;
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::string pending_;  ///< guarded by m_
    std::uint64_t dropped_ = 0, dropped_reported_ = 0;
    bool stop_ = false, wake_ = false;
    std::mutex write_m_;  ///< one write(2) stream at a time: the thread's and flush()'s
    std::string spare_;   ///< guarded by write_m_: the buffer swapped out to be written
    std::thread thread_;
};

}  // namespace ditto::log
