#include "worker/speed_probe.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>

#include "audio/pauses.h"
#include "support/speech.h"

namespace podfleet {
namespace {

TEST(SpeedProbe, ClipIsShortDeterministicAndSpeechShaped) {
  const PcmAudio a = SpeedProbeClip();
  const PcmAudio b = SpeedProbeClip();
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_GT(a.duration(), Millis(6'000));
  EXPECT_LT(a.duration(), Millis(12'000));
  // Pauses where phrases end, so chunking engines see pieces as they would in speech.
  EXPECT_GE(SplitAtPauses(a, {.min_piece = Millis(1'000)}).size(), 2u);
}

TEST(SpeedProbe, MeasuresTheEnginesRealtimeFactor) {
  EngineConfig config;
  config.name = "simulated";
  config.simulated_speed = 40;  // the clip takes about 0.23 s
  auto engine = MakeEngine(config);
  ASSERT_TRUE(engine);
  auto speed = MeasureEngineSpeed(**engine, {});
  ASSERT_TRUE(speed) << speed.error().ToString();
  EXPECT_GT(*speed, 20);
  EXPECT_LE(*speed, 41);
}

TEST(SpeedProbe, StopCancels) {
  EngineConfig config;
  config.name = "simulated";
  config.simulated_speed = 0.01;
  auto engine = MakeEngine(config);
  ASSERT_TRUE(engine);
  std::stop_source stop;
  stop.request_stop();
  auto speed = MeasureEngineSpeed(**engine, stop.get_token());
  ASSERT_FALSE(speed);
  EXPECT_EQ(speed.error().code, Code::kUnavailable);
}

// How the probe's figure compares with real speech, for doc/engines.md (not a test: timing).
TEST(SpeedProbe, DISABLED_ComparePocketSphinxOnClipAndSpeech) {
  EngineConfig config;
  config.threads = 1;
  auto engine = MakeEngine(config);
  ASSERT_TRUE(engine);
  auto speech = SpeechAudio(kSpeech15s);
  ASSERT_TRUE(speech) << speech.error().ToString();
  for (int run = 0; run < 3; ++run) {
    auto probe = MeasureEngineSpeed(**engine, {});
    const auto started = std::chrono::steady_clock::now();
    auto t = (*engine)->Transcribe(*speech, {}, {});
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ASSERT_TRUE(probe && t);
    fmt::print("run {}: probe {:.2f}x, speech {:.2f}x\n", run, *probe,
               speech->duration().count() / 1000.0 / wall);
  }
}

}  // namespace
}  // namespace podfleet
