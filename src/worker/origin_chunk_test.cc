#include "worker/origin_chunk.h"

#include <gtest/gtest.h>

#include <fstream>

#include "audio/audio.h"
#include "support/files.h"
#include "support/range_origin.h"
#include "support/speech.h"

namespace podfleet {
namespace {

class OriginChunkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto wav = SpeechWav(kSpeech60s);
    ASSERT_TRUE(wav) << wav.error().ToString();
    auto m4a = EncodeAudio(*wav, "m4a");
    ASSERT_TRUE(m4a) << m4a.error().ToString();
    file_ = *m4a;
  }

  // Three seam chunks of the 60 s episode as a coordinator plans them: boundaries at 20 s and
  // 40 s, searched 5 s either side.
  static std::vector<Chunk> Planned() {
    const Millis seam(5'000);
    return {Chunk{0, 3, Millis(0), Millis(25'000), false, seam},
            Chunk{1, 3, Millis(15'000), Millis(45'000), false, seam},
            Chunk{2, 3, Millis(35'000), std::nullopt, false, seam}};
  }

  std::filesystem::path file_;
  std::unique_ptr<HttpClient> http_ = MakeCurlClient(HttpClientOptions{});
};

TEST(SeamPlanOf, BoundariesLieOneSeamInsideTheChunk) {
  const SeamPlan first = SeamPlanOf(Chunk{0, 3, Millis(0), Millis(25'000), false, Millis(5'000)});
  EXPECT_FALSE(first.begin);
  EXPECT_EQ(first.end, Millis(20'000));
  const SeamPlan last = SeamPlanOf(Chunk{2, 3, Millis(35'000), std::nullopt, false, Millis(5'000)});
  EXPECT_EQ(last.begin, Millis(40'000));
  EXPECT_FALSE(last.end);
  EXPECT_EQ(SeamStart(last, SeamOptions{.search = Millis(5'000)}), Millis(35'000));
}

// The chunks read from the origin are the whole audio, each starting on the episode's time line
// (chunk start + offset) where the one before it ended; no chunk fetches the whole file.
TEST_F(OriginChunkTest, ChunksFollowEachOtherOnTheEpisodesTimeLine) {
  const std::string bytes = ReadAll(file_);
  RangeOrigin origin(bytes);
  auto whole = DecodeAudioFile(file_);
  ASSERT_TRUE(whole) << whole.error().ToString();
  Millis expected_start(0);
  int64_t samples = 0;
  for (const Chunk& chunk : Planned()) {
    auto read = ReadOriginChunk(*http_, origin.Url(), chunk, {.block_bytes = 16 * 1024});
    ASSERT_TRUE(read) << read.error().ToString();
    const Millis starts_at = chunk.start + read->offset;
    EXPECT_NEAR(static_cast<double>(starts_at.count()), static_cast<double>(expected_start.count()),
                30)
        << "chunk " << chunk.index;
    expected_start = starts_at + read->audio.duration();
    samples += std::ssize(read->audio.samples);
    EXPECT_LT(read->traffic.bytes, std::ssize(bytes)) << "chunk " << chunk.index;
  }
  EXPECT_NEAR(static_cast<double>(samples), static_cast<double>(whole->samples.size()),
              ToSamples(Millis(40)).count);
}

// An origin that stops honouring Range fails the chunk, naming why; it never yields other audio.
TEST_F(OriginChunkTest, AnOriginIgnoringRangeFailsTheChunk) {
  RangeOrigin origin(ReadAll(file_), RangeOrigin::Mode::kIgnore);
  auto read = ReadOriginChunk(*http_, origin.Url(), Planned()[1], {.block_bytes = 16 * 1024});
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, Code::kInvalidArgument);
  EXPECT_NE(read.error().message.find("Range"), std::string::npos) << read.error().message;
}

TEST(ShiftOntoChunk, SegmentsWordsAndDurationMoveByTheOffset) {
  Transcript t;
  t.engine = "e";
  t.audio_duration = Millis(10'000);
  t.engine_time = Millis(500);
  t.segments.push_back(Segment{Millis(1'000), Millis(2'000), "hi", "", {}});
  t.segments[0].words.push_back(Word{Millis(1'000), Millis(1'500), "hi"});
  ShiftOntoChunk(t, Millis(3'250));
  EXPECT_EQ(t.engine, "e");
  EXPECT_EQ(t.engine_time, Millis(500));
  EXPECT_EQ(t.audio_duration, Millis(13'250));
  ASSERT_EQ(t.segments.size(), 1u);
  EXPECT_EQ(t.segments[0].start, Millis(4'250));
  EXPECT_EQ(t.segments[0].end, Millis(5'250));
  EXPECT_EQ(t.segments[0].words[0].end, Millis(4'750));
}

}  // namespace
}  // namespace podfleet
