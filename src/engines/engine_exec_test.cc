#include "engines/engine_exec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace podfleet {
namespace {

const std::string kExample =
    std::string("python3 ") + PODFLEET_SOURCE_DIR + "/tests/engines/exec_example.py";

// Tone bursts at known places with quiet between them.
PcmAudio Bursts(const std::vector<std::pair<Millis, Millis>>& bursts, Millis total) {
  PcmAudio audio;
  audio.samples.assign(static_cast<size_t>(ToSamples(total).count), 0.0f);
  for (auto [begin, end] : bursts) {
    for (int64_t i = ToSamples(begin).count; i < ToSamples(end).count; ++i)
      audio.samples[static_cast<size_t>(i)] =
          0.3f * static_cast<float>(std::sin(2 * std::numbers::pi * 300 * i / kSampleRate));
  }
  return audio;
}

Result<std::unique_ptr<Engine>> Exec(const std::string& command, Millis timeout = Millis(30'000)) {
  EngineConfig config;
  config.name = "exec";
  config.command = command;
  config.chunk_timeout = timeout;
  config.max_chunk = Millis(20'000);
  return MakeEngine(config);
}

TEST(ExecEngine, RunsTheExampleAndPutsChunksOnOneTimeLine) {
  auto engine = Exec(kExample);
  ASSERT_TRUE(engine) << engine.error().ToString();
  // Six bursts of 3 s, 6 s apart: 20 s chunks hold at most three, so the run needs two chunks
  // and the second chunk's times must be offset by its start.
  std::vector<std::pair<Millis, Millis>> bursts;
  for (int i = 0; i < 6; ++i)
    bursts.push_back({Millis(1'000 + 6'000 * i), Millis(4'000 + 6'000 * i)});
  std::vector<double> progress;
  auto t = (*engine)->Transcribe(Bursts(bursts, Millis(38'000)),
                                 [&](double f) { progress.push_back(f); }, {});
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(t->engine, "exec");
  ASSERT_EQ(t->segments.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_NEAR(t->segments[i].start.count(), bursts[i].first.count(), 20) << i;
    EXPECT_NEAR(t->segments[i].end.count(), bursts[i].second.count(), 20) << i;
    ASSERT_EQ(t->segments[i].words.size(), 1u);
    EXPECT_EQ(t->segments[i].words[0].start, t->segments[i].start);
  }
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_DOUBLE_EQ(progress.back(), 1.0);
}

TEST(ExecEngine, FailureCarriesTheProgramsMessage) {
  auto engine = Exec(kExample + " --mode fail");
  ASSERT_TRUE(engine);
  auto t = (*engine)->Transcribe(Bursts({{Millis(500), Millis(2'000)}}, Millis(3'000)), {}, {});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Code::kInternal);
  EXPECT_NE(t.error().message.find("status 3"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("model weights not found"), std::string::npos);
}

TEST(ExecEngine, GarbageOutputIsCorruption) {
  auto engine = Exec(kExample + " --mode garbage");
  ASSERT_TRUE(engine);
  auto t = (*engine)->Transcribe(Bursts({{Millis(500), Millis(2'000)}}, Millis(3'000)), {}, {});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Code::kCorruption);
}

TEST(ExecEngine, CrashNamesTheSignal) {
  auto engine = Exec(kExample + " --mode crash");
  ASSERT_TRUE(engine);
  auto t = (*engine)->Transcribe(Bursts({{Millis(500), Millis(2'000)}}, Millis(3'000)), {}, {});
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("signal"), std::string::npos) << t.error().message;
}

TEST(ExecEngine, HangingProgramTimesOut) {
  auto engine = Exec(kExample + " --mode hang", Millis(1'000));
  ASSERT_TRUE(engine);
  auto t = (*engine)->Transcribe(Bursts({{Millis(500), Millis(2'000)}}, Millis(3'000)), {}, {});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Code::kUnavailable);
  EXPECT_NE(t.error().message.find("timed out"), std::string::npos);
}

TEST(ExecEngine, StopKillsTheProgram) {
  auto engine = Exec(kExample + " --mode hang");
  ASSERT_TRUE(engine);
  std::stop_source stop;
  auto t = (*engine)->Transcribe(
      Bursts({{Millis(500), Millis(2'000)}}, Millis(3'000)), [&](double) { stop.request_stop(); },
      stop.get_token());
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message, "command: cancelled");
}

TEST(ExecEngine, MissingProgramOrCommandIsRefused) {
  auto missing = Exec("/no/such/engine --flag");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  auto empty = Exec("  ");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace podfleet
