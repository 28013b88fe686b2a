// The store contract (tests/contract) against a real redis-server: one server for the whole
// binary, a fresh key prefix per test.
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <thread>

#include "contract/store_contract.hpp"
#include "ditto/store/redis/redis_store.hpp"
#include "support/redis_server.hpp"

namespace ditto::store::contract {
namespace {

// Started on first use and kept for the binary's lifetime; the background loop runs the
// stores' change feeds.
struct shared_redis {
    test::redis_server server;
    boost::asio::io_context background;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{
        background.get_executor()};
    std::thread thread{[this] { background.run(); }};
    std::atomic<int> next_prefix{0};

    ~shared_redis() {
        guard.reset();
        background.stop();
        thread.join();
    }
};

shared_redis& redis() {
    static shared_redis r;
    return r;
}

store_set make() {
    auto& r = redis();
    std::string error;
    redis::redis_store_options o;
    o.url = *redis::parse_redis_url(r.server.url(), error);
    o.prefix = "contract" + std::to_string(r.next_prefix++);
    o.control_poll = std::chrono::milliseconds(20);
    return redis::make_redis_store(o, r.background.get_executor());
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(redis, StoreContract, ::testing::Values(factory{"redis", make}),
                         [](const auto& p) { return p.param.name; });

}  // namespace ditto::store::contract
