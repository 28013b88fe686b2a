#pragma once

// Clients sending one request back to back until stopped, each answer kept with its status,
// body and duration: the fault suites run a fault under it and then check every answer.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ditto::test {

struct answer {
    int status = 0;  ///< 0: no answer within the client's 10 s
    std::string body;
    std::chrono::milliseconds took{};
};

/// The answers of a fault run by kind: 200, 503 store_unavailable (budgets failing closed),
/// none within 10 s, anything else (each of those also reported as a test failure).
struct tally {
    std::uint64_t ok = 0;
    std::uint64_t unavailable = 0;
    std::uint64_t unanswered = 0;
    std::uint64_t other = 0;
    std::chrono::milliseconds slowest_ok{};
    std::chrono::milliseconds slowest_503{};
};
tally count_answers(const std::vector<answer>& answers, const std::string& what);

class load {
  public:
    /// `clients` threads POSTing `body` to /v1/chat/completions with `token`, spread over
    /// `ports` (client i on ports[i % size]).
    load(std::vector<int> ports, int clients, std::string token, std::string body);
    ~load() { finish(); }
    load(const load&) = delete;
    load& operator=(const load&) = delete;
    /// Stops the clients (each finishes its request) and returns every answer.
    std::vector<answer> finish();

  private:
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::vector<answer> answers_;
    std::vector<std::thread> threads_;
};

}  // namespace ditto::test
