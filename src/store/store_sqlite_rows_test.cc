#include "store/store_sqlite_rows.h"

#include <gtest/gtest.h>

#include "store/store_test_util.h"

namespace podfleet {
namespace {

TEST(SqliteRows, SegmentsRoundTripThroughJson) {
  const Transcript t = TestTranscript();
  std::vector<Segment> back = Must(DecodeSegments(EncodeSegments(t.segments)));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].words.size(), 2u);
  EXPECT_EQ(back[0].words[1].start, Millis(701));
  EXPECT_EQ(back[0].words[1].confidence, 0.875f);
  EXPECT_EQ(back[1].text, t.segments[1].text);
  EXPECT_EQ(EncodeSegments({}), "[]");
}

TEST(SqliteRows, InvalidUtf8IsReplacedNotFatal) {
  Segment s{Millis(0), Millis(1), "bad \xff\xfe byte", "", {}};
  std::vector<Segment> back = Must(DecodeSegments(EncodeSegments({s})));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].text, "bad \xef\xbf\xbd\xef\xbf\xbd byte");
}

TEST(SqliteRows, DamagedSegmentsAreCorruption) {
  for (const char* json : {
           "",
           "[",
           "{}",
           "null",
           "[1]",
           "[{}]",
           R"([{"start": 0, "end": 1, "text": "x", "speaker": ""}])",
           R"([{"start": "0", "end": 1, "text": "x", "speaker": "", "words": []}])",
           R"([{"start": 0, "end": 1, "text": "x", "speaker": "", "words": {"a": 1}}])",
           R"([{"start": 0, "end": 1, "text": "x", "speaker": "", "words": [[0, 1, "w"]]}])",
           R"([{"start": 0, "end": 1, "text": "x", "speaker": "", "words": [[0, 1, 2, 3]]}])",
       }) {
    EXPECT_CODE(DecodeSegments(json), Code::kCorruption) << json;
  }
}

TEST(SqliteRows, DamagedLinksAndHardwareAreCorruption) {
  for (const char* json : {"x", "{}", R"([{"url": 1}])", R"([{"url": "u"}])"}) {
    EXPECT_CODE(DecodeLinks(json), Code::kCorruption) << json;
  }
  for (const char* json : {"[]", "{}", R"({"cpu_model": "x", "cpu_cores": 1, "memory_mb": 1,
                                           "os": "", "gpus": {}})"}) {
    EXPECT_CODE(DecodeHardware(json), Code::kCorruption) << json;
  }
}

TEST(SqliteRows, HardwareRoundTrips) {
  const Hardware hw{"Xeon", 8, 32'768, "Linux", {{"A10", "535", 24'000}, {"T4", "535", 16'000}}};
  Hardware back = Must(DecodeHardware(EncodeHardware(hw)));
  EXPECT_EQ(back.cpu_model, "Xeon");
  EXPECT_EQ(back.cpu_cores, 8);
  EXPECT_EQ(back.memory_mb, 32'768);
  EXPECT_EQ(back.os, "Linux");
  ASSERT_EQ(back.gpus.size(), 2u);
  EXPECT_EQ(back.gpus[1].name, "T4");
  EXPECT_EQ(back.gpus[1].memory_mb, 16'000);
}

}  // namespace
}  // namespace podfleet
