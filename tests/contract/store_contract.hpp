#pragma once

// The store contract (docs/architecture.md): one suite of cases that every implementation
// of the store interface must pass. Each implementation instantiates it with a factory:
//   INSTANTIATE_TEST_SUITE_P(memory, StoreContract, ::testing::Values(factory{...}));

#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ditto/store/store.hpp"

namespace ditto::store::contract {

struct factory {
    std::string name;
    /// A fresh, empty store (a new prefix or a flushed server for Redis).
    std::function<store_set()> make;
};

inline std::ostream& operator<<(std::ostream& os, const factory& f) {
    return os << f.name;
}

class StoreContract : public ::testing::TestWithParam<factory> {
  protected:
    void SetUp() override { store_ = GetParam().make(); }

    /// Runs one awaitable to completion on this thread.
    template <class T>
    T run(boost::asio::awaitable<T> a) {
        std::optional<T> out;
        std::exception_ptr error;
        bool done = false;
        boost::asio::co_spawn(ioc_, std::move(a), [&](std::exception_ptr e, T v) {
            error = e;
            if (!e)
                out = std::move(v);
            done = true;
        });
        pump(done);
        if (error)
            std::rethrow_exception(error);
        return std::move(*out);
    }
    void run(boost::asio::awaitable<void> a) {
        std::exception_ptr error;
        bool done = false;
        boost::asio::co_spawn(ioc_, std::move(a), [&](std::exception_ptr e) {
            error = e;
            done = true;
        });
        pump(done);
        if (error)
            std::rethrow_exception(error);
    }

    /// Runs the loop until `done`: a store may keep work of its own on it (a Redis
    /// connection's reader), so the loop never runs out of work by itself.
    void pump(const bool& done) {
        ioc_.restart();
        while (!done && ioc_.run_one() > 0) {
        }
    }

    boost::asio::io_context ioc_;
    /// Event loops of extra threads; they outlive the store (a Redis connection must be
    /// closed before its event loop goes).
    std::vector<std::unique_ptr<boost::asio::io_context>> thread_iocs_;
    store_set store_;

    void TearDown() override {
        if (store_.close)
            store_.close();
    }
};

}  // namespace ditto::store::contract
