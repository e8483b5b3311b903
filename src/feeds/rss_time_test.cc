#include <gtest/gtest.h>

#include <chrono>

#include "feeds/rss.h"

namespace podfleet {
namespace {

TimePoint Utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0, int ms = 0) {
  return TimePoint(std::chrono::sys_days(std::chrono::year(y) / m / d).time_since_epoch()) +
         std::chrono::hours(hh) + std::chrono::minutes(mm) + std::chrono::seconds(ss) + Millis(ms);
}

// ---- itunes:duration ---------------------------------------------------------------------------

TEST(ItunesDuration, ReadsEveryDocumentedForm) {
  EXPECT_EQ(ParseItunesDuration("3600"), Millis(3600000));
  EXPECT_EQ(ParseItunesDuration("3600.5"), Millis(3600500));
  EXPECT_EQ(ParseItunesDuration("59:59"), Millis(3599000));
  EXPECT_EQ(ParseItunesDuration("5:07"), Millis(307000));
  EXPECT_EQ(ParseItunesDuration("1:02:03"), Millis(3723000));
  EXPECT_EQ(ParseItunesDuration("01:02:03"), Millis(3723000));
  EXPECT_EQ(ParseItunesDuration("01:02:03.250"), Millis(3723250));
  EXPECT_EQ(ParseItunesDuration("0"), Millis(0));
  EXPECT_EQ(ParseItunesDuration("00:00:00"), Millis(0));
}

TEST(ItunesDuration, ToleratesSloppyButUnambiguousForms) {
  EXPECT_EQ(ParseItunesDuration("  1800 \n"), Millis(1800000));
  EXPECT_EQ(ParseItunesDuration("75:00"), Millis(4500000));  // minutes past the hour
  EXPECT_EQ(ParseItunesDuration("1:2:3"), Millis(3723000));
  EXPECT_EQ(ParseItunesDuration("12.3456789"), Millis(12345));
  EXPECT_EQ(ParseItunesDuration("100:00:00"), Millis(int64_t{360000} * 1000));
}

TEST(ItunesDuration, RejectsNegativeJunkAndOutOfRangeFields) {
  for (const char* bad : {"",
                          " ",
                          "-1",
                          "-1:00",
                          "+5",
                          "abc",
                          "1h30m",
                          "45 min",
                          "1:60:00",
                          "1:00:60",
                          "1::2",
                          ":30",
                          "30:",
                          "1:2:3:4",
                          "1.5:30",
                          "3600.",
                          ".5",
                          "1e3",
                          "0x10",
                          "12 34",
                          "99999999999:00",
                          "99999999999999999999"}) {
    EXPECT_EQ(ParseItunesDuration(bad), std::nullopt) << "'" << bad << "'";
  }
}

// ---- pubDate -----------------------------------------------------------------------------------

TEST(FeedDate, ReadsRfc822WithNamedZones) {
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 13:00:00 GMT"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 13:00:00 UT"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 13:00:00 UTC"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 13:00:00 Z"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 08:00:00 EST"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 09:00:00 EDT"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 07:00:00 CST"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 08:00:00 CDT"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 06:00:00 MST"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 07:00:00 MDT"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 05:00:00 PST"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 06:00:00 PDT"), Utc(2002, 10, 2, 13));
}

TEST(FeedDate, ReadsRfc822NumericZones) {
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 15:00:00 +0200"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 08:30:00 -0430"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 13:00:00 -0000"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 18:30:00 +05:30"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Thu, 01 Jan 1970 00:30:00 +0100"), Utc(1969, 12, 31, 23, 30));
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 13:00:00 +0000 (UTC)"), Utc(2002, 10, 2, 13));
}

TEST(FeedDate, ReadsRfc822Variants) {
  EXPECT_EQ(ParseFeedDate("02 Oct 2002 13:00:00 GMT"), Utc(2002, 10, 2, 13));   // no weekday
  EXPECT_EQ(ParseFeedDate("Wed, 2 Oct 2002 13:00 GMT"), Utc(2002, 10, 2, 13));  // no seconds
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 02 13:00:00 GMT"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Sat, 02 Oct 99 13:00:00 GMT"), Utc(1999, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("wednesday, 02 october 2002 13:00:00 gmt"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("Thu, 12 Sept. 2024 06:05:04 GMT"), Utc(2024, 9, 12, 6, 5, 4));
  EXPECT_EQ(ParseFeedDate("Wed 02 Oct 2002 13:00:00"), Utc(2002, 10, 2, 13));  // no zone: UTC
  EXPECT_EQ(ParseFeedDate("  Mon, 29 Feb 2016 23:59:59 GMT  "), Utc(2016, 2, 29, 23, 59, 59));
  // A wrong weekday is common and harmless; the date itself decides.
  EXPECT_EQ(ParseFeedDate("Mon, 02 Oct 2002 13:00:00 GMT"), Utc(2002, 10, 2, 13));
}

TEST(FeedDate, ReadsIso8601) {
  EXPECT_EQ(ParseFeedDate("2002-10-02T13:00:00Z"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("2002-10-02T15:00:00+02:00"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("2002-10-02T08:00:00-0500"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("2002-10-02T13:00:00.250Z"), Utc(2002, 10, 2, 13, 0, 0, 250));
  EXPECT_EQ(ParseFeedDate("2002-10-02T13:00Z"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("2002-10-02 13:00:00"), Utc(2002, 10, 2, 13));
  EXPECT_EQ(ParseFeedDate("2002-10-02"), Utc(2002, 10, 2));
  EXPECT_EQ(ParseFeedDate("2002-10-02t13:00:00z"), Utc(2002, 10, 2, 13));
}

TEST(FeedDate, RejectsJunkAndImpossibleDates) {
  for (const char* bad : {"",
                          "   ",
                          "yesterday",
                          "Wed, 30 Feb 2002 13:00:00 GMT",
                          "Wed, 02 Foo 2002 13:00:00 GMT",
                          "Wed, 02 Oct 2002 24:00:00 GMT",
                          "Wed, 02 Oct 2002 13:60:00 GMT",
                          "Wed, 02 Oct 2002 13:00:00 XYZ",
                          "Wed, 02 Oct 2002 13:00:00 +2500",
                          "Wed, 02 Oct 2002 13:00:00 GMT trailing",
                          "Wed, 02 Oct 2002",
                          "Xyz, 02 Oct 2002 13:00 GMT",
                          "2002-13-01",
                          "2002-02-30T00:00:00Z",
                          "2002-10-02T13",
                          "2002-10-02T13:00:00+",
                          "20021002",
                          "0000-01-01",
                          "Wed, 02 Oct 2002 13:00:00 GMT (unclosed",
                          "Mi, 02 Okt 2002 13:00:00 +0200"}) {
    EXPECT_EQ(ParseFeedDate(bad), std::nullopt) << "'" << bad << "'";
  }
}

// Dates as feeds in the wild write them, each with the instant it means.
TEST(FeedDate, ReadsTheTableOfZonesOffsetsAndMalformedVariants) {
  const TimePoint t = Utc(2024, 3, 5, 13);
  const std::pair<const char*, TimePoint> table[] = {
      {"Tue, 05 Mar 2024 14:00:00 CET", t},
      {"Tue, 05 Mar 2024 15:00:00 CEST", t},
      {"Tue, 05 Mar 2024 14:00:00 BST", t},
      {"Tue, 05 Mar 2024 15:00:00 EET", t},
      {"Tue, 05 Mar 2024 16:00:00 EEST", t},
      {"Tue, 05 Mar 2024 16:00:00 MSK", t},
      {"Tue, 05 Mar 2024 18:30:00 IST", t},
      {"Tue, 05 Mar 2024 22:00:00 JST", t},
      {"Tue, 05 Mar 2024 23:00:00 AEST", t},
      {"Wed, 06 Mar 2024 00:00:00 AEDT", t},
      {"Wed, 06 Mar 2024 02:00:00 NZDT", t},
      {"Tue, 05 Mar 2024 04:00:00 AKST", t},
      {"Tue, 05 Mar 2024 09:30:00 NST", t},
      {"Tue, 05 Mar 2024 09:00:00 GMT-0400", t},
      {"Tue, 05 Mar 2024 18:30:00 GMT+05:30", t},
      {"Tue, 05 Mar 2024 15:00:00 UTC+2", t},
      {"Tue, 05 Mar 2024 18:45:00 +0545", t},
      {"Tue, 05 Mar 2024 18:30:00 +530", t},
      {"Tue, 05 Mar 2024 15:00:00 +2", t},
      {"Tue, 05 Mar 2024 03:00:00 -10:00", t},
      {"Tues, 05 Mar 2024 13:00:00 GMT", t},
      {"Tue. 5 Mar 2024 13:00:00 GMT", t},
      {"Tue, 5 Mar, 2024 13:00:00 GMT", t},
      {"05-Mar-2024 13:00:00 GMT", t},
      {"Tue, 05 March 2024 1:00 PM GMT", t},
      {"Tue, 05 Mar 2024 12:00:00 am EST", Utc(2024, 3, 5, 5)},
      {"Tue, 05 Mar 2024 13:00:00GMT", t},
      {"Tue, 05 Mar 24 13:00:00 +0000", t},
      {"2024-03-05T13:00:00Z", t},
      {"2024-03-05T14:00:00.123456789+01:00", t + Millis(123)},
      {"2024-03-05T13:00:00,5Z", t + Millis(500)},
      {"2024-03-05 08:00:00 -0500", t},
      {"2024-03-05T13:00:00 GMT", t},
  };
  for (const auto& [text, want] : table) EXPECT_EQ(ParseFeedDate(text), want) << "'" << text << "'";
}

TEST(FeedDate, RejectsOffsetsBeyondFourteenHoursAndStrayMeridiems) {
  for (const char* bad : {"Tue, 05 Mar 2024 13:00:00 +1500", "Tue, 05 Mar 2024 13:00:00 GMT+15",
                          "Tue, 05 Mar 2024 13:00:00 PM GMT", "Tue, 05 Mar 2024 00:00 AM GMT",
                          "Tue, 05 Mar 2024 13:00:00 CEST+0100"}) {
    EXPECT_EQ(ParseFeedDate(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(FeedDate, HostileInputNeverCrashes) {
  EXPECT_EQ(ParseFeedDate(std::string(100000, '9')), std::nullopt);
  EXPECT_EQ(ParseFeedDate("Wed, 99999999999999999999 Oct 2002 13:00 GMT"), std::nullopt);
  EXPECT_EQ(ParseFeedDate(std::string_view("2002-10-02\0T13:00", 17)), std::nullopt);
  EXPECT_EQ(ParseFeedDate("Wed, 02 Oct 2002 13:00:00 (" + std::string(100000, 'x')), std::nullopt);
}

}  // namespace
}  // namespace podfleet
