#include "engines/engine_simulated.h"

#include <gtest/gtest.h>

#include <thread>

namespace podfleet {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono_literals::operator""ms;

PcmAudio Zeros(Millis length) {
  PcmAudio audio;
  audio.samples.assign(static_cast<size_t>(ToSamples(length).count), 0.0f);
  return audio;
}

std::unique_ptr<Engine> Simulated(double speed) {
  EngineConfig config;
  config.name = "simulated";
  config.simulated_speed = speed;
  auto engine = MakeSimulatedEngine(config);
  EXPECT_TRUE(engine);
  return engine ? std::move(*engine) : nullptr;
}

TEST(SimulatedEngine, TakesAudioDurationOverSpeed) {
  const auto started = Clock::now();
  auto t = Simulated(600)->Transcribe(Zeros(Millis(60'000)), {}, {});  // 100 ms
  const auto took = Clock::now() - started;
  ASSERT_TRUE(t);
  EXPECT_GE(took, 95ms);
  EXPECT_LT(took, 1000ms);
  EXPECT_GE(t->engine_time, 95ms);
}

TEST(SimulatedEngine, SaysItIsSimulatedEverywhere) {
  auto engine = Simulated(1000);
  EXPECT_EQ(engine->info().name, "simulated");
  EXPECT_EQ(engine->info().model, "simulated");
  EXPECT_FALSE(engine->info().gives_words);
  auto t = engine->Transcribe(Zeros(Millis(25'000)), {}, {});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->engine, "simulated");
  EXPECT_EQ(t->model, "simulated");
  EXPECT_EQ(t->audio_duration, Millis(25'000));
  ASSERT_EQ(t->segments.size(), 3u);
  EXPECT_EQ(t->segments[0].start, Millis(0));
  EXPECT_EQ(t->segments[1].start, Millis(10'000));
  EXPECT_EQ(t->segments[2].start, Millis(20'000));
  EXPECT_EQ(t->segments[2].end, Millis(25'000));
  for (const Segment& s : t->segments) EXPECT_EQ(s.text, "[simulated]");
}

TEST(SimulatedEngine, ReportsProgressUpToOne) {
  std::vector<double> seen;
  auto t = Simulated(10'000)->Transcribe(Zeros(Millis(45'000)),
                                         [&](double f) { seen.push_back(f); }, {});
  ASSERT_TRUE(t);
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_DOUBLE_EQ(seen.back(), 1.0);
}

TEST(SimulatedEngine, StopInterruptsTheSleep) {
  std::stop_source stop;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(50ms);
    stop.request_stop();
  });
  const auto started = Clock::now();
  auto t = Simulated(1)->Transcribe(Zeros(Millis(60'000)), {}, stop.get_token());  // 60 s if not
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Code::kUnavailable);
  EXPECT_EQ(t.error().message, "cancelled");
  EXPECT_LT(Clock::now() - started, 2000ms);
}

TEST(SimulatedEngine, EmptyAudioGivesNoSegments) {
  auto t = Simulated(1)->Transcribe(PcmAudio{}, {}, {});
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->segments.empty());
}

TEST(SimulatedEngine, NonPositiveSpeedIsInvalidArgument) {
  EngineConfig config;
  config.name = "simulated";
  config.simulated_speed = 0;
  auto engine = MakeSimulatedEngine(config);
  ASSERT_FALSE(engine);
  EXPECT_EQ(engine.error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace podfleet
