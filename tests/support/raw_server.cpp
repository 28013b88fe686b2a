#include "support/raw_server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <stdexcept>

namespace ditto::test {

raw_server::raw_server(handler h) : handler_(std::move(h)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0)
        throw std::runtime_error("socket() failed");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_, 128) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(listen_fd_);
        throw std::runtime_error("raw_server: cannot listen on loopback");
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

raw_server::~raw_server() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
    {
        // Wakes every handler still blocked on its connection.
        std::lock_guard lock(mu_);
        for (auto& c : conns_) {
            if (c.fd >= 0)
                ::shutdown(c.fd, SHUT_RDWR);
        }
    }
    for (auto& c : conns_)
        c.thread.join();
}

void raw_server::reap_finished() {
    std::lock_guard lock(mu_);
    for (auto it = conns_.begin(); it != conns_.end();) {
        if (it->done) {
            it->thread.join();
            it = conns_.erase(it);
        } else {
            ++it;
        }
    }
}

void raw_server::accept_loop() {
    while (!stop_) {
        const int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) {
            if (stop_)
                return;
            continue;
        }
        ++connections_;
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        reap_finished();
        std::lock_guard lock(mu_);
        auto& c = conns_.emplace_back();
        c.fd = fd;
        c.thread = std::thread([this, &c] {
            handler_(c.fd);
            std::lock_guard done_lock(mu_);
            ::close(c.fd);
            c.fd = -1;
            c.done = true;
        });
    }
}

std::optional<std::string> read_request(int fd, std::string& buf, std::chrono::milliseconds timeout,
                                        std::string* body_out) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto fill = [&] {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
            return false;
        char tmp[16384];
        const auto n = ::recv(fd, tmp, sizeof(tmp), 0);
        if (n <= 0)
            return false;
        buf.append(tmp, static_cast<std::size_t>(n));
        return true;
    };
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (!fill())
            return std::nullopt;
    }
    std::string head = buf.substr(0, end + 2);
    std::string lower = head;
    for (auto& ch : lower)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::size_t body = 0;
    if (auto at = lower.find("\r\ncontent-length:"); at != std::string::npos)
        body = std::stoul(lower.substr(at + 17));
    while (buf.size() < end + 4 + body) {
        if (!fill())
            return std::nullopt;
    }
    if (body_out)
        *body_out = buf.substr(end + 4, body);
    buf.erase(0, end + 4 + body);
    return head;
}

bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

void reset_on_close(int fd) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

void wait_peer_closed(int fd, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char sink[4096];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) < 0)
            return;
        if (p.revents != 0 && ::recv(fd, sink, sizeof(sink), 0) <= 0)
            return;
    }
}

}  // namespace ditto::test
