#include "ditto/core/time_zone.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace ditto::core {

// Readable dates in failure messages (found by argument-dependent lookup).
void PrintTo(const civil_date& d, std::ostream* os) {
    *os << d.year << '-' << d.month << '-' << d.day;
}

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kDay = 86400;
const char* const kZoneDir = "/usr/share/zoneinfo";

// Zones whose rules exercise the edge cases: half-hour and 45-minute offsets, negative DST
// (Dublin), 30-minute DST (Lord Howe), DST switches at or across midnight (Havana, Santiago,
// Beirut), negative and over-24h switch times (Nuuk), date-line jumps (Apia), DST removed
// (Sao Paulo, Tehran), Ramadan-suspended DST listed up to 2087 (Casablanca).
const std::vector<std::string> kEdgeZones = {"UTC",
                                             "Europe/Paris",
                                             "Europe/London",
                                             "Europe/Dublin",
                                             "America/New_York",
                                             "America/Sao_Paulo",
                                             "America/Santiago",
                                             "America/Havana",
                                             "America/Nuuk",
                                             "Asia/Kathmandu",
                                             "Asia/Kolkata",
                                             "Australia/Lord_Howe",
                                             "Australia/Eucla",
                                             "Pacific/Chatham",
                                             "Pacific/Apia",
                                             "Africa/Casablanca",
                                             "Asia/Tehran",
                                             "Asia/Beirut"};

std::string utc_text(std::int64_t t) {
    const auto tt = static_cast<time_t>(t);
    tm out{};
    char buf[40];
    if (::gmtime_r(&tt, &out) == nullptr ||
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &out) == 0) {
        return std::to_string(t);
    }
    return std::to_string(t) + " (" + buf + ")";
}

// Sets an environment variable for a scope and restores the previous value.
class scoped_env {
  public:
    scoped_env(const char* name, const std::optional<std::string>& value) : name_(name) {
        if (const char* old = ::getenv(name)) {
            old_ = old;
        }
        if (value) {
            ::setenv(name, value->c_str(), 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~scoped_env() {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

  private:
    const char* name_;
    std::optional<std::string> old_;
};

// glibc as the oracle: TZ is process-global, which is fine here (tests are single-threaded).
// `tz` is either ":Zone/Name" (read the file) or a POSIX TZ string.
class glibc_zone {
  public:
    explicit glibc_zone(const std::string& tz) : env_("TZ", tz) { ::tzset(); }
    static tm local(std::int64_t t) {
        const auto tt = static_cast<time_t>(t);
        tm out{};
        ::localtime_r(&tt, &out);
        return out;
    }
    static std::int32_t offset(std::int64_t t) {
        return static_cast<std::int32_t>(local(t).tm_gmtoff);
    }
    static civil_date date(std::int64_t t) {
        const tm l = local(t);
        return {l.tm_year + 1900, static_cast<std::uint32_t>(l.tm_mon + 1),
                static_cast<std::uint32_t>(l.tm_mday)};
    }

  private:
    // Declared first so that it is destroyed last, after env_ has restored TZ.
    struct retzset {
        ~retzset() { ::tzset(); }
    } retzset_;
    scoped_env env_;
};

bool have_tzdata() {
    return fs::exists(fs::path(kZoneDir) / "Europe/Paris");
}

std::shared_ptr<const time_zone> must_locate(const std::string& name) {
    std::string error;
    auto zone = time_zone::locate(name, error);
    EXPECT_NE(zone, nullptr) << error;
    return zone;
}

// Compares offset_at with glibc (already set to the zone) every `step` seconds in [from, to),
// and at -1/0/+1 s around each offset change between two samples. The change is located by
// bisection on our offsets (cheap); if glibc changes at another instant, one of the three checks
// differs, and a glibc change we lack shows as a mismatch at the samples. Returns the number of
// mismatches; reports the first few.
int compare_offsets(const time_zone& zone, std::int64_t from, std::int64_t to, std::int64_t step) {
    int mismatches = 0;
    auto check = [&](std::int64_t t) {
        const std::int32_t ours = zone.offset_at(t), theirs = glibc_zone::offset(t);
        if (ours != theirs && ++mismatches <= 5) {
            ADD_FAILURE() << zone.name() << " at " << utc_text(t) << ": offset_at " << ours
                          << ", glibc " << theirs;
        }
        return theirs;
    };
    auto check_change = [&](std::int64_t lo, std::int64_t hi, auto&& offset) {
        const std::int32_t before = offset(lo);
        while (hi - lo > 1) {  // invariant: offset(lo) == before != offset(hi)
            const std::int64_t mid = lo + (hi - lo) / 2;
            (offset(mid) == before ? lo : hi) = mid;
        }
        check(hi - 1);
        check(hi);
        check(hi + 1);
    };
    std::int32_t ours = zone.offset_at(from), theirs = check(from);
    for (std::int64_t t = from + step; t < to; t += step) {
        const std::int32_t ours_now = zone.offset_at(t), theirs_now = check(t);
        if (ours_now != ours) {
            check_change(t - step, t, [&](std::int64_t x) { return zone.offset_at(x); });
        } else if (theirs_now != theirs) {
            check_change(t - step, t, [](std::int64_t x) { return glibc_zone::offset(x); });
        }
        ours = ours_now;
        theirs = theirs_now;
    }
    return mismatches;
}

const std::int64_t k1970 = 0;
const std::int64_t k2100 = days_from_civil({2100, 1, 1}) * kDay;

TEST(TimeZone, CivilDaysKnownValues) {
    EXPECT_EQ(days_from_civil({1970, 1, 1}), 0);
    EXPECT_EQ(days_from_civil({1969, 12, 31}), -1);
    EXPECT_EQ(days_from_civil({2000, 3, 1}), 11017);
    EXPECT_EQ(days_from_civil({2000, 2, 29}), 11016);
    EXPECT_EQ(days_from_civil({1600, 1, 1}), -135140);
    EXPECT_EQ(civil_from_days(11017), (civil_date{2000, 3, 1}));
    EXPECT_EQ(civil_from_days(-1), (civil_date{1969, 12, 31}));
    EXPECT_EQ(weekday_from_days(0), 3u);                                // Thursday
    EXPECT_EQ(weekday_from_days(days_from_civil({2026, 12, 7})), 0u);   // Monday
    EXPECT_EQ(weekday_from_days(days_from_civil({1969, 12, 28})), 6u);  // Sunday
    EXPECT_EQ(weekday_from_days(days_from_civil({1600, 1, 1})), 5u);    // Saturday
}

TEST(TimeZone, CivilDaysRoundTripEveryDay1600To2600) {
    std::int64_t days = days_from_civil({1600, 1, 1});
    unsigned weekday = weekday_from_days(days);
    for (std::int32_t y = 1600; y < 2600; ++y) {
        const bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        const std::uint32_t lengths[] = {31, leap ? 29u : 28u, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                         31};
        for (std::uint32_t m = 1; m <= 12; ++m) {
            for (std::uint32_t d = 1; d <= lengths[m - 1]; ++d) {
                const civil_date date{y, m, d};
                ASSERT_EQ(days_from_civil(date), days) << y << '-' << m << '-' << d;
                ASSERT_EQ(civil_from_days(days), date) << days;
                ASSERT_EQ(weekday_from_days(days), weekday) << days;
                ++days;
                weekday = (weekday + 1) % 7;
            }
        }
    }
    EXPECT_EQ(days, days_from_civil({2600, 1, 1}));
    // Far outside that range, still exact inverses.
    for (std::int64_t d : {-1000000000LL, -719468LL, -719469LL, 700000000LL}) {
        EXPECT_EQ(days_from_civil(civil_from_days(d)), d);
    }
}

TEST(TimeZone, UtcNeedsNoFile) {
    const auto utc = time_zone::utc();
    ASSERT_NE(utc, nullptr);
    EXPECT_EQ(utc->name(), "UTC");
    EXPECT_EQ(utc->offset_at(1'700'000'000), 0);
    EXPECT_EQ(utc->start_of_day({2026, 3, 29}), days_from_civil({2026, 3, 29}) * kDay);
    EXPECT_EQ(utc->date_at(-1), (civil_date{1969, 12, 31}));
    // Extreme instants must not overflow.
    EXPECT_EQ(utc->offset_at(std::numeric_limits<std::int64_t>::max()), 0);
    (void)utc->date_at(std::numeric_limits<std::int64_t>::min());
}

TEST(TimeZone, KnownOffsetsAndMidnights) {
    if (!have_tzdata()) {
        GTEST_SKIP() << "no tzdata in " << kZoneDir;
    }
    const auto paris = must_locate("Europe/Paris");
    ASSERT_NE(paris, nullptr);
    EXPECT_EQ(paris->name(), "Europe/Paris");
    EXPECT_EQ(paris->offset_at(days_from_civil({2026, 7, 1}) * kDay), 7200);
    EXPECT_EQ(paris->offset_at(days_from_civil({2026, 1, 1}) * kDay), 3600);
    EXPECT_EQ(paris->offset_at(days_from_civil({2150, 7, 1}) * kDay), 7200);  // footer
    EXPECT_EQ(paris->start_of_day({2026, 3, 29}),
              days_from_civil({2026, 3, 28}) * kDay + 23 * 3600);
    EXPECT_EQ(paris->start_of_day({2026, 3, 30}),
              days_from_civil({2026, 3, 29}) * kDay + 22 * 3600);
    EXPECT_EQ(paris->date_at(days_from_civil({2026, 3, 29}) * kDay - 3600),
              (civil_date{2026, 3, 29}));

    // Havana: DST starts on 2026-03-08 at 00:00, so that day starts at 01:00 CDT = 05:00Z.
    const auto havana = must_locate("America/Havana");
    ASSERT_NE(havana, nullptr);
    EXPECT_EQ(havana->start_of_day({2026, 3, 8}), days_from_civil({2026, 3, 8}) * kDay + 5 * 3600);
    // ... and ends on 2026-11-01 at 01:00 CDT, back to 00:00: midnight is repeated; the first
    // (04:00Z, CDT) counts.
    EXPECT_EQ(havana->start_of_day({2026, 11, 1}),
              days_from_civil({2026, 11, 1}) * kDay + 4 * 3600);

    // Santiago (footer M9.1.6/24): 2026-09-05 24:00 -04 jumps to 2026-09-06 01:00 -03.
    const auto santiago = must_locate("America/Santiago");
    ASSERT_NE(santiago, nullptr);
    EXPECT_EQ(santiago->start_of_day({2026, 9, 6}),
              days_from_civil({2026, 9, 6}) * kDay + 4 * 3600);
    EXPECT_EQ(santiago->start_of_day({2126, 9, 7}),
              days_from_civil({2126, 9, 7}) * kDay + 4 * 3600);

    const auto kathmandu = must_locate("Asia/Kathmandu");
    ASSERT_NE(kathmandu, nullptr);
    EXPECT_EQ(kathmandu->offset_at(1'700'000'000), 5 * 3600 + 45 * 60);
    EXPECT_EQ(kathmandu->offset_at(4'000'000'000'000), 5 * 3600 + 45 * 60);
}

// The footer rule alone, against glibc reading the same POSIX string as TZ: a TZif file with no
// transitions uses its footer for all times (RFC 8536), so every rule form can be checked.
std::string tzif_bytes(std::int32_t type0_offset, const std::string& footer) {
    auto be32 = [](std::string& s, std::uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            s += static_cast<char>((v >> shift) & 0xff);
        }
    };
    auto block = [&](std::string& s) {
        s += "TZif2";
        s.append(15, '\0');
        for (std::uint32_t count : {0u, 0u, 0u, 0u, 1u, 4u}) {  // isut isstd leap time type char
            be32(s, count);
        }
        be32(s, static_cast<std::uint32_t>(type0_offset));
        s += '\0';  // isdst
        s += '\0';  // designation index
        s.append("ZZZ\0", 4);
    };
    std::string s;
    block(s);
    block(s);
    return s + "\n" + footer + "\n";
}

class temp_dir {
  public:
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "ditto_tz_XXXXXX").string();
        if (::mkdtemp(tmpl.data()) != nullptr) {
            path_ = tmpl;
        }
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const fs::path& path() const { return path_; }
    void write(const std::string& name, const std::string& bytes) const {
        fs::create_directories((path_ / name).parent_path());
        std::ofstream(path_ / name, std::ios::binary) << bytes;
    }

  private:
    fs::path path_;
};

TEST(TimeZone, FooterRulesMatchGlibc) {
    struct footer_case {
        const char* name;  // distinct names: zones are cached by name
        const char* tz;
        std::int32_t std_offset;
    };
    const footer_case cases[] = {
        {"Footer/Us", "EST5EDT,M3.2.0,M11.1.0", -5 * 3600},
        {"Footer/Nepal", "<+0545>-5:45", 5 * 3600 + 45 * 60},
        {"Footer/Dublin", "IST-1GMT0,M10.5.0,M3.5.0/1", 3600},
        {"Footer/Godthab", "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", -3 * 3600},
        {"Footer/Santiago", "<-04>4<-03>,M9.1.6/24,M4.1.6/24", -4 * 3600},
        {"Footer/Julian", "CST6CDT,J60/2:30,J300/1:15:30", -6 * 3600},
        {"Footer/ZeroBased", "CST6CDT,59/0,300", -6 * 3600},
        {"Footer/ZeroBasedEnd", "AAA3BBB2,0/3,364/20", -3 * 3600},
        {"Footer/LordHowe", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", 10 * 3600 + 30 * 60},
        {"Footer/Chatham", "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", 12 * 3600 + 45 * 60},
        {"Footer/LongTimes", "XXX-3YYY,M3.1.0/-100,M10.5.6/100", 3 * 3600},
        {"Footer/Seconds", "AAA+3:25:17BBB+2:00:01,M4.4.3/1:02:03,M9.2.5",
         -(3 * 3600 + 25 * 60 + 17)},
    };
    temp_dir dir;
    ASSERT_FALSE(dir.path().empty());
    for (const auto& c : cases) {
        dir.write(c.name, tzif_bytes(c.std_offset, c.tz));
    }
    scoped_env tzdir("TZDIR", dir.path().string());
    for (const auto& c : cases) {
        const auto zone = must_locate(c.name);
        ASSERT_NE(zone, nullptr);
        glibc_zone oracle(c.tz);
        EXPECT_EQ(compare_offsets(*zone, k1970, k2100, 6 * 3600 + 7), 0) << c.tz;
    }
}

// Rules whose DST period crosses New Year. glibc evaluates a rule only for the UTC year of the
// instant, so it misses the part of last year's period that spills into this one; tzcode's
// reference localtime.c (and we) follow each year's period to its end. Checked by value.
TEST(TimeZone, FooterPeriodsAcrossNewYear) {
    temp_dir dir;
    // "DST all year" (RFC 8536 §3.3.1): each year's end coincides with the next year's start.
    dir.write("Footer/AlwaysDst", tzif_bytes(-5 * 3600, "EST5EDT4,0/0,J365/25"));
    // DST from Jan 1 03:00 to day 365 02:00, i.e. Jan 1 of the next year in a common year.
    dir.write("Footer/SpillOver", tzif_bytes(-3 * 3600, "AAA3BBB2,0/3,365"));
    scoped_env tzdir("TZDIR", dir.path().string());
    const auto spill = must_locate("Footer/SpillOver");
    ASSERT_NE(spill, nullptr);
    const std::int64_t jan1_1971 = days_from_civil({1971, 1, 1}) * kDay;
    EXPECT_EQ(spill->offset_at(jan1_1971), -2 * 3600);                 // 1970's period
    EXPECT_EQ(spill->offset_at(jan1_1971 + 4 * 3600 - 1), -2 * 3600);  // until 02:00 local
    EXPECT_EQ(spill->offset_at(jan1_1971 + 4 * 3600), -3 * 3600);
    EXPECT_EQ(spill->offset_at(jan1_1971 + 6 * 3600), -2 * 3600);  // 1971's, from 03:00 local
    // 1972 is a leap year: its day 365 is Dec 31, so no spill-over into 1973.
    const std::int64_t jan1_1973 = days_from_civil({1973, 1, 1}) * kDay;
    EXPECT_EQ(spill->offset_at(jan1_1973), -3 * 3600);
    const auto zone = must_locate("Footer/AlwaysDst");
    ASSERT_NE(zone, nullptr);
    for (std::int64_t t = k1970; t < k2100; t += 3 * 3600 + 11) {
        ASSERT_EQ(zone->offset_at(t), -4 * 3600) << utc_text(t);
    }
    EXPECT_EQ(zone->start_of_day({2027, 1, 1}), days_from_civil({2027, 1, 1}) * kDay + 4 * 3600);
}

TEST(TimeZone, TransitionTablesV1AndEmptyFooter) {
    // Hand-made: types {0: +1h DST, 1: +0 std}, transitions at 1000 (->type 0) and 2000 (->1).
    // Before 1000 the first standard type applies (type 1, not type 0 which is DST).
    auto build = [](char version, bool v2_data) {
        auto be32 = [](std::string& s, std::uint32_t v) {
            for (int shift = 24; shift >= 0; shift -= 8) {
                s += static_cast<char>((v >> shift) & 0xff);
            }
        };
        auto block = [&](std::string& s, int time_size) {
            s += "TZif";
            s += version;
            s.append(15, '\0');
            for (std::uint32_t count : {0u, 0u, 0u, 2u, 2u, 4u}) {
                be32(s, count);
            }
            for (std::uint32_t t : {1000u, 2000u}) {
                if (time_size == 8) {
                    be32(s, 0);
                }
                be32(s, t);
            }
            s.append("\0\1", 2);  // transition i -> type i
            be32(s, 3600);
            s.append("\1\0", 2);  // type 0: +1h, DST, "AB"
            be32(s, 0);
            s.append("\0\0", 2);  // type 1: +0, standard
            s.append("AB\0\0", 4);
        };
        std::string s;
        block(s, 4);
        if (v2_data) {
            block(s, 8);
            s += "\n\n";  // empty footer: the last type stays
        }
        return s;
    };
    temp_dir dir;
    dir.write("Hand/V1", build('\0', false));
    dir.write("Hand/V2", build('2', true));
    dir.write("Hand/V3", build('3', true));
    scoped_env tzdir("TZDIR", dir.path().string());
    for (const char* name : {"Hand/V1", "Hand/V2", "Hand/V3"}) {
        const auto zone = must_locate(name);
        ASSERT_NE(zone, nullptr);
        EXPECT_EQ(zone->offset_at(-5'000'000'000), 0) << name;
        EXPECT_EQ(zone->offset_at(999), 0) << name;
        EXPECT_EQ(zone->offset_at(1000), 3600) << name;
        EXPECT_EQ(zone->offset_at(1999), 3600) << name;
        EXPECT_EQ(zone->offset_at(2000), 0) << name;
        EXPECT_EQ(zone->offset_at(5'000'000'000'000), 0) << name;
        EXPECT_EQ(zone->start_of_day({2200, 1, 1}), days_from_civil({2200, 1, 1}) * kDay) << name;
    }
}

TEST(TimeZone, EdgeZonesMatchGlibcDensely) {
    if (!have_tzdata()) {
        GTEST_SKIP() << "no tzdata in " << kZoneDir;
    }
    scoped_env tzdir("TZDIR", std::nullopt);
    for (const auto& name : kEdgeZones) {
        const auto zone = must_locate(name);
        ASSERT_NE(zone, nullptr);
        glibc_zone oracle(":" + name);
        EXPECT_EQ(compare_offsets(*zone, k1970, k2100, 6 * 3600), 0) << name;
    }
}

TEST(TimeZone, AllInstalledZonesMatchGlibc) {
    if (!have_tzdata()) {
        GTEST_SKIP() << "no tzdata in " << kZoneDir;
    }
    scoped_env tzdir("TZDIR", std::nullopt);
    std::vector<std::string> names;
    for (auto it = fs::recursive_directory_iterator(kZoneDir);
         it != fs::recursive_directory_iterator(); ++it) {
        const std::string rel = fs::relative(it->path(), kZoneDir).string();
        if (it->is_directory() && (rel == "posix" || rel == "right")) {
            it.disable_recursion_pending();  // same zones, or leap-second variants
            continue;
        }
        char magic[4] = {};
        if (!it->is_regular_file() || !std::ifstream(it->path(), std::ios::binary).read(magic, 4) ||
            std::string_view(magic, 4) != "TZif") {
            continue;  // zone.tab, tzdata.zi, a dangling "localtime"…
        }
        names.push_back(rel);
    }
    EXPECT_GT(names.size(), 300u);
    int failed_zones = 0;
    for (const auto& name : names) {
        std::string error;
        const auto zone = time_zone::locate(name, error);
        if (zone == nullptr) {
            ADD_FAILURE() << name << ": " << error;
            ++failed_zones;
            continue;
        }
        glibc_zone oracle(":" + name);
        // Every ~4 days: DST periods are months long; each change found is checked to the second.
        if (compare_offsets(*zone, k1970, k2100, 4 * kDay + 3607) != 0) {
            ++failed_zones;
        }
    }
    EXPECT_EQ(failed_zones, 0) << "of " << names.size() << " zones";
}

TEST(TimeZone, StartOfDayEveryDay2020To2030) {
    if (!have_tzdata()) {
        GTEST_SKIP() << "no tzdata in " << kZoneDir;
    }
    scoped_env tzdir("TZDIR", std::nullopt);
    const std::int64_t first = days_from_civil({2020, 1, 1}), last = days_from_civil({2031, 1, 1});
    int gaps = 0, repeats = 0;
    for (const auto& name : kEdgeZones) {
        const auto zone = must_locate(name);
        ASSERT_NE(zone, nullptr);
        glibc_zone oracle(":" + name);
        for (std::int64_t days = first; days < last; ++days) {
            const civil_date d = civil_from_days(days), previous = civil_from_days(days - 1);
            const std::int64_t start = zone->start_of_day(d);
            ASSERT_EQ(zone->date_at(start), d) << name << " " << utc_text(start);
            ASSERT_EQ(zone->date_at(start - 1), previous) << name << " " << utc_text(start);
            ASSERT_EQ(glibc_zone::date(start), d) << name << " " << utc_text(start);
            ASSERT_EQ(glibc_zone::date(start - 1), previous) << name << " " << utc_text(start);

            tm wanted{};
            wanted.tm_year = d.year - 1900;
            wanted.tm_mon = static_cast<int>(d.month) - 1;
            wanted.tm_mday = static_cast<int>(d.day);
            wanted.tm_isdst = -1;
            const std::int64_t mk = ::mktime(&wanted);
            const tm at_mk = glibc_zone::local(mk);
            const tm at_start = glibc_zone::local(start);
            const bool midnight_exists = glibc_zone::date(mk) == d && at_mk.tm_hour == 0 &&
                                         at_mk.tm_min == 0 && at_mk.tm_sec == 0;
            if (midnight_exists) {
                ASSERT_TRUE(at_start.tm_hour == 0 && at_start.tm_min == 0 && at_start.tm_sec == 0)
                    << name << " " << utc_text(start);
                if (start != mk) {
                    // Midnight happens twice; glibc picked the second, we want the first.
                    ASSERT_LT(start, mk) << name << " " << utc_text(start);
                    ++repeats;
                }
            } else {
                // Midnight is skipped: the day starts where the gap ends, at a change.
                ASSERT_NE(glibc_zone::offset(start), glibc_zone::offset(start - 1))
                    << name << " " << utc_text(start);
                ++gaps;
            }
        }
    }
    // Havana and Santiago skip midnight every spring in this period; check that those cases ran.
    EXPECT_GT(gaps, 20);
    std::printf(
        "[ info ] start_of_day: %d skipped midnights, %d repeated ones glibc resolved "
        "to the second\n",
        gaps, repeats);
}

TEST(TimeZone, LocateRejectsBadNames) {
    const char* bad[] = {"",
                         "../etc/passwd",
                         "/etc/passwd",
                         "Europe/../../x",
                         "Europe/./Paris",
                         "..",
                         "Europe//Paris",
                         "Europe/Paris/",
                         "Europe/Paris\n",
                         "Europe/Par is",
                         "Europe\\Paris",
                         "zone.tab",
                         "Mars/Olympus_Mons"};
    for (const char* name : bad) {
        std::string error;
        EXPECT_EQ(time_zone::locate(name, error), nullptr) << name;
        EXPECT_NE(error.find("time zone \""), std::string::npos) << error;
        EXPECT_EQ(error.find('\n'), std::string::npos) << error;  // one line
    }
    std::string error;
    EXPECT_EQ(time_zone::locate("Mars/Olympus_Mons", error), nullptr);
    EXPECT_NE(error.find("Mars/Olympus_Mons"), std::string::npos) << error;
    EXPECT_NE(error.find("unknown"), std::string::npos) << error;
    EXPECT_EQ(time_zone::locate(std::string(300, 'a'), error), nullptr);
}

TEST(TimeZone, UtcWorksWithoutTzdata) {
    temp_dir empty;
    ASSERT_FALSE(empty.path().empty());
    scoped_env tzdir("TZDIR", empty.path().string());
    for (const char* name : {"UTC", "Etc/UTC"}) {
        std::string error;
        const auto zone = time_zone::locate(name, error);
        ASSERT_NE(zone, nullptr) << error;
        EXPECT_EQ(zone->name(), name);
        EXPECT_EQ(zone->offset_at(1'700'000'000), 0);
    }
    std::string error;
    EXPECT_EQ(time_zone::locate("Nowhere/Zone", error), nullptr);
    EXPECT_NE(error.find("Nowhere/Zone"), std::string::npos) << error;
}

TEST(TimeZone, LocateRejectsCorruptFiles) {
    if (!have_tzdata()) {
        GTEST_SKIP() << "no tzdata in " << kZoneDir;
    }
    std::string good;
    {
        std::ifstream in(fs::path(kZoneDir) / "Europe/Paris", std::ios::binary);
        good.assign(std::istreambuf_iterator<char>(in), {});
    }
    ASSERT_GT(good.size(), 100u);
    temp_dir dir;
    ASSERT_FALSE(dir.path().empty());
    // Every truncation of a real file must be refused (the footer is the last thing).
    for (std::size_t n = 0; n < good.size(); ++n) {
        dir.write("Cut/" + std::to_string(n), good.substr(0, n));
    }
    std::string bad_footer = good;
    bad_footer.replace(bad_footer.rfind('\n', bad_footer.size() - 2) + 1, 3, "C?T");
    dir.write("Bad/Footer", bad_footer);
    dir.write("Bad/Garbage", std::string(3000, '\x5a'));
    dir.write("Bad/Text", "TZif is not enough\n");
    dir.write("Bad/Dir/Inner", good);
    dir.write("Bad/Ok", tzif_bytes(0, "UTC0"));
    scoped_env tzdir("TZDIR", dir.path().string());
    for (std::size_t n = 0; n < good.size(); ++n) {
        const std::string name = "Cut/" + std::to_string(n);
        std::string error;
        ASSERT_EQ(time_zone::locate(name, error), nullptr) << name;
        ASSERT_NE(error.find(name), std::string::npos) << error;
    }
    for (const char* name : {"Bad/Footer", "Bad/Garbage", "Bad/Text", "Bad/Dir"}) {
        std::string error;
        EXPECT_EQ(time_zone::locate(name, error), nullptr) << name;
        EXPECT_NE(error.find(name), std::string::npos) << error;
    }
    EXPECT_NE(must_locate("Bad/Ok"), nullptr);  // the synthetic baseline is valid
    EXPECT_NE(must_locate("Bad/Dir/Inner"), nullptr);
    // Flipped bytes may or may not parse, but must never crash or hang.
    for (std::size_t i = 0; i < good.size(); i += 7) {
        std::string flipped = good;
        flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
        const std::string name = "Flip/" + std::to_string(i);
        dir.write(name, flipped);
        std::string error;
        if (const auto zone = time_zone::locate(name, error)) {
            for (std::int64_t t = -3'000'000'000; t < 5'000'000'000; t += 97 * kDay) {
                (void)zone->offset_at(t);
                (void)zone->start_of_day(civil_from_days(t / kDay));
            }
        } else {
            EXPECT_FALSE(error.empty());
        }
    }
}

TEST(TimeZone, CacheIsSharedAcrossThreads) {
    if (!have_tzdata()) {
        GTEST_SKIP() << "no tzdata in " << kZoneDir;
    }
    scoped_env tzdir("TZDIR", std::nullopt);
    std::vector<std::shared_ptr<const time_zone>> seen(8);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < seen.size(); ++i) {
        threads.emplace_back([&seen, i] {
            std::string error;
            seen[i] = time_zone::locate("Asia/Tokyo", error);
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    ASSERT_NE(seen[0], nullptr);
    for (const auto& z : seen) {
        EXPECT_EQ(z, seen[0]);
    }
}

}  // namespace
}  // namespace ditto::core
