#include "coordinator/audio_path.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

// 8 pods at 87x behind a 2-core relay that prepares Opus at 500x and copies at 1,800x.
AudioPathFacts EightPods() {
  AudioPathFacts f;
  f.fleet_speed = 8 * 87;
  f.opus_capacity = 500;
  f.copy_capacity = 1'800;
  f.cores = 2;
  f.opus_bits_per_second = 23'000;
  f.original_bits_per_second = 128'000;
  return f;
}

TEST(AudioPath, CopiesWhenTheRelayBindsAndTheUplinkHasRoom) {
  AudioPathChoice c = ChooseAudioPath(AudioPathMode::kAuto, EightPods());
  EXPECT_EQ(c.path, "copy");
  EXPECT_EQ(c.binding, "gpu");
  EXPECT_DOUBLE_EQ(c.feed, 696);
  EXPECT_NE(c.reason.find("relay binds"), std::string::npos) << c.reason;
}

TEST(AudioPath, KeepsOpusWhenTheUplinkWouldBindOnTheOriginalsBytes) {
  AudioPathFacts f = EightPods();
  f.uplink_bits_per_second = 50e6;  // 390x of 128 kb/s, 2,174x of Opus
  AudioPathChoice c = ChooseAudioPath(AudioPathMode::kAuto, f);
  EXPECT_EQ(c.path, "opus");
  EXPECT_EQ(c.binding, "relay");
  EXPECT_DOUBLE_EQ(c.feed, 500);
  EXPECT_NEAR(*c.uplink_capacity, 50e6 / 23'000, 1e-9);  // Opus's bytes, not the original's
}

TEST(AudioPath, CopiesWhereTheUplinkStillFeedsMoreThanTheRelaysOpus) {
  AudioPathFacts f = EightPods();
  f.uplink_bits_per_second = 100e6;  // 781x of 128 kb/s: above the fleet's 696x
  EXPECT_EQ(ChooseAudioPath(AudioPathMode::kAuto, f).path, "copy");
  f.uplink_bits_per_second = 80e6;  // 625x: the uplink binds, yet above Opus's 500x
  AudioPathChoice c = ChooseAudioPath(AudioPathMode::kAuto, f);
  EXPECT_EQ(c.path, "copy");
  EXPECT_EQ(c.binding, "uplink");
  EXPECT_DOUBLE_EQ(c.feed, 625);
}

TEST(AudioPath, KeepsOpusWhenTheRelayKeepsUp) {
  AudioPathFacts f = EightPods();
  f.fleet_speed = 189;  // the seed's fleet
  AudioPathChoice c = ChooseAudioPath(AudioPathMode::kAuto, f);
  EXPECT_EQ(c.path, "opus");
  EXPECT_EQ(c.binding, "gpu");
}

TEST(AudioPath, KeepsOpusForWhatIsNotCopyable) {
  AudioPathFacts f = EightPods();
  f.original_bits_per_second = 0;
  EXPECT_EQ(ChooseAudioPath(AudioPathMode::kAuto, f).path, "opus");
  EXPECT_EQ(ChooseAudioPath(AudioPathMode::kCopy, f).path, "opus");
}

TEST(AudioPath, UsesThePriorsUntilMeasured) {
  AudioPathFacts f = EightPods();
  f.opus_capacity.reset();
  f.copy_capacity.reset();
  f.fleet_speed = 2 * kOpusPerCpuSecond - 1;  // Opus's prior keeps up: no copy
  EXPECT_EQ(ChooseAudioPath(AudioPathMode::kAuto, f).path, "opus");
  f.fleet_speed = 2 * kOpusPerCpuSecond * 2;
  AudioPathChoice c = ChooseAudioPath(AudioPathMode::kAuto, f);
  EXPECT_EQ(c.path, "copy");
  EXPECT_DOUBLE_EQ(c.feed, f.fleet_speed);
}

TEST(AudioPath, ObeysAFixedMode) {
  AudioPathFacts f = EightPods();
  EXPECT_EQ(ChooseAudioPath(AudioPathMode::kOpus, f).path, "opus");
  f.fleet_speed = 10;
  EXPECT_EQ(ChooseAudioPath(AudioPathMode::kCopy, f).path, "copy");
}

TEST(AudioPath, PreparationIsNoFasterThanTheRelayRanWhileBacklogged) {
  PathSpent spent{.prepared_seconds = 2'500, .cpu_seconds = 10};  // 250 per CPU-second
  EXPECT_DOUBLE_EQ(*PreparationCapacity(spent, 2), 500);
  spent.backlog_seconds = 1'200;  // it got 1.2 cores' worth: 240 audio-s per wall-s
  spent.backlog_wall_seconds = kMinBacklogWallSeconds - 0.1;
  EXPECT_DOUBLE_EQ(*PreparationCapacity(spent, 2), 500) << "too short to be a measurement";
  spent.backlog_wall_seconds = 5;
  EXPECT_DOUBLE_EQ(*PreparationCapacity(spent, 2), 240);
  spent.backlog_seconds = 5'000;  // faster than the CPU allows (measured over other chunks)
  EXPECT_DOUBLE_EQ(*PreparationCapacity(spent, 2), 500);
  EXPECT_FALSE(PreparationCapacity(PathSpent{}, 2));
}

// 24 pods at 87x behind 50 Mbit/s: Opus binds on the relay (500x), copy of a 128 kb/s original
// on the uplink (390x), so Opus feeds the most, though the relay copied last.
TEST(AudioPath, BestFeedIsThePathThatFeedsTheMost) {
  AudioPathFacts f = EightPods();
  f.fleet_speed = 24 * 87;
  f.copy_capacity = 5'600;
  f.uplink_bits_per_second = 50e6;
  PathFeed best = BestFeed(AudioPathMode::kAuto, f);
  EXPECT_EQ(best.path, "opus");
  EXPECT_EQ(best.binding, "relay");
  EXPECT_DOUBLE_EQ(best.feed, 500);
  EXPECT_NEAR(*best.uplink, 50e6 / 23'000, 1e-9);
  EXPECT_NE(best.reason.find("copy feeds 391x (uplink binds)"), std::string::npos) << best.reason;
  f.uplink_bits_per_second = 100e6;  // copy now carries 781x
  best = BestFeed(AudioPathMode::kAuto, f);
  EXPECT_EQ(best.path, "copy");
  EXPECT_EQ(best.binding, "uplink");
  EXPECT_NEAR(best.feed, 781.25, 1e-9);
  f.uplink_bits_per_second = 0;  // no uplink known: the relay alone
  best = BestFeed(AudioPathMode::kAuto, f);
  EXPECT_EQ(best.path, "copy");
  EXPECT_DOUBLE_EQ(best.feed, 5'600);
  EXPECT_FALSE(best.uplink);
  // A slow fleet does not change what the paths could feed.
  f.fleet_speed = 15;
  EXPECT_DOUBLE_EQ(BestFeed(AudioPathMode::kAuto, f).feed, 5'600);
}

TEST(AudioPath, BestFeedKeepsToTheModeAndWhatIsKnown) {
  AudioPathFacts f = EightPods();
  EXPECT_EQ(BestFeed(AudioPathMode::kOpus, f).path, "opus");
  f.opus_capacity.reset();
  f.copy_capacity.reset();
  f.original_bits_per_second = 0;  // nothing copied yet: copy's bytes unknown
  PathFeed best = BestFeed(AudioPathMode::kAuto, f);
  EXPECT_EQ(best.path, "opus");
  EXPECT_FALSE(best.measured);
  EXPECT_DOUBLE_EQ(best.feed, 2 * kOpusPerCpuSecond);
  EXPECT_NE(best.reason.find("unknown"), std::string::npos) << best.reason;
  f.original_bits_per_second = 128'000;
  best = BestFeed(AudioPathMode::kCopy, f);
  EXPECT_EQ(best.path, "copy");
  EXPECT_DOUBLE_EQ(best.feed, 2 * kCopyPerCpuSecond);
}

TEST(AudioPath, ParsesTheFlag) {
  EXPECT_EQ(ParseAudioPathMode("auto").value(), AudioPathMode::kAuto);
  EXPECT_EQ(ParseAudioPathMode("copy").value(), AudioPathMode::kCopy);
  EXPECT_EQ(ParseAudioPathMode("opus").value(), AudioPathMode::kOpus);
  EXPECT_EQ(ParseAudioPathMode("flac").error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace podfleet
