#include "ditto/core/rfc3339.hpp"

#include <gtest/gtest.h>

namespace ditto::core {
namespace {

TEST(Rfc3339, ParsesOffsetsAndFractions) {
    EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(parse_rfc3339_ms("2030-01-01T00:00:00Z"), 1'893'456'000'000);
    EXPECT_EQ(parse_rfc3339_ms("2030-01-01t01:00:00+01:00"), 1'893'456'000'000);
    EXPECT_EQ(parse_rfc3339_ms("2029-12-31T18:30:00-05:30"), 1'893'456'000'000);
    EXPECT_EQ(parse_rfc3339_ms("2030-01-01T00:00:00.1234567z"), 1'893'456'000'123);
    EXPECT_EQ(parse_rfc3339_ms("2024-02-29T00:00:00Z"), 1'709'164'800'000);
    EXPECT_EQ(parse_rfc3339_ms("1969-12-31T23:59:59Z"), -1000);
}

TEST(Rfc3339, RefusesWhatIsNotRfc3339) {
    for (const char* bad :
         {"", "2030-01-01", "2030-01-01T00:00:00", "2030-01-01 00:00:00Z", "2030-1-01T00:00:00Z",
          "2030-01-01T00:00:00.Z", "2030-01-01T24:00:00Z", "2030-01-01T00:00:60Z",
          "2023-02-29T00:00:00Z", "2030-13-01T00:00:00Z", "2030-01-01T00:00:00+0100",
          "2030-01-01T00:00:00Zjunk", "2030-01-01T00:00:00.1234567890Z"}) {
        EXPECT_EQ(parse_rfc3339_ms(bad), std::nullopt) << bad;
    }
}

TEST(Rfc3339, FormatsUtcAndRoundTrips) {
    EXPECT_EQ(format_rfc3339_utc(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(format_rfc3339_utc(1'893'456'000'123), "2030-01-01T00:00:00.123Z");
    EXPECT_EQ(format_rfc3339_utc(-1000), "1969-12-31T23:59:59Z");
    for (std::int64_t ms = -86'400'000LL * 400; ms < 86'400'000LL * 40'000; ms += 7'777'777'777)
        EXPECT_EQ(parse_rfc3339_ms(format_rfc3339_utc(ms)), ms);
}

}  // namespace
}  // namespace ditto::core
