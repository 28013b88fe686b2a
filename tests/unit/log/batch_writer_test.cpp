// The batched log writer over a real pipe: order, batching, urgency, dropping when full.
#include "ditto/log/batch_writer.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace ditto::log {
namespace {

using namespace std::chrono_literals;

struct pipe_pair {
    int r = -1, w = -1;
    pipe_pair() {
        int fds[2];
        EXPECT_EQ(::pipe(fds), 0);
        r = fds[0];
        w = fds[1];
        ::fcntl(r, F_SETFL, O_NONBLOCK);
    }
    ~pipe_pair() {
        ::close(r);
        ::close(w);
    }
    // Everything readable until `n` bytes arrived or `limit` passed.
    std::string read_until(std::size_t n, std::chrono::milliseconds limit) {
        std::string got;
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (got.size() < n) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                break;
            pollfd p{r, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                break;
            char buf[65536];
            const ssize_t k = ::read(r, buf, sizeof buf);
            if (k > 0)
                got.append(buf, static_cast<std::size_t>(k));
        }
        return got;
    }
};

TEST(LogBatchWriter, LinesArriveWholeAndInOrderOnFlush) {
    pipe_pair p;
    std::string expected;
    {
        batch_writer w({p.w, 64 * 1024, 1024 * 1024, std::chrono::hours(1)});
        for (int i = 0; i < 100; ++i) {
            const std::string line = "line " + std::to_string(i) + "\n";
            w.append(line, false);
            expected += line;
        }
        w.flush();
        EXPECT_EQ(p.read_until(expected.size(), 5s), expected);
    }
}

TEST(LogBatchWriter, TheIntervalWritesWithoutAFlush) {
    pipe_pair p;
    batch_writer w({p.w, 64 * 1024, 1024 * 1024, 20ms});
    w.append("quiet line\n", false);
    EXPECT_EQ(p.read_until(11, 5s), "quiet line\n");
}

TEST(LogBatchWriter, AWarningWakesTheWriterAtOnce) {
    pipe_pair p;
    batch_writer w({p.w, 64 * 1024, 1024 * 1024, std::chrono::hours(1)});
    w.append("info first\n", false);
    w.append("warning next\n", true);
    EXPECT_EQ(p.read_until(24, 5s), "info first\nwarning next\n");
}

TEST(LogBatchWriter, AFullBatchWakesTheWriter) {
    pipe_pair p;
    batch_writer w({p.w, 100, 1024 * 1024, std::chrono::hours(1)});
    const std::string line(60, 'a');
    w.append(line + "\n", false);
    w.append(line + "\n", false);  // past 100 bytes
    EXPECT_EQ(p.read_until(122, 5s).size(), 122u);
}

TEST(LogBatchWriter, LinesPastTheCapAreDroppedAndCounted) {
    pipe_pair p;
    std::string kept;
    {
        // Nothing is written before flush: the interval is an hour and no batch fills.
        batch_writer w({p.w, 1024 * 1024, 1000, std::chrono::hours(1)});
        const std::string line(99, 'b');
        for (int i = 0; i < 25; ++i)
            w.append(line + "\n", false);
        EXPECT_EQ(w.dropped(), 15u);
        w.flush();
        for (int i = 0; i < 10; ++i)
            kept += line + "\n";
    }
    const std::string note = "log.dropped: lines dropped because the log writer fell behind: 15\n";
    EXPECT_EQ(p.read_until(kept.size() + note.size(), 5s), kept + note);
}

}  // namespace
}  // namespace ditto::log
