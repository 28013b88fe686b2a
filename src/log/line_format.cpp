#include "ditto/log/line_format.hpp"

#include <charconv>
#include <ctime>

#include "ditto/core/json_scan.hpp"
#include "ditto/core/strings.hpp"

namespace ditto::log {
namespace {

// The part of `value` that is written, and how many bytes were left out. The cut never splits
// a UTF-8 sequence (it backs off over continuation bytes).
std::string_view capped(std::string_view value, std::size_t& cut) {
    cut = 0;
    if (value.size() <= max_value_bytes)
        return value;
    std::size_t n = max_value_bytes;
    while (n > 0 && (static_cast<unsigned char>(value[n]) & 0xC0) == 0x80)
        --n;
    cut = value.size() - n;
    return value.substr(0, n);
}

void append_cut_marker(std::string& out, std::size_t cut) {
    out += "...(+";
    append_uint(out, cut);
    out += " bytes)";
}

// Bytes >= 0x80 (UTF-8 text) stay bare: they cannot end a line or a field.
bool bare_ok(unsigned char c) {
    return c > 0x20 && c != 0x7f && c != '"' && c != '=' && c != '\\';
}

// Control bytes and DEL always escaped (no value can end a line); `"` and `\` when quoting.
void append_escaped(std::string& out, std::string_view s, bool quoting) {
    core::append_escaped(out, s, "\\x", quoting, true);
}

// The length of the valid UTF-8 sequence at the start of `s`, or 0.
std::size_t utf8_sequence(std::string_view s) {
    const auto c = static_cast<unsigned char>(s[0]);
    const std::size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (len == 0 || len > s.size())
        return 0;
    return core::is_valid_utf8(s.substr(0, len)) ? len : 0;
}

}  // namespace

void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_plain_value(std::string& out, std::string_view value) {
    std::size_t cut = 0;
    const std::string_view v = capped(value, cut);
    bool bare = true;  // an empty value stays `key=`, as it always was
    for (const char ch : v) {
        if (!bare_ok(static_cast<unsigned char>(ch))) {
            bare = false;
            break;
        }
    }
    if (bare && cut == 0) {
        out.append(v);
        return;
    }
    out += '"';
    append_escaped(out, v, true);
    if (cut != 0)
        append_cut_marker(out, cut);
    out += '"';
}

void append_plain_text(std::string& out, std::string_view text) {
    std::size_t cut = 0;
    append_escaped(out, capped(text, cut), false);
    if (cut != 0)
        append_cut_marker(out, cut);
}

void append_json_value(std::string& out, std::string_view value) {
    std::size_t cut = 0;
    const std::string_view v = capped(value, cut);
    if (core::is_valid_utf8(v) && cut == 0) {
        core::json_quote_into(out, v);
        return;
    }
    // Rare: rebuild the text with U+FFFD for each byte that starts no valid sequence.
    std::string clean;
    clean.reserve(v.size() + 16);
    for (std::size_t i = 0; i < v.size();) {
        const std::size_t n = utf8_sequence(v.substr(i));
        if (n == 0) {
            clean += "\xEF\xBF\xBD";
            ++i;
        } else {
            clean.append(v.data() + i, n);
            i += n;
        }
    }
    if (cut != 0)
        append_cut_marker(clean, cut);
    core::json_quote_into(out, clean);
}

void append_utc_timestamp(std::string& out, std::int64_t epoch_ms) {
    thread_local std::int64_t cached_second = -1;
    thread_local char date[20];  // "2026-12-06T07:10:26"
    const std::int64_t second = epoch_ms / 1000;
    if (second != cached_second) {
        const std::time_t t = static_cast<std::time_t>(second);
        std::tm tm{};
        gmtime_r(&t, &tm);
        std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_second = second;
    }
    const auto ms = static_cast<unsigned>(epoch_ms % 1000);
    out.append(date, 19);
    out += '.';
    out += static_cast<char>('0' + ms / 100);
    out += static_cast<char>('0' + ms / 10 % 10);
    out += static_cast<char>('0' + ms % 10);
    out += 'Z';
}

}  // namespace ditto::log
