#include "ditto/middleware/budget_periods.hpp"

#include <chrono>
#include <cstdlib>

#include "ditto/store/period_scope.hpp"

namespace ditto::middleware {
namespace {

std::int64_t read_offset() {
    const char* v = std::getenv("DITTO_CALENDAR_OFFSET_SECONDS");
    if (v == nullptr || *v == '\0')
        return 0;
    char* end = nullptr;
    const long long n = std::strtoll(v, &end, 10);
    return end != nullptr && *end == '\0' ? n : 0;
}

core::civil_date first_of_month(core::civil_date d, int months_later) {
    const auto m0 = static_cast<std::int64_t>(d.month) - 1 + months_later;
    return {static_cast<std::int32_t>(d.year + m0 / 12), static_cast<std::uint32_t>(m0 % 12 + 1),
            1};
}

}  // namespace

std::int64_t calendar_offset_seconds() {
    static const std::int64_t offset = read_offset();
    return offset;
}

std::int64_t calendar_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count() +
           calendar_offset_seconds() * 1000;
}

period_span period_at(config::budget_period p, const core::time_zone& tz, std::int64_t t) {
    const auto d = tz.date_at(t);
    const auto days = core::days_from_civil(d);
    switch (p) {
        case config::budget_period::week: {
            const auto monday = days - core::weekday_from_days(days);
            return {tz.start_of_day(core::civil_from_days(monday)),
                    tz.start_of_day(core::civil_from_days(monday + 7))};
        }
        case config::budget_period::month:
            return {tz.start_of_day(first_of_month(d, 0)), tz.start_of_day(first_of_month(d, 1))};
        case config::budget_period::day:
        case config::budget_period::lifetime:
            break;
    }
    return {tz.start_of_day(d), tz.start_of_day(core::civil_from_days(days + 1))};
}

std::vector<ledger_choice> ledgers_for(const std::string& scope_id, const config::budget_config& b,
                                       const core::time_zone& tz, std::int64_t now) {
    if (b.period == config::budget_period::lifetime)
        return {{scope_id}};
    // The stores compare the windows with their own clock, which the calendar offset shifts
    // like ours.
    const auto shift = calendar_offset_seconds();
    const auto choice = [&](period_span s) {
        return ledger_choice{store::period_scope_id(scope_id, s.start, s.end), 0, 0,
                             s.end - shift + period_ledger_retention_seconds};
    };
    const auto span = period_at(b.period, tz, now);
    std::vector<ledger_choice> out{choice(span)};
    if (span.end - now <= period_overlap_seconds) {
        out.push_back(choice(period_at(b.period, tz, span.end)));
        out[0].valid_until = out[1].valid_from = span.end - shift;
    } else if (now - span.start < period_overlap_seconds) {
        out.insert(out.begin(), choice(period_at(b.period, tz, span.start - 1)));
        out[0].valid_until = out[1].valid_from = span.start - shift;
    }
    return out;
}

bool period_matches(const config::budget_config& b, std::int64_t start, std::int64_t end) {
    if (b.period == config::budget_period::lifetime)
        return false;
    std::string error;
    auto zone = core::time_zone::locate(b.timezone.empty() ? "UTC" : b.timezone, error);
    if (!zone)
        zone = core::time_zone::utc();
    const auto p = period_at(b.period, *zone, start);
    return p.start == start && p.end == end;
}

}  // namespace ditto::middleware
