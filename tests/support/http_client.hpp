#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ditto::test {

struct http_response {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  ///< names lowercased
    std::string body;                                          ///< de-chunked
    std::vector<std::string> chunks;  ///< the chunks as received, when chunked
    bool chunked = false;

    /// First value of `name` (lowercase), or "" when absent.
    std::string header(std::string_view name) const;
    bool has_header(std::string_view name) const;
};

/// A blocking HTTP/1.1 client over a raw loopback socket, so tests control every byte
/// (slow clients, pipelining, half-sent bodies). Every read is bounded by a timeout.
class http_connection {
  public:
    /// `receive_buffer` > 0 sets SO_RCVBUF before connecting (a client that reads slowly
    /// pushes back after that many bytes).
    explicit http_connection(int port, int receive_buffer = 0);
    ~http_connection();
    http_connection(const http_connection&) = delete;
    http_connection& operator=(const http_connection&) = delete;

    bool connected() const { return fd_ >= 0; }
    bool send(std::string_view raw);
    /// Reads one response (skipping 1xx). nullopt on timeout, close or malformed input.
    std::optional<http_response> read_response(
        std::chrono::milliseconds timeout = std::chrono::seconds(10), bool head_request = false);
    /// True when the server closes the connection within `timeout` (EOF or reset).
    bool wait_closed(std::chrono::milliseconds timeout);
    /// Closes the connection with a reset (RST) instead of an orderly FIN.
    void reset();

  private:
    bool fill(std::chrono::steady_clock::time_point deadline);
    std::optional<std::string> read_line(std::chrono::steady_clock::time_point deadline);
    bool read_exact(std::size_t n, std::string& out,
                    std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    std::string buf_;
    bool eof_ = false;
};

/// Serialises a request with Host and, when there is a body, Content-Length.
std::string make_request(std::string_view method, std::string_view target,
                         const std::vector<std::pair<std::string, std::string>>& headers = {},
                         std::string_view body = {});

/// One request on a fresh connection.
std::optional<http_response> http_request(
    int port, std::string_view method, std::string_view target, std::string_view body = {},
    const std::vector<std::pair<std::string, std::string>>& headers = {},
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Opens `count` connections, sends `raw_request` on each (so they are in flight together),
/// then reads every answer; the statuses in connection order (0 for a connection that got
/// no answer within `timeout`).
std::vector<int> concurrent_statuses(int port, std::string_view raw_request, int count,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// `count` calls of `one(i)` in flight together, one thread each; their answers in order.
std::vector<std::optional<http_response>> in_parallel(
    int count, const std::function<std::optional<http_response>(int)>& one);

/// How many of `answers` carry header `name` with `value` (a missing answer carries none).
int count_header(const std::vector<std::optional<http_response>>& answers, std::string_view name,
                 std::string_view value);

}  // namespace ditto::test
