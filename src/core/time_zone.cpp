#include "ditto/core/time_zone.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace ditto::core {
namespace {

constexpr std::int64_t kDay = 86400;
// Bound on |UTC offset| accepted from a file (RFC 8536 allows -89999..93599), so that
// start_of_day can start its walk at a point whose local time is surely before midnight.
constexpr std::int32_t kMaxOffset = 26 * 3600;
// Instants are clamped to ±2^60 s (±36 billion years) before calendar arithmetic, so that adding
// offsets and multiplying days by 86400 can never overflow, whatever the caller passes.
constexpr std::int64_t kClamp = std::int64_t{1} << 60;
// No real TZif file comes near this; it stops a misnamed large file from being read whole.
constexpr std::size_t kMaxFileSize = 1 << 20;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// The calendar in 400-year eras starting on March 1, so that the leap day is the last day of a
// "year" and month lengths follow the repeating 31/30 pattern that (153 * m + 2) / 5 encodes.
// int64 years here: the POSIX rule code works on clamped instants whose year exceeds int32.
std::int64_t days_from_ymd(std::int64_t y, std::int64_t m, std::int64_t d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = floor_div(y, 400);
    const std::int64_t yoe = y - era * 400;                                    // 0..399
    const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // 0..365
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // 0..146096
    return era * 146097 + doe - 719468;  // 719468 = days from 0000-03-01 to 1970-01-01
}

struct ymd {
    std::int64_t year, month, day;
};

ymd ymd_from_days(std::int64_t days) {
    const std::int64_t z = days + 719468;
    const std::int64_t era = floor_div(z, 146097);
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;  // 0 = March … 11 = February
    const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
    return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, doy - (153 * mp + 2) / 5 + 1};
}

bool is_leap(std::int64_t y) {
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

// The local day (days since the epoch) on which `r` falls in `year`.
std::int64_t rule_day(const detail::tz_rule_date& r, std::int64_t year) {
    using form = detail::tz_rule_date::form;
    if (r.kind != form::month_week_day) {
        const std::int64_t jan1 = days_from_ymd(year, 1, 1);
        // Jn never counts Feb 29, so J60 is March 1 even in leap years; n counts it.
        return jan1 + r.day - (r.kind == form::zero_based ? 0 : 1) +
               (r.kind == form::julian_no_leap && r.day >= 60 && is_leap(year) ? 1 : 0);
    }
    static constexpr std::uint32_t kMonthDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const std::int64_t first = days_from_ymd(year, r.month, 1);
    const std::int64_t length = kMonthDays[r.month - 1] + (r.month == 2 && is_leap(year) ? 1 : 0);
    const std::int64_t first_weekday = (weekday_from_days(first) + 1) % 7;  // 0 = Sunday
    std::int64_t day = (r.weekday + 7 - first_weekday) % 7 + 7 * (r.week - 1);
    while (day >= length) {  // week 5 means "last", which may be the 4th
        day -= 7;
    }
    return first + day;
}

// The UTC instants at which DST starts and ends in `year` (start may follow end: southern
// hemisphere, or Europe/Dublin whose "DST" is winter with a negative save).
std::int64_t rule_start(const detail::tz_posix_rule& r, std::int64_t year) {
    return rule_day(r.start, year) * kDay + r.start.time - r.std_offset;
}
std::int64_t rule_end(const detail::tz_posix_rule& r, std::int64_t year) {
    return rule_day(r.end, year) * kDay + r.end.time - r.dst_offset;
}

// Whether DST is in effect at `t` under a rule, and the rule's next switch after `t`.
struct rule_state {
    bool dst = false;
    std::int64_t next = std::numeric_limits<std::int64_t>::max();
};

rule_state rule_at(const detail::tz_posix_rule& r, std::int64_t t) {
    rule_state out;
    if (!r.has_dst) {
        return out;
    }
    const std::int64_t tc = std::clamp(t, -kClamp, kClamp);
    const std::int64_t y = ymd_from_days(floor_div(tc + r.std_offset, kDay)).year;
    // A year's switches lie within 8 days of it (times reach ±167 h), so the years next to that
    // of `t` nearly always hold the last switch at or before `t` and the next one; two years
    // either side always do.
    for (std::int64_t span = 1; span <= 2; ++span) {
        std::int64_t last = std::numeric_limits<std::int64_t>::min();
        out = {};
        for (std::int64_t year = y - span; year <= y + span; ++year) {
            const std::int64_t start = rule_start(r, year), end = rule_end(r, year);
            if (end <= tc && end > last) {
                last = end;
                out.dst = false;
            }
            // ">=": when a start coincides with an end ("EST5EDT4,0/0,J365/25", DST all year)
            // the start wins, as the rule intends.
            if (start <= tc && start >= last) {
                last = start;
                out.dst = true;
            }
            for (std::int64_t s : {start, end}) {
                if (s > t) {
                    out.next = std::min(out.next, s);
                }
            }
        }
        if (last != std::numeric_limits<std::int64_t>::min() &&
            (out.next != std::numeric_limits<std::int64_t>::max() || t >= kClamp)) {
            break;
        }
    }
    return out;
}

// ---- POSIX TZ string (TZif footer), e.g. "CET-1CEST,M3.5.0,M10.5.0/3", "<+0545>-5:45".

bool is_alpha(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

struct cursor {
    std::string_view s;
    std::size_t pos = 0;
    bool done() const { return pos == s.size(); }
    char peek() const { return done() ? '\0' : s[pos]; }
    bool eat(char c) {
        if (peek() != c) {
            return false;
        }
        ++pos;
        return true;
    }
    // 1 to `max_digits` decimal digits (more is an error).
    bool number(std::uint32_t& out, std::size_t max_digits) {
        const std::size_t begin = pos;
        for (out = 0; is_digit(peek()) && pos - begin < max_digits; ++pos) {
            out = out * 10 + static_cast<std::uint32_t>(s[pos] - '0');
        }
        return pos > begin && !is_digit(peek());
    }
};

// "EST" (3+ letters) or "<-03>" (quoted: digits and signs too). The name itself is unused.
bool skip_abbreviation(cursor& c) {
    const std::size_t begin = c.pos;
    const bool quoted = c.eat('<');
    while (is_alpha(c.peek()) ||
           (quoted && (is_digit(c.peek()) || c.peek() == '+' || c.peek() == '-'))) {
        ++c.pos;
    }
    return c.pos - begin >= (quoted ? 4 : 3) && (!quoted || c.eat('>'));
}

// [+-]hh[:mm[:ss]] with hh <= max_hours, as signed seconds.
bool parse_hms(cursor& c, std::uint32_t max_hours, std::int32_t& out) {
    const bool negative = c.eat('-');
    if (!negative) {
        c.eat('+');
    }
    std::uint32_t h = 0, m = 0, s = 0;
    if (!c.number(h, 3) || h > max_hours) {
        return false;
    }
    if (c.eat(':') && (!c.number(m, 2) || m > 59 || (c.eat(':') && (!c.number(s, 2) || s > 59)))) {
        return false;
    }
    const auto total = static_cast<std::int32_t>(h * 3600 + m * 60 + s);
    out = negative ? -total : total;
    return true;
}

bool parse_rule_date(cursor& c, detail::tz_rule_date& d) {
    using form = detail::tz_rule_date::form;
    if (c.eat('J')) {
        d.kind = form::julian_no_leap;
        if (!c.number(d.day, 3) || d.day < 1 || d.day > 365) {
            return false;
        }
    } else if (c.eat('M')) {
        d.kind = form::month_week_day;
        if (!c.number(d.month, 2) || d.month < 1 || d.month > 12 || !c.eat('.') ||
            !c.number(d.week, 1) || d.week < 1 || d.week > 5 || !c.eat('.') ||
            !c.number(d.weekday, 1) || d.weekday > 6) {
            return false;
        }
    } else {
        d.kind = form::zero_based;
        if (!c.number(d.day, 3) || d.day > 365) {
            return false;
        }
    }
    d.time = 7200;  // POSIX default: 02:00
    // RFC 8536 §3.3.1 extends the time to -167..167 hours.
    return !c.eat('/') || parse_hms(c, 167, d.time);
}

// POSIX offsets count west-positive; ours are east-positive.
bool parse_posix_tz(std::string_view text, detail::tz_posix_rule& r) {
    r = {};
    if (text.empty()) {
        return true;  // no rule: the last transition's type stays in effect
    }
    cursor c{text};
    std::int32_t west = 0;
    if (!skip_abbreviation(c) || !parse_hms(c, 24, west)) {
        return false;
    }
    r.present = true;
    r.std_offset = r.dst_offset = -west;
    if (c.done()) {
        return true;
    }
    r.has_dst = true;
    if (!skip_abbreviation(c)) {
        return false;
    }
    r.dst_offset = r.std_offset + 3600;
    if (c.peek() != ',' && !c.done()) {
        if (!parse_hms(c, 24, west)) {
            return false;
        }
        r.dst_offset = -west;
    }
    // RFC 8536 requires the rule in a footer that has DST; POSIX's "implementation-defined"
    // default would be a guess.
    return c.eat(',') && parse_rule_date(c, r.start) && c.eat(',') && parse_rule_date(c, r.end) &&
           c.done();
}

// ---- TZif (RFC 8536)

std::uint32_t be32(const unsigned char* p) {
    return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
           static_cast<std::uint32_t>(p[2]) << 8 | static_cast<std::uint32_t>(p[3]);
}
std::int64_t be64(const unsigned char* p) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(be32(p)) << 32 | be32(p + 4));
}

struct tzif_header {
    char version = 0;
    std::uint64_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
    // Bytes of the data block that follows the header, for 4- or 8-byte times.
    std::uint64_t data_size(std::uint64_t time_size) const {
        return timecnt * (time_size + 1) + typecnt * 6 + charcnt + leapcnt * (time_size + 4) +
               isstdcnt + isutcnt;
    }
};

bool read_header(std::string_view bytes, std::size_t at, tzif_header& h) {
    if (bytes.size() < at + 44 || bytes.substr(at, 4) != "TZif") {
        return false;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    h.version = static_cast<char>(p[4]);
    h.isutcnt = be32(p + 20);
    h.isstdcnt = be32(p + 24);
    h.leapcnt = be32(p + 28);
    h.timecnt = be32(p + 32);
    h.typecnt = be32(p + 36);
    h.charcnt = be32(p + 40);
    return h.version == '\0' || h.version >= '2';
}

std::string printable(std::string_view name) {
    std::string out;
    for (char c : name.substr(0, 80)) {
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return out;
}

// "" if `name` is acceptable, else why not. Checked before the name becomes a path.
const char* name_problem(std::string_view name) {
    if (name.empty() || name.size() > 255) {
        return name.empty() ? "empty name" : "name too long";
    }
    if (name.front() == '/') {
        return "absolute paths are not allowed";
    }
    for (std::size_t begin = 0; begin <= name.size();) {
        const std::size_t end = std::min(name.find('/', begin), name.size());
        const std::string_view part = name.substr(begin, end - begin);
        if (part.empty() || part == "." || part == "..") {
            return part.empty() ? "empty path component" : "'.' and '..' are not allowed";
        }
        begin = end + 1;
    }
    for (char c : name) {
        if (!is_alpha(c) && !is_digit(c) && c != '/' && c != '_' && c != '+' && c != '-') {
            return "only letters, digits and / _ + - are allowed";
        }
    }
    return "";
}

// The whole file, or false with `why` set. Directories and devices are refused unread.
bool read_file(const std::string& path, std::string& out, std::string& why) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::is_regular_file(status)) {
        const bool missing =
            !ec || ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory;
        why = missing ? "unknown zone (no file " + path + ")"
                      : "cannot read " + path + ": " + ec.message();
        return false;
    }
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec || size > kMaxFileSize) {
        why =
            ec ? "cannot read " + path + ": " + ec.message() : path + ": too large for a TZif file";
        return false;
    }
    out.resize(static_cast<std::size_t>(size));
    std::ifstream in(path, std::ios::binary);
    if (!in.read(out.data(), static_cast<std::streamsize>(size))) {
        why = "cannot read " + path;
        return false;
    }
    return true;
}

}  // namespace

std::int64_t days_from_civil(civil_date d) {
    return days_from_ymd(d.year, d.month, d.day);
}

civil_date civil_from_days(std::int64_t days) {
    const ymd v = ymd_from_days(days);
    return {static_cast<std::int32_t>(v.year), static_cast<std::uint32_t>(v.month),
            static_cast<std::uint32_t>(v.day)};
}

unsigned weekday_from_days(std::int64_t days) {
    // 1970-01-01 was a Thursday (3 when Monday is 0).
    return static_cast<unsigned>((days % 7 + 7 + 3) % 7);
}

bool time_zone::read_tzif(std::string_view bytes, time_zone& zone, std::string& why) {
    tzif_header h;
    if (!read_header(bytes, 0, h)) {
        why = "not a TZif file";
        return false;
    }
    std::size_t at = 44;
    std::uint64_t time_size = 4;
    if (h.version != '\0') {
        // v2+: skip the 32-bit block, whose times stop at 2038, for the 64-bit one.
        at += static_cast<std::size_t>(std::min<std::uint64_t>(h.data_size(4), bytes.size()));
        if (!read_header(bytes, at, h)) {
            why = "malformed TZif data (truncated: no 64-bit header)";
            return false;
        }
        at += 44;
        time_size = 8;
    }
    if (h.data_size(time_size) > bytes.size() - at) {
        why = "malformed TZif data (truncated data block)";
        return false;
    }
    if (h.typecnt == 0 || h.typecnt > 256) {
        why = "malformed TZif data (bad number of time types)";
        return false;
    }
    if (h.leapcnt != 0) {
        why = "leap-second zones (\"right/\") are not supported";
        return false;
    }
    const auto* times = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    const unsigned char* indices = times + h.timecnt * time_size;
    const unsigned char* types = indices + h.timecnt;
    std::vector<std::int32_t> type_offsets;
    std::size_t first_std = h.typecnt;
    for (std::size_t i = 0; i < h.typecnt; ++i) {
        const auto utoff = static_cast<std::int32_t>(be32(types + 6 * i));
        if (utoff <= -kMaxOffset || utoff >= kMaxOffset || types[6 * i + 4] > 1) {
            why = "malformed TZif data (bad time type)";
            return false;
        }
        type_offsets.push_back(utoff);
        if (types[6 * i + 4] == 0 && first_std == h.typecnt) {
            first_std = i;
        }
    }
    // Before the first transition: the first standard-time type, else type 0 (what glibc and
    // older zic readers do; current zic makes type 0 that type anyway).
    zone.initial_offset_ = type_offsets[first_std == h.typecnt ? 0 : first_std];
    zone.transitions_.reserve(h.timecnt);
    zone.offsets_.reserve(h.timecnt);
    for (std::size_t i = 0; i < h.timecnt; ++i) {
        const std::int64_t t =
            time_size == 8 ? be64(times + 8 * i) : static_cast<std::int32_t>(be32(times + 4 * i));
        if (indices[i] >= h.typecnt || (i > 0 && t <= zone.transitions_.back())) {
            why = indices[i] >= h.typecnt ? "malformed TZif data (bad transition type)"
                                          : "malformed TZif data (transitions out of order)";
            return false;
        }
        zone.transitions_.push_back(t);
        zone.offsets_.push_back(type_offsets[indices[i]]);
    }
    if (h.version == '\0') {
        return true;  // v1: no footer; the last type stays in effect
    }
    // The footer: "\n" POSIX-TZ-string "\n". Slim files rely on it for every current date.
    const std::string_view rest = bytes.substr(at + static_cast<std::size_t>(h.data_size(8)));
    const std::size_t close = rest.empty() ? rest.npos : rest.find('\n', 1);
    if (rest.empty() || rest[0] != '\n' || close == rest.npos) {
        why = "malformed TZif data (no footer)";
        return false;
    }
    if (!parse_posix_tz(rest.substr(1, close - 1), zone.rule_)) {
        why = "malformed TZif data (bad footer \"" + printable(rest.substr(1, close - 1)) + "\")";
        return false;
    }
    return true;
}

std::shared_ptr<const time_zone> time_zone::utc() {
    // Leaked like the cache below, so that it outlives any user during static destruction.
    static const auto* zone = [] {
        std::shared_ptr<time_zone> z(new time_zone);
        z->name_ = "UTC";
        return new std::shared_ptr<const time_zone>(std::move(z));
    }();
    return *zone;
}

std::shared_ptr<const time_zone> time_zone::locate(std::string_view name, std::string& error) {
    try {
        if (const char* problem = name_problem(name); *problem != '\0') {
            error = "time zone \"" + printable(name) + "\": " + problem;
            return nullptr;
        }
        if (name == "UTC") {
            return utc();
        }
        // Leaked on purpose: zones may be looked up while other statics are destroyed at exit.
        static auto* mutex = new std::mutex;
        static auto* cache = new std::unordered_map<std::string, std::shared_ptr<const time_zone>>;
        // One lock across the read too: a zone is read once, at configuration time.
        std::lock_guard lock(*mutex);
        std::string key(name);
        if (auto it = cache->find(key); it != cache->end()) {
            return it->second;
        }
        std::shared_ptr<time_zone> zone(new time_zone);
        zone->name_ = key;
        if (name != "Etc/UTC") {
            const char* env = std::getenv("TZDIR");
            const std::string path =
                (env != nullptr && *env != '\0' ? std::string(env) : "/usr/share/zoneinfo") + "/" +
                key;
            std::string bytes, why;
            if (!read_file(path, bytes, why)) {
                error = "time zone \"" + key + "\": " + why;
                return nullptr;
            }
            if (!read_tzif(bytes, *zone, why)) {
                error = "time zone \"" + key + "\": " + path + ": " + why;
                return nullptr;
            }
        }
        cache->emplace(std::move(key), zone);
        return zone;
    } catch (const std::exception& e) {
        error = "time zone \"" + printable(name) + "\": " + e.what();
    } catch (...) {
        error = "time zone \"" + printable(name) + "\": unexpected error";
    }
    return nullptr;
}

std::int32_t time_zone::offset_at(std::int64_t t) const {
    if ((transitions_.empty() || t >= transitions_.back()) && rule_.present) {
        return rule_at(rule_, t).dst ? rule_.dst_offset : rule_.std_offset;
    }
    const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
    return it == transitions_.begin()
               ? initial_offset_
               : offsets_[static_cast<std::size_t>(it - transitions_.begin()) - 1];
}

std::int64_t time_zone::next_change(std::int64_t t) const {
    if (transitions_.empty() || t >= transitions_.back()) {
        return rule_.present ? rule_at(rule_, t).next : std::numeric_limits<std::int64_t>::max();
    }
    return *std::upper_bound(transitions_.begin(), transitions_.end(), t);
}

// Local time is t + offset_at(t): increasing within each segment of constant offset, but it
// jumps forward (gap) or back (repeat) at a change, so "the first instant whose local time is at
// or after midnight M" cannot be found by solving t + offset = M once: the offset that applies
// depends on t, and near a change there may be two solutions or none. Instead walk the segments
// from a point surely before midnight (M - kMaxOffset, since |offset| < kMaxOffset). In a segment
// [t, end) with offset o, local time reaches M at M - o, or at once if it is already past M
// (the segment starts after a gap over midnight). The first segment where that instant lies
// before its end holds the answer. Segments are few (a ~52 h window holds at most a handful of
// changes), and each step is a binary search or a few rule evaluations.
std::int64_t time_zone::start_of_day(civil_date d) const {
    const std::int64_t midnight = days_from_civil(d) * kDay;
    std::int64_t t = midnight - kMaxOffset;
    for (;;) {
        const std::int64_t end = next_change(t);
        const std::int64_t reached = std::max(t, midnight - offset_at(t));
        if (reached < end) {
            return reached;
        }
        t = end;
    }
}

civil_date time_zone::date_at(std::int64_t unix_seconds) const {
    const std::int64_t t = std::clamp(unix_seconds, -kClamp, kClamp);
    return civil_from_days(floor_div(t + offset_at(t), kDay));
}

}  // namespace ditto::core
