#include "core/stitch.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

Transcript Part(std::string text, Millis duration, Millis engine) {
  Transcript t;
  t.language = "en";
  t.engine = "pocketsphinx";
  t.model = "en-us";
  t.audio_duration = duration;
  t.engine_time = engine;
  Segment s{Millis(1'000), Millis(2'500), text, "", {}};
  s.words.push_back(Word{Millis(1'000), Millis(1'400), text, 0.9f});
  t.segments.push_back(s);
  return t;
}

TEST(Stitch, ShiftsEachChunkByItsStartAndOrdersChunks) {
  Transcript t = Stitch({{Millis(600'000), Part("second", Millis(300'000), Millis(10))},
                         {Millis(0), Part("first", Millis(600'000), Millis(20))}});
  ASSERT_EQ(t.segments.size(), 2u);
  EXPECT_EQ(t.segments[0].text, "first");
  EXPECT_EQ(t.segments[0].start, Millis(1'000));
  EXPECT_EQ(t.segments[1].text, "second");
  EXPECT_EQ(t.segments[1].start, Millis(601'000));
  EXPECT_EQ(t.segments[1].end, Millis(602'500));
  EXPECT_EQ(t.segments[1].words[0].start, Millis(601'000));
  EXPECT_EQ(t.segments[1].words[0].end, Millis(601'400));
  EXPECT_EQ(t.audio_duration, Millis(900'000));
  EXPECT_EQ(t.engine_time, Millis(30));
  EXPECT_EQ(t.engine, "pocketsphinx");
  EXPECT_EQ(t.Text(), "first second");
}

TEST(Stitch, OneWholeChunkIsUnchanged) {
  Transcript t = Stitch({{Millis(0), Part("only", Millis(5'000), Millis(7))}});
  ASSERT_EQ(t.segments.size(), 1u);
  EXPECT_EQ(t.segments[0].start, Millis(1'000));
  EXPECT_EQ(t.audio_duration, Millis(5'000));
}

TEST(Stitch, NothingGivesAnEmptyTranscript) {
  Transcript t = Stitch({});
  EXPECT_TRUE(t.segments.empty());
  EXPECT_EQ(t.audio_duration, Millis(0));
}

}  // namespace
}  // namespace podfleet
