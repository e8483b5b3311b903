#include "audio/pauses.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

namespace podfleet {
namespace {

// Builds test audio from loud tone bursts and near-silent gaps (noise at -90 dB, like dither).
class AudioBuilder {
 public:
  AudioBuilder& Tone(Millis length, float amplitude = 0.3f) {
    for (int64_t i = 0; i < ToSamples(length).count; ++i) {
      const double t = static_cast<double>(audio_.samples.size()) / kSampleRate;
      audio_.samples.push_back(amplitude *
                               static_cast<float>(std::sin(2 * std::numbers::pi * 300 * t)));
    }
    return *this;
  }
  AudioBuilder& Silence(Millis length) {
    std::uniform_real_distribution<float> noise(-3e-5f, 3e-5f);
    for (int64_t i = 0; i < ToSamples(length).count; ++i) audio_.samples.push_back(noise(rng_));
    return *this;
  }
  PcmAudio Build() const { return audio_; }

 private:
  PcmAudio audio_;
  std::mt19937 rng_{1};
};

Millis Begin(const Piece& p) { return ToMillis(p.begin); }
Millis End(const Piece& p) { return ToMillis(p.end); }
Millis Length(const Piece& p) { return ToMillis(Samples{p.end.count - p.begin.count}); }

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

TEST(Pauses, EmptyAudioHasNoPieces) { EXPECT_TRUE(SplitAtPauses(PcmAudio{}).empty()); }

TEST(Pauses, SilenceHasNoPieces) {
  EXPECT_TRUE(SplitAtPauses(AudioBuilder().Silence(3s).Build()).empty());
}

TEST(Pauses, SpeechWithoutPausesIsOnePiece) {
  auto pieces = SplitAtPauses(AudioBuilder().Tone(8s).Build());
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0].begin.count, 0);
  EXPECT_EQ(Length(pieces[0]), 8s);
}

TEST(Pauses, LeadingAndTrailingSilenceIsTrimmedToAShortMargin) {
  auto pieces = SplitAtPauses(AudioBuilder().Silence(2s).Tone(6s).Silence(2s).Build());
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_GE(Begin(pieces[0]), 1800ms);
  EXPECT_LE(Begin(pieces[0]), 2000ms);
  EXPECT_GE(End(pieces[0]), 8000ms);
  EXPECT_LE(End(pieces[0]), 8200ms);
}

TEST(Pauses, PauseSplitsPiecesThatAreLongEnough) {
  auto pieces = SplitAtPauses(AudioBuilder().Tone(6s).Silence(500ms).Tone(6s).Build());
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_LE(End(pieces[0]), 6250ms);
  EXPECT_GE(Begin(pieces[1]), 6250ms);
}

TEST(Pauses, ShortPauseDoesNotSplit) {
  auto pieces = SplitAtPauses(AudioBuilder().Tone(6s).Silence(150ms).Tone(6s).Build());
  EXPECT_EQ(pieces.size(), 1u);
}

TEST(Pauses, PauseThatIsNotQuietEnoughDoesNotSplit) {
  // 20 dB down is less than the 25 dB a pause needs.
  auto pieces = SplitAtPauses(AudioBuilder().Tone(6s).Tone(1s, 0.03f).Tone(6s).Build());
  EXPECT_EQ(pieces.size(), 1u);
}

TEST(Pauses, ShortPhrasesAreJoinedUpToTheMinimumPiece) {
  AudioBuilder b;
  for (int i = 0; i < 20; ++i) b.Tone(1s).Silence(400ms);
  auto pieces = SplitAtPauses(b.Build());
  ASSERT_GE(pieces.size(), 2u);
  for (const Piece& p : pieces) {
    EXPECT_GE(Length(p), 5s);
    EXPECT_LE(Length(p), 20s);
  }
}

TEST(Pauses, LongSpeechIsCutAtItsQuietestMoment) {
  // 30 s without a pause, but a 100 ms dip (too short to be a pause) at 14 s.
  auto pieces = SplitAtPauses(AudioBuilder().Tone(14s).Tone(100ms, 0.003f).Tone(16s).Build());
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_GE(End(pieces[0]), 14000ms);
  EXPECT_LE(End(pieces[0]), 14100ms);
  EXPECT_EQ(pieces[1].begin, pieces[0].end);
}

TEST(Pauses, PiecesRespectTheConfiguredBounds) {
  PauseOptions options;
  options.min_piece = 2s;
  options.max_piece = 4s;
  AudioBuilder b;
  for (int i = 0; i < 10; ++i) b.Tone(1500ms).Silence(300ms).Tone(7s).Silence(600ms);
  const PcmAudio audio = b.Build();
  auto pieces = SplitAtPauses(audio, options);
  ASSERT_FALSE(pieces.empty());
  for (size_t i = 0; i < pieces.size(); ++i) {
    EXPECT_LE(Length(pieces[i]), 4s + 200ms) << i;  // the bound plus the silence margins
    EXPECT_LT(pieces[i].begin, pieces[i].end);
    if (i > 0) {
      EXPECT_LE(pieces[i - 1].end, pieces[i].begin);
    }
  }
  EXPECT_LE(pieces.back().end, audio.size());
}

TEST(Pauses, LoudnessDoesNotMatterOnlyContrast) {
  auto quiet = SplitAtPauses(AudioBuilder().Tone(6s, 0.01f).Silence(500ms).Tone(6s, 0.01f).Build());
  EXPECT_EQ(quiet.size(), 2u);
}

}  // namespace
}  // namespace podfleet
