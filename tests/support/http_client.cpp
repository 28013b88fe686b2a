#include "support/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <thread>

namespace ditto::test {
namespace {

std::string lower(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

std::string http_response::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k == name)
            return v;
    }
    return "";
}

bool http_response::has_header(std::string_view name) const {
    for (const auto& kv : headers) {
        if (kv.first == name)
            return true;
    }
    return false;
}

http_connection::http_connection(int port, int receive_buffer) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0)
        return;
    if (receive_buffer > 0)
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        ::close(fd_);
        fd_ = -1;
        return;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

http_connection::~http_connection() {
    if (fd_ >= 0)
        ::close(fd_);
}

bool http_connection::send(std::string_view raw) {
    while (!raw.empty()) {
        auto n = ::send(fd_, raw.data(), raw.size(), MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        raw.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

bool http_connection::fill(std::chrono::steady_clock::time_point deadline) {
    if (eof_ || fd_ < 0)
        return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0)
        return false;
    char tmp[16384];
    auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
        eof_ = true;
        return false;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
}

std::optional<std::string> http_connection::read_line(
    std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        auto pos = buf_.find("\r\n");
        if (pos != std::string::npos) {
            std::string line = buf_.substr(0, pos);
            buf_.erase(0, pos + 2);
            return line;
        }
        if (!fill(deadline))
            return std::nullopt;
    }
}

bool http_connection::read_exact(std::size_t n, std::string& out,
                                 std::chrono::steady_clock::time_point deadline) {
    while (buf_.size() < n) {
        if (!fill(deadline))
            return false;
    }
    out.append(buf_, 0, n);
    buf_.erase(0, n);
    return true;
}

std::optional<http_response> http_connection::read_response(std::chrono::milliseconds timeout,
                                                            bool head_request) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        http_response r;
        auto status_line = read_line(deadline);
        if (!status_line || status_line->size() < 12 || status_line->rfind("HTTP/1.", 0) != 0) {
            return std::nullopt;
        }
        r.status = std::stoi(status_line->substr(9, 3));
        for (;;) {
            auto line = read_line(deadline);
            if (!line)
                return std::nullopt;
            if (line->empty())
                break;
            auto colon = line->find(':');
            if (colon == std::string::npos)
                return std::nullopt;
            std::string value = line->substr(colon + 1);
            while (!value.empty() && value.front() == ' ')
                value.erase(0, 1);
            while (!value.empty() && value.back() == ' ')
                value.pop_back();
            r.headers.emplace_back(lower(line->substr(0, colon)), value);
        }
        if (r.status >= 100 && r.status < 200)
            continue;
        if (head_request || r.status == 204 || r.status == 304)
            return r;
        if (lower(r.header("transfer-encoding")).find("chunked") != std::string::npos) {
            r.chunked = true;
            for (;;) {
                auto size_line = read_line(deadline);
                if (!size_line)
                    return std::nullopt;
                std::size_t size = std::stoul(*size_line, nullptr, 16);
                if (size == 0) {
                    // Trailers (none expected) end with an empty line.
                    while (true) {
                        auto t = read_line(deadline);
                        if (!t)
                            return std::nullopt;
                        if (t->empty())
                            break;
                    }
                    return r;
                }
                std::string chunk;
                if (!read_exact(size, chunk, deadline))
                    return std::nullopt;
                std::string crlf;
                if (!read_exact(2, crlf, deadline) || crlf != "\r\n")
                    return std::nullopt;
                r.body += chunk;
                r.chunks.push_back(std::move(chunk));
            }
        }
        if (r.has_header("content-length")) {
            if (!read_exact(std::stoul(r.header("content-length")), r.body, deadline)) {
                return std::nullopt;
            }
            return r;
        }
        while (fill(deadline)) {
        }
        if (!eof_)
            return std::nullopt;
        r.body = std::move(buf_);
        buf_.clear();
        return r;
    }
}

bool http_connection::wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_) {
        if (!fill(deadline) && !eof_)
            return false;
    }
    return true;
}

void http_connection::reset() {
    if (fd_ < 0)
        return;
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    ::close(fd_);
    fd_ = -1;
}

std::string make_request(std::string_view method, std::string_view target,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         std::string_view body) {
    std::string r;
    r.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    bool has_length = false;
    for (const auto& [k, v] : headers) {
        r.append(k).append(": ").append(v).append("\r\n");
        if (lower(k) == "content-length" || lower(k) == "transfer-encoding")
            has_length = true;
    }
    if (!body.empty() && !has_length) {
        r.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    }
    r.append("\r\n").append(body);
    return r;
}

std::optional<http_response> http_request(
    int port, std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::chrono::milliseconds timeout) {
    http_connection c(port);
    if (!c.connected())
        return std::nullopt;
    if (!c.send(make_request(method, target, headers, body)))
        return std::nullopt;
    return c.read_response(timeout, method == "HEAD");
}

std::vector<int> concurrent_statuses(int port, std::string_view raw_request, int count,
                                     std::chrono::milliseconds timeout) {
    std::vector<std::unique_ptr<http_connection>> conns;
    for (int i = 0; i < count; ++i)
        conns.push_back(std::make_unique<http_connection>(port));
    for (auto& c : conns) {
        if (c->connected())
            c->send(raw_request);
    }
    std::vector<int> out;
    for (auto& c : conns) {
        auto r = c->connected() ? c->read_response(timeout) : std::nullopt;
        out.push_back(r ? r->status : 0);
    }
    return out;
}

std::vector<std::optional<http_response>> in_parallel(
    int count, const std::function<std::optional<http_response>(int)>& one) {
    std::vector<std::optional<http_response>> answers(static_cast<std::size_t>(count));
    std::vector<std::thread> threads;
    for (int i = 0; i < count; ++i)
        threads.emplace_back(
            [&answers, &one, i] { answers[static_cast<std::size_t>(i)] = one(i); });
    for (auto& t : threads)
        t.join();
    return answers;
}

int count_header(const std::vector<std::optional<http_response>>& answers, std::string_view name,
                 std::string_view value) {
    int n = 0;
    for (const auto& a : answers)
        n += a && a->header(name) == value;
    return n;
}

}  // namespace ditto::test
