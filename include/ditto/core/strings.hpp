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

/// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past U+10FFFF. ASCII runs
/// are checked eight bytes at a time.
bool is_valid_utf8(std::string_view text) noexcept;

/// `text` with each byte that starts no valid UTF-8 sequence replaced by U+FFFD, so that a
/// value from the wire can go into JSON or a Prometheus label (which must be UTF-8).
std::string utf8_repaired(std::string_view text);

/// RFC 9110 token (a header name): tchar, at least one.
bool is_http_token(std::string_view name) noexcept;
/// RFC 9110 field-value: visible characters, obs-text, SP and HTAB. Rejecting CR/LF/NUL is
/// what prevents header injection.
bool is_http_field_value(std::string_view value) noexcept;

/// The value of one hex digit, or -1.
int hex_value(char c) noexcept;

/// Percent-decoding (`%41` → `A`); `+` is left alone and invalid escapes are kept as-is.
std::string percent_decode(std::string_view s);

/// `s` with every byte outside the unreserved set `[A-Za-z0-9-._~]` and `also_keep` written as
/// `%XX` (upper-case hex).
std::string percent_encode(std::string_view s, std::string_view also_keep = {});

}  // namespace ditto::core
