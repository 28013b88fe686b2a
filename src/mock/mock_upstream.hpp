#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <string>

#include "ditto/http/message.hpp"

namespace ditto::mock {

/// An OpenAI-compatible upstream for tests, the demo and benchmarks (docs/mock-upstream.md).
/// Deterministic answers; faults chosen per request by `x-mock-*` headers; every request it
/// receives is recorded for `GET /__mock/requests`. Thread-safe.
class mock_upstream final : public http::handler {
  public:
    /// `chat_only`: 404 on the Responses and Messages APIs, like an upstream that only speaks
    /// chat completions, so the gateway's dialect translations are what answers them.
    explicit mock_upstream(bool chat_only = false) : chat_only_(chat_only) {}

    boost::asio::awaitable<http::response> handle(http::request& req, http::body_reader& body,
                                                  const http::request_info& info) override;
    std::string reject_body(http::reject_reason reason, std::string_view target) override;

  private:
    void record(const http::request& req, std::uint64_t body_bytes);
    std::string recorded_json();

    const bool chat_only_;
    std::mutex mutex_;
    std::deque<std::string> recorded_;  ///< JSON objects, oldest first
    std::uint64_t seq_ = 0;
    std::atomic<std::uint64_t> aborted_{0};
};

}  // namespace ditto::mock
