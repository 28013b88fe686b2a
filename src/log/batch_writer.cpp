#include "ditto/log/batch_writer.hpp"

#include <unistd.h>

#include <cerrno>

#include "ditto/log/line_format.hpp"

namespace ditto::log {

batch_writer::batch_writer(options o) : opt_(o) {
    pending_.reserve(opt_.batch_bytes * 2);
    spare_.reserve(opt_.batch_bytes * 2);
    thread_ = std::thread([this] { run(); });
}

batch_writer::~batch_writer() {
    {
        std::lock_guard lk(m_);
        stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
    flush();
}

void batch_writer::append(std::string_view line, bool urgent) {
    bool notify = false;
    {
        std::lock_guard lk(m_);
        if (pending_.size() + line.size() > opt_.max_buffered) {
            ++dropped_;
            return;
        }
        const bool was_below = pending_.size() < opt_.batch_bytes;
        pending_.append(line);
        // One wake-up per batch, not per line: a notify is a futex call when the writer sleeps.
        notify = urgent || (was_below && pending_.size() >= opt_.batch_bytes);
        wake_ = wake_ || notify;
    }
    if (notify)
        cv_.notify_one();
}

std::uint64_t batch_writer::dropped() const {
    std::lock_guard lk(m_);
    return dropped_;
}

void batch_writer::flush() {
    std::lock_guard wl(write_m_);
    {
        std::lock_guard lk(m_);
        spare_.swap(pending_);
        if (dropped_ != dropped_reported_) {
            // Said after the lines that did get through, so a reader sees where the gap was.
            spare_ += "log.dropped: lines dropped because the log writer fell behind: ";
            append_uint(spare_, dropped_ - dropped_reported_);
            spare_ += '\n';
            dropped_reported_ = dropped_;
        }
    }
    write_out(spare_);
}

void batch_writer::run() {
    std::unique_lock lk(m_);
    while (!stop_) {
        cv_.wait_for(lk, opt_.interval, [this] { return stop_ || wake_; });
        wake_ = false;
        if (pending_.empty() && dropped_ == dropped_reported_)
            continue;
        lk.unlock();
        flush();
        lk.lock();
    }
}

void batch_writer::write_out(std::string& batch) {
    std::size_t done = 0;
    while (done < batch.size()) {
        const ssize_t n = ::write(opt_.fd, batch.data() + done, batch.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;  // a closed or broken descriptor: the lines have nowhere to go
        done += static_cast<std::size_t>(n);
    }
    batch.clear();
}

}  // namespace ditto::log
