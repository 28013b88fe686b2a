#pragma once

#include <chrono>
#include <functional>

namespace ditto::test {

/// Polls `cond` every `step` until it holds (true) or `limit` passes (false): for effects
/// that happen asynchronously (a reload, a health check round), never a fixed sleep.
bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit,
                std::chrono::milliseconds step = std::chrono::milliseconds(20));

}  // namespace ditto::test
