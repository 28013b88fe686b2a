#pragma once

#include <string>
#include <string_view>

namespace ditto::core {

/// ASCII whitespace trim (space, \t, \r, \n, \f, \v).
std::string_view trim(std::string_view s) noexcept;

/// ASCII lowercase copy.
std::string to_lower(std::string_view s);

/// Case-insensitive ASCII prefix test.
bool iequals_prefix(std::string_view s, std::string_view prefix) noexcept;

/// Case-insensitive ASCII equality.
bool iequals(std::string_view a, std::string_view b) noexcept;

/// True when every character is a lowercase or uppercase hex digit.
bool is_hex(std::string_view s) noexcept;

}  // namespace ditto::core
