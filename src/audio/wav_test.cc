#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "audio/audio.h"
#include "support/speech.h"

namespace podfleet {
namespace {

TEST(WriteWav, RoundTripsThroughTheDecoder) {
  PcmAudio tone;
  for (int i = 0; i < kSampleRate; ++i) {
    tone.samples.push_back(
        0.5f * static_cast<float>(std::sin(2 * std::numbers::pi * 440 * i / kSampleRate)));
  }
  const auto path = TestRunDir() / "tone.wav";
  ASSERT_TRUE(WriteWav(path, tone));
  auto back = DecodeAudioFile(path);
  ASSERT_TRUE(back) << back.error().ToString();
  ASSERT_EQ(back->samples.size(), tone.samples.size());
  for (size_t i = 0; i < tone.samples.size(); ++i) {
    ASSERT_NEAR(back->samples[i], tone.samples[i], 2.0 / 32767) << i;
  }
}

TEST(WriteWav, ClipsSamplesOutsideTheRange) {
  PcmAudio loud{{2.0f, -2.0f}};
  const auto path = TestRunDir() / "clipped.wav";
  ASSERT_TRUE(WriteWav(path, loud));
  auto back = DecodeAudioFile(path);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->samples.size(), 2u);
  EXPECT_NEAR(back->samples[0], 1.0f, 1e-4);
  EXPECT_NEAR(back->samples[1], -1.0f, 1e-4);
}

TEST(WriteWav, UnwritablePathIsAnError) {
  auto r = WriteWav(TestRunDir() / "no-such-dir" / "x.wav", PcmAudio{{0.0f}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
}

}  // namespace
}  // namespace podfleet
