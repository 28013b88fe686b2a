#pragma once

// RFC 3339 timestamps as the config and the Admin API write them (`expires_at`, `resets_at`).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ditto::core {

/// Unix milliseconds of `2026-12-31T23:59:59Z`, `…59.5+01:00`, `…59-05:30` (a `T` or `t`,
/// `Z`/`z` or a numeric offset; up to 9 fraction digits, truncated to ms). nullopt when the text
/// is not RFC 3339 or names an impossible date or time (a leap second `:60` is refused).
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);

/// `2026-12-31T23:59:59Z`, with `.123` when the milliseconds are not zero. Years 0..9999.
std::string format_rfc3339_utc(std::int64_t unix_ms);

}  // namespace ditto::core
