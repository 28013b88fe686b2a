#include "support/load.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "support/http_client.hpp"

namespace ditto::test {

load::load(std::vector<int> ports, int clients, std::string token, std::string body) {
    for (int i = 0; i < clients; ++i) {
        const int port = ports[static_cast<std::size_t>(i) % ports.size()];
        threads_.emplace_back([this, port, token, body] {
            const std::vector<std::pair<std::string, std::string>> h{
                {"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
            while (!stop_) {
                const auto t0 = std::chrono::steady_clock::now();
                auto r = http_request(port, "POST", "/v1/chat/completions", body, h,
                                      std::chrono::seconds(10));
                answer a;
                a.took = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - t0);
                if (r) {
                    a.status = r->status;
                    a.body = r->body;
                }
                std::lock_guard lock(mu_);
                answers_.push_back(std::move(a));
            }
        });
    }
}

tally count_answers(const std::vector<answer>& answers, const std::string& what) {
    tally t;
    for (const auto& a : answers) {
        if (a.status == 200) {
            ++t.ok;
            t.slowest_ok = std::max(t.slowest_ok, a.took);
        } else if (a.status == 503 &&
                   a.body.find(R"("code":"store_unavailable")") != std::string::npos) {
            ++t.unavailable;
            t.slowest_503 = std::max(t.slowest_503, a.took);
        } else if (a.status == 0) {
            ++t.unanswered;
        } else {
            ++t.other;
            ADD_FAILURE() << what << ": unexpected answer " << a.status << " " << a.body;
        }
    }
    return t;
}

std::vector<answer> load::finish() {
    stop_ = true;
    for (auto& t : threads_) {
        if (t.joinable())
            t.join();
    }
    std::lock_guard lock(mu_);
    return answers_;
}

}  // namespace ditto::test
