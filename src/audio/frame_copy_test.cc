#include "audio/frame_copy.h"

#include <gtest/gtest.h>

#include <cmath>

#include "audio/audio.h"
#include "core/growing_file.h"
#include "support/speech.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

std::filesystem::path Encoded(std::string_view format) {
  auto wav = SpeechWav(kSpeech60s);
  EXPECT_TRUE(wav) << wav.error().ToString();
  auto path = EncodeAudio(*wav, format);
  EXPECT_TRUE(path) << path.error().ToString();
  return *path;
}

// The shift, in samples, at which `chunk` (from its start) best matches `whole` from `at`: where
// the chunk's audio really sits against the times it was given.
int64_t Lag(const std::vector<float>& whole, int64_t at, const std::vector<float>& chunk) {
  constexpr int64_t kSpan = 2 * kSampleRate;
  constexpr int64_t kMaxLag = kSampleRate / 10;  // 100 ms either way
  int64_t best = 0;
  double best_error = INFINITY;
  for (int64_t lag = -kMaxLag; lag <= kMaxLag; ++lag) {
    double error = 0;
    for (int64_t i = kSampleRate; i < kSampleRate + kSpan; ++i) {
      const double d = chunk[static_cast<size_t>(i)] - whole[static_cast<size_t>(at + i + lag)];
      error += d * d;
    }
    if (error < best_error) best_error = error, best = lag;
  }
  return best;
}

class FrameCopyTest : public ::testing::TestWithParam<const char*> {};

// Three chunks of the 60 s speech cut at 20 s and 40 s: frame-aligned ends just past the cuts,
// each chunk's length what its times say, and its audio where its start says, within a frame.
TEST_P(FrameCopyTest, ChunksLineUpWithTheWholeFileWithinAFrame) {
  const auto source = Encoded(GetParam());
  TempDir dir;
  GrowingFile file(source);
  file.Finished(source);
  auto copier = FrameCopier::Open(file, "speech");
  ASSERT_TRUE(copier) << copier.error().ToString();
  EXPECT_EQ((*copier)->extension(), std::string(GetParam()) == "mp3" ? "mp3" : "aac");
  EXPECT_GT((*copier)->bit_rate(), 32'000);
  auto whole = DecodeAudioFile(source);
  ASSERT_TRUE(whole);

  // The longest frame here: the test speech is 16 kHz, where an AAC frame (1024 samples) lasts
  // 64 ms and an MP3 frame (576) 36 ms; at a podcast's 44.1 kHz, 23 and 26 ms.
  const Millis frame(65);
  std::vector<Millis> starts = {Millis(0)};
  std::vector<std::optional<Millis>> cuts = {Millis(20'000), Millis(40'000), std::nullopt};
  for (size_t i = 0; i < cuts.size(); ++i) {
    const auto path = dir.path() / ("c" + std::to_string(i) + "." + (*copier)->extension());
    auto end = (*copier)->Copy(starts[i], cuts[i], path);
    ASSERT_TRUE(end) << end.error().ToString();
    if (cuts[i]) {
      EXPECT_GE(*end, *cuts[i]);
      EXPECT_LT(*end, *cuts[i] + frame);
    } else {
      EXPECT_NEAR(static_cast<double>(end->count()), static_cast<double>(whole->duration().count()),
                  static_cast<double>(2 * frame.count()));
    }
    auto chunk = DecodeAudioFile(path);
    ASSERT_TRUE(chunk) << chunk.error().ToString();
    EXPECT_NEAR(static_cast<double>(chunk->duration().count()),
                static_cast<double>((*end - starts[i]).count()),
                static_cast<double>(2 * frame.count()))
        << "chunk " << i;
    if (i > 0) {
      const int64_t lag = Lag(whole->samples, ToSamples(starts[i]).count, chunk->samples);
      std::printf("%s chunk %zu: audio %+.1f ms from its start time\n", GetParam(), i,
                  static_cast<double>(lag) * 1000.0 / kSampleRate);
      EXPECT_LE(std::abs(lag), ToSamples(frame).count) << "chunk " << i;
    }
    starts.push_back(*end);
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, FrameCopyTest, ::testing::Values("mp3", "m4a"));

TEST(FrameCopy, RefusesWhatItDoesNotCopy) {
  for (const char* format : {"opus", "flac", "aac"}) {
    const auto source = Encoded(format);
    GrowingFile file(source);
    file.Finished(source);
    auto copier = FrameCopier::Open(file, "speech");
    ASSERT_FALSE(copier) << format;
    EXPECT_EQ(copier.error().code, Code::kInvalidArgument) << copier.error().ToString();
  }
}

}  // namespace
}  // namespace podfleet
