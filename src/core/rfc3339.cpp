#include "ditto/core/rfc3339.hpp"

#include "ditto/core/time_zone.hpp"

namespace ditto::core {
namespace {

// The next `n` characters of `s` from `at` as a number; false when any is not a digit.
bool digits(std::string_view s, std::size_t& at, std::size_t n, std::int64_t& out) {
    if (at + n > s.size())
        return false;
    out = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const char c = s[at + i];
        if (c < '0' || c > '9')
            return false;
        out = out * 10 + (c - '0');
    }
    at += n;
    return true;
}

bool expect(std::string_view s, std::size_t& at, char c) {
    if (at >= s.size() || s[at] != c)
        return false;
    ++at;
    return true;
}

bool leap(std::int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

std::int64_t month_days(std::int64_t y, std::int64_t m) {
    static constexpr std::int64_t days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

void two(std::string& out, std::int64_t v) {
    out += static_cast<char>('0' + v / 10);
    out += static_cast<char>('0' + v % 10);
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view s) {
    std::size_t at = 0;
    std::int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (!digits(s, at, 4, y) || !expect(s, at, '-') || !digits(s, at, 2, mo) ||
        !expect(s, at, '-') || !digits(s, at, 2, d))
        return std::nullopt;
    if (at >= s.size() || (s[at] != 'T' && s[at] != 't'))
        return std::nullopt;
    ++at;
    if (!digits(s, at, 2, h) || !expect(s, at, ':') || !digits(s, at, 2, mi) ||
        !expect(s, at, ':') || !digits(s, at, 2, sec))
        return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || sec > 59)
        return std::nullopt;
    std::int64_t ms = 0;
    if (at < s.size() && s[at] == '.') {
        ++at;
        std::size_t n = 0;
        for (; at < s.size() && s[at] >= '0' && s[at] <= '9'; ++at, ++n) {
            if (n < 3)
                ms = ms * 10 + (s[at] - '0');
        }
        if (n == 0 || n > 9)
            return std::nullopt;
        for (; n < 3; ++n)
            ms *= 10;
    }
    std::int64_t offset = 0;
    if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
        ++at;
    } else if (at < s.size() && (s[at] == '+' || s[at] == '-')) {
        const std::int64_t sign = s[at] == '-' ? -1 : 1;
        ++at;
        std::int64_t oh = 0, om = 0;
        if (!digits(s, at, 2, oh) || !expect(s, at, ':') || !digits(s, at, 2, om) || oh > 23 ||
            om > 59)
            return std::nullopt;
        offset = sign * (oh * 3600 + om * 60);
    } else {
        return std::nullopt;
    }
    if (at != s.size())
        return std::nullopt;
    const auto days = days_from_civil({static_cast<std::int32_t>(y), static_cast<std::uint32_t>(mo),
                                       static_cast<std::uint32_t>(d)});
    return ((days * 86'400 + h * 3600 + mi * 60 + sec) - offset) * 1000 + ms;
}

std::string format_rfc3339_utc(std::int64_t unix_ms) {
    std::int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    std::int64_t days = secs / 86'400, rem = secs % 86'400;
    if (rem < 0) {
        rem += 86'400;
        days -= 1;
    }
    const auto c = civil_from_days(days);
    std::string out;
    out.reserve(24);
    const auto year = std::max<std::int64_t>(0, std::min<std::int64_t>(9999, c.year));
    two(out, year / 100);
    two(out, year % 100);
    out += '-';
    two(out, c.month);
    out += '-';
    two(out, c.day);
    out += 'T';
    two(out, rem / 3600);
    out += ':';
    two(out, rem / 60 % 60);
    out += ':';
    two(out, rem % 60);
    if (ms != 0) {
        out += '.';
        out += static_cast<char>('0' + ms / 100);
        two(out, ms % 100);
    }
    out += 'Z';
    return out;
}

}  // namespace ditto::core
