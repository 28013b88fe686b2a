#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ditto::core {

/// A proleptic Gregorian calendar date.
struct civil_date {
    std::int32_t year;
    std::uint32_t month;  // 1..12
    std::uint32_t day;    // 1..31
    bool operator==(const civil_date&) const = default;
};

/// Days since 1970-01-01 (negative before), for any year an int32 holds. `d` must be a valid
/// date (not checked; e.g. February 30 gives March 2).
std::int64_t days_from_civil(civil_date d);
/// The inverse of days_from_civil; `days` must map to a year an int32 holds.
civil_date civil_from_days(std::int64_t days);
/// 0 = Monday … 6 = Sunday (ISO 8601).
unsigned weekday_from_days(std::int64_t days);

namespace detail {

/// One DST switch date of a POSIX TZ rule ("Jn", "n" or "Mm.w.d", plus "/time").
struct tz_rule_date {
    enum class form : std::uint8_t { julian_no_leap, zero_based, month_week_day };
    form kind = form::month_week_day;
    std::uint32_t day = 0;      // Jn: 1..365 (Feb 29 never counted), n: 0..365
    std::uint32_t month = 0;    // M: 1..12
    std::uint32_t week = 0;     // M: 1..5, 5 = the last such weekday of the month
    std::uint32_t weekday = 0;  // M: 0 = Sunday … 6
    std::int32_t time = 7200;   // local seconds after that day's midnight, -167h..+167h
};

/// The footer of a TZif v2+ file (a POSIX TZ string): what applies after the last transition.
struct tz_posix_rule {
    bool present = false;         // false: v1 file or empty footer
    bool has_dst = false;         // false: std_offset all the time
    std::int32_t std_offset = 0;  // seconds east of UTC
    std::int32_t dst_offset = 0;
    tz_rule_date start;  // switch to DST, given in local standard time
    tz_rule_date end;    // switch back, given in local DST time
};

}  // namespace detail

/// An IANA time zone (TZif v1/v2/v3/v4 file from the zoneinfo directory), or UTC. Immutable, so
/// one instance is shared by all threads without locking.
///
/// GCC 12's libstdc++ has no std::chrono::tzdb, and glibc's localtime/TZ is process-global, so
/// the budget periods (day/week/month in a configured zone) read the TZif files themselves.
class time_zone {
  public:
    /// The zone named `name` ("UTC", "Europe/Paris", "America/New_York"…). "UTC" and "Etc/UTC"
    /// are built in, so they work with no tzdata installed. Zones are read once and cached
    /// process-wide by name (thread-safe; a later change of $TZDIR does not affect a cached name;
    /// failures are not cached). On failure returns nullptr and sets `error` to a one-line reason
    /// naming the zone (invalid name, unknown zone, unreadable, malformed, leap-second "right/"
    /// data, whose times are not Unix time). Names are checked before any file is opened:
    /// non-empty, relative, no empty, "." or ".." component, only [A-Za-z0-9/_+-], so that a
    /// configuration value can never read an arbitrary file. The directory is $TZDIR when set
    /// (read with getenv: do not setenv concurrently), else /usr/share/zoneinfo. Never throws.
    static std::shared_ptr<const time_zone> locate(std::string_view name, std::string& error);
    /// The UTC zone (no file needed).
    static std::shared_ptr<const time_zone> utc();

    const std::string& name() const { return name_; }

    /// Seconds east of UTC in effect at `unix_seconds`. No allocation.
    std::int32_t offset_at(std::int64_t unix_seconds) const;

    /// The first instant (unix seconds) whose local wall-clock time is at or after local midnight
    /// (00:00:00) of `d`. Normally the instant of that midnight; when midnight falls in a gap
    /// (clocks jump forward over it), the instant the gap ends; when midnight is repeated (clocks
    /// fall back over it), its first occurrence. [start_of_day(d), start_of_day(d + 1 day)) is
    /// then the budget period of local day d. `d` must be a valid date.
    std::int64_t start_of_day(civil_date d) const;

    /// The local calendar date at `unix_seconds`.
    civil_date date_at(std::int64_t unix_seconds) const;

  private:
    time_zone() = default;
    /// Fills `zone` from the bytes of a TZif file; false with `why` set when they are malformed.
    static bool read_tzif(std::string_view bytes, time_zone& zone, std::string& why);
    /// The first instant after `t` at which the offset may change (INT64_MAX if none), so that
    /// start_of_day can walk the constant-offset segments around a midnight.
    std::int64_t next_change(std::int64_t t) const;

    std::string name_;
    std::vector<std::int64_t> transitions_;  // ascending unix seconds
    std::vector<std::int32_t> offsets_;      // offsets_[i] applies from transitions_[i]
    std::int32_t initial_offset_ = 0;        // before transitions_[0]
    detail::tz_posix_rule rule_;             // after transitions_.back(), or always if none
};

}  // namespace ditto::core
