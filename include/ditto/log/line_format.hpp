#pragma once

// How one log event becomes one line (docs/observability.md "Log lines"). Pure functions, so
// the escaping that keeps a client from forging a line is unit-tested on its own.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ditto::log {

/// The longest value written for one field: a client controls some values (the model, the
/// path), and a log line is no place for a 1 MB string. Longer values are cut at a UTF-8
/// boundary and marked with how much was cut: `…(+N bytes)`.
inline constexpr std::size_t max_value_bytes = 512;

/// Appends a plain-text field value: bare when it is all printable ASCII other than space,
/// `"` and `=`, otherwise in double quotes with `\"`, `\\`, `\n`, `\r`, `\t` and `\xHH` for
/// the other control bytes (so CR/LF can never start a new line). Bytes >= 0x80 are kept.
void append_plain_value(std::string& out, std::string_view value);

/// Appends free text (a message): control bytes escaped as above, no quotes.
void append_plain_text(std::string& out, std::string_view text);

/// Appends `value` as a JSON string literal; invalid UTF-8 becomes U+FFFD, so every line stays
/// valid JSON whatever a client sent.
void append_json_value(std::string& out, std::string_view value);

/// Appends `2026-12-06T07:10:26.123Z` for a time in milliseconds since the epoch (UTC). The
/// date part is cached per thread and second.
void append_utc_timestamp(std::string& out, std::int64_t epoch_ms);

/// Appends the decimal digits of `v`.
void append_uint(std::string& out, std::uint64_t v);

}  // namespace ditto::log
