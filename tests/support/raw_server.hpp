#pragma once

// A loopback TCP server run by the test itself, for peers that misbehave in ways
// ditto-mock-upstream cannot: every byte, reset, half-close and stall is the test's to choose.

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace ditto::test {

class raw_server {
  public:
    /// Runs on its own thread for each accepted connection. The server owns `fd`: it closes
    /// it when the handler returns (with a reset when the handler called reset_on_close) and
    /// shuts it down when the server stops, so a handler blocked on it returns.
    using handler = std::function<void(int fd)>;

    explicit raw_server(handler h);
    ~raw_server();
    raw_server(const raw_server&) = delete;
    raw_server& operator=(const raw_server&) = delete;

    int port() const { return port_; }
    /// Connections accepted so far.
    int connections() const { return connections_.load(); }

  private:
    struct conn {
        int fd;
        std::thread thread;
        std::atomic<bool> done{false};
    };
    void accept_loop();
    void reap_finished();

    handler handler_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::mutex mu_;
    std::list<conn> conns_;
    std::thread acceptor_;
};

/// Reads one HTTP request (head, then a Content-Length body) from `fd`; bytes past it stay in
/// `buf` for the next call. The head (up to the blank line), or nullopt on EOF, error or
/// `timeout`. The body goes to `body` when given.
std::optional<std::string> read_request(int fd, std::string& buf,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                        std::string* body = nullptr);
/// Writes all of `data`; false when the peer is gone.
bool send_all(int fd, std::string_view data);
/// Makes the coming close a reset (RST) instead of an orderly FIN.
void reset_on_close(int fd);
/// Blocks until the peer closes (or resets) the connection, `limit` passes, or the server
/// stops; whatever the peer sends meanwhile is discarded.
void wait_peer_closed(int fd, std::chrono::milliseconds limit = std::chrono::seconds(30));

}  // namespace ditto::test
