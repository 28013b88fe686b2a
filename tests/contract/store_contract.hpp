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
        boost::asio::co_spawn(ioc_, std::move(a), [&](std::exception_ptr e, T v) {
            error = e;
            if (!e)
                out = std::move(v);
        });
        ioc_.restart();
        ioc_.run();
        if (error)
            std::rethrow_exception(error);
        return std::move(*out);
    }
    void run(boost::asio::awaitable<void> a) {
        std::exception_ptr error;
        boost::asio::co_spawn(ioc_, std::move(a), [&](std::exception_ptr e) { error = e; });
        ioc_.restart();
        ioc_.run();
        if (error)
            std::rethrow_exception(error);
    }

    boost::asio::io_context ioc_;
    store_set store_;
};

}  // namespace ditto::store::contract
