#include "worker/long_audio.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/temp_dir.h"

namespace podfleet {
namespace {

// `seconds` of a tone with a short pause every 2 s, written as a WAV file.
std::filesystem::path ToneFile(const TempDir& dir, double seconds) {
  PcmAudio audio;
  audio.samples.resize(static_cast<size_t>(seconds * kSampleRate));
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    const bool pause = (i % (2 * kSampleRate)) < kSampleRate / 5;
    audio.samples[i] = pause ? 0.0f : 0.2f * static_cast<float>(std::sin(i * 0.07));
  }
  const auto path = dir.path() / "episode.wav";
  EXPECT_TRUE(WriteWav(path, audio));
  return path;
}

std::unique_ptr<Engine> Simulated() {
  EngineConfig config;
  config.name = "simulated";
  config.simulated_speed = 1000;
  auto engine = MakeEngine(config);
  EXPECT_TRUE(engine) << engine.error().ToString();
  return std::move(*engine);
}

ChunkOptions Cuts(Millis target) {
  ChunkOptions cuts;
  cuts.target = target;
  cuts.search = Millis(500);
  return cuts;
}

TEST(LongAudio, LongAudioIsSpilledInPiecesAndStitchedOnTheEpisodesTimeLine) {
  TempDir dir;
  const auto source = ToneFile(dir, 13);
  auto prepared = DecodeBounded(source, dir.path() / "job-1-1-piece", Cuts(Millis(4'000)), {});
  ASSERT_TRUE(prepared) << prepared.error().ToString();
  EXPECT_TRUE(prepared->held.samples.empty());
  ASSERT_GE(prepared->spilled.size(), 3u);
  EXPECT_NEAR(static_cast<double>(prepared->duration().count()), 13'000, 20);
  Millis next{0};
  for (const SpilledPiece& p : prepared->spilled) {
    EXPECT_EQ(p.start, next);  // the pieces cover the audio, in order
    EXPECT_TRUE(std::filesystem::exists(p.file)) << p.file;
    next = p.start + p.duration;
  }

  auto engine = Simulated();
  double last_progress = 0;
  auto t = TranscribePrepared(*engine, *prepared, [&](double f) { last_progress = f; }, {});
  ASSERT_TRUE(t) << t.error().ToString();
  ASSERT_FALSE(t->segments.empty());
  EXPECT_EQ(t->segments.front().start, Millis(0));
  EXPECT_NEAR(static_cast<double>(t->segments.back().end.count()), 13'000, 20);
  for (size_t i = 1; i < t->segments.size(); ++i)
    EXPECT_EQ(t->segments[i].start, t->segments[i - 1].end);  // nothing lost or doubled
  EXPECT_NEAR(last_progress, 1.0, 1e-6);

  RemoveSpilled(*prepared);
  for (const SpilledPiece& p : prepared->spilled) EXPECT_FALSE(std::filesystem::exists(p.file));
}

TEST(LongAudio, AudioOfOnePieceIsHeld) {
  TempDir dir;
  auto prepared = DecodeBounded(ToneFile(dir, 3), dir.path() / "piece", Cuts(Millis(4'000)), {});
  ASSERT_TRUE(prepared) << prepared.error().ToString();
  EXPECT_TRUE(prepared->spilled.empty());
  EXPECT_NEAR(static_cast<double>(prepared->duration().count()), 3'000, 20);
}

TEST(LongAudio, PieceThatCannotBeWrittenFailsAndLeavesNothing) {
  TempDir dir;
  const auto source = ToneFile(dir, 13);
  auto prepared =
      DecodeBounded(source, dir.path() / "missing-folder" / "piece", Cuts(Millis(4'000)), {});
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().code, Code::kUnavailable) << prepared.error().ToString();
  EXPECT_NE(prepared.error().message.find("missing-folder"), std::string::npos);
}

}  // namespace
}  // namespace podfleet
