#include "coordinator/plan.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/fleet_test_util.h"

namespace podfleet {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

// The seed's fleet: two A5000 pods at 87x and $0.22, a free MacBook at 15x, a 50 Mbit/s link
// carrying 0.96 MB per audio-minute, two-hour episodes.
FleetBuilder SeedFleet() {
  FleetBuilder fleet;
  fleet.Add("pod-255e", "RTX A5000", 87, 0.22);
  fleet.Add("pod-3c6a", "RTX A5000", 87, 0.22);
  fleet.Add("macbook", "", 15, 0.0);
  fleet.Link(0.96, 50e6);
  return fleet;
}

TEST(Plan, FiftyEpisodesNeedOnePod) {
  PlanRequest r;
  r.episodes = 50;
  Plan p = *ComputePlan(SeedFleet().facts, r);
  EXPECT_DOUBLE_EQ(p.backlog_hours, 100);
  ASSERT_TRUE(p.recommendation);
  EXPECT_EQ(p.recommendation->gpu, "RTX A5000");
  EXPECT_EQ(p.recommendation->pods, 1);
  EXPECT_EQ(p.recommendation->bottleneck, "gpu");
  EXPECT_NEAR(p.recommendation->drain_hours, 100.0 / 102, 1e-5);
  EXPECT_NEAR(p.recommendation->cost, 0.22 * 100.0 / 102, 1e-5);
}

TEST(Plan, LargeBacklogStopsWhereTheUplinkLimits) {
  PlanRequest r;
  r.episodes = 500;
  Plan p = *ComputePlan(SeedFleet().facts, r);
  ASSERT_TRUE(p.recommendation);
  EXPECT_EQ(p.recommendation->pods, 5);  // 4 pods + MacBook = 363x; the 5th fills the 390x link
  EXPECT_EQ(p.recommendation->bottleneck, "uplink");
  EXPECT_NEAR(p.recommendation->fleet_speed, 390.6, 0.1);
  EXPECT_THAT(p.recommendation->note, HasSubstr("more pods would not help"));
}

TEST(Plan, QueueTableReplacesTheSeedsHandTable) {
  Plan p = *ComputePlan(SeedFleet().facts, PlanRequest{});
  ASSERT_EQ(p.brackets.size(), 4u);
  EXPECT_EQ(p.brackets[0].episodes, 50);
  EXPECT_EQ(p.brackets[0].best->pods, 1);
  EXPECT_EQ(p.brackets[1].best->pods, 5);  // 400 h within an hour: up to the link
  EXPECT_EQ(p.brackets[3].best->bottleneck, "uplink");
}

// A fleet of CPU machines: no GPU options to offer, and it says so rather than naming a GPU as
// its bottleneck.
TEST(Plan, CpuOnlyFleetSpeaksOfItsCpus) {
  FleetBuilder fleet;
  fleet.Add("laptop", "", 4, 0.0);
  fleet.facts.queued_audio = Millis(2 * 3'600'000);
  Plan p = *ComputePlan(fleet.facts, PlanRequest{});
  EXPECT_TRUE(p.options.empty());
  EXPECT_EQ(p.current.bottleneck, "cpu");
  ASSERT_FALSE(p.notes.empty());
  EXPECT_TRUE(p.notes[0].starts_with("CPU-only fleet:")) << p.notes[0];
  const Economics e = ComputeEconomics(fleet.facts);
  ASSERT_FALSE(e.notes.empty());
  EXPECT_TRUE(e.notes.back().starts_with("CPU-only fleet:")) << e.notes.back();
}

TEST(Plan, CurrentFleetIsEvaluatedToo) {
  FleetBuilder fleet = SeedFleet();
  fleet.facts.queued_audio = Millis(189 * 3'600'000);
  Plan p = *ComputePlan(fleet.facts, PlanRequest{});
  EXPECT_EQ(p.backlog_source, "queue");
  EXPECT_EQ(p.current.pods, 2);
  EXPECT_NEAR(p.current.fleet_speed, 189, 1e-9);
  EXPECT_NEAR(p.current.drain_hours, 1, 1e-9);
  EXPECT_NEAR(p.current.cost, 0.44, 1e-9);
}

TEST(Plan, BlockedGpuIsNeverRecommended) {
  FleetBuilder fleet = SeedFleet();
  fleet.Add("cheap-4090", "RTX 4090", 150, 0.05, NodeStatus::kBlocked);
  PlanRequest r;
  r.backlog_hours = 100;
  Plan p = *ComputePlan(fleet.facts, r);
  EXPECT_EQ(p.recommendation->gpu, "RTX A5000");
  EXPECT_THAT(p.excluded, Contains("RTX 4090: blocked"));
  for (const PlanOption& o : p.options) EXPECT_NE(o.gpu, "RTX 4090");
}

TEST(Plan, CoordinatorCanBeTheFirstBottleneck) {
  FleetBuilder fleet = SeedFleet();
  fleet.facts.settings.claim_capacity = 0.01;  // one claim per 100 s of 2 h episodes: 72x
  PlanRequest r;
  r.backlog_hours = 1000;
  Plan p = *ComputePlan(fleet.facts, r);
  EXPECT_NEAR(*p.coordinator_capacity, 72, 1e-9);
  EXPECT_EQ(p.recommendation->bottleneck, "coordinator");
  EXPECT_EQ(p.recommendation->pods, 1);
}

// The relay's measured preparation speed is a limit like the link: 24 A5000 pods behind a
// 50 Mbit/s link fed Opus (10.8 MB per audio-hour: 2,083x) by a coordinator that prepares 600x
// are capped by the relay, and the planner stops at the pods it can feed.
TEST(Plan, RelayPreparationCanBeTheBindingLimit) {
  FleetBuilder fleet = SeedFleet();
  fleet.Link(0.18, 50e6);
  fleet.facts.settings.preparation_capacity = 600;
  fleet.facts.settings.feed_path = "opus";
  PlanRequest r;
  r.backlog_hours = 10'000;
  r.max_pods = 24;
  Plan p = *ComputePlan(fleet.facts, r);
  EXPECT_NEAR(*p.preparation_capacity, 600, 1e-9);
  EXPECT_EQ(p.audio_path, "opus");
  ASSERT_TRUE(p.recommendation);
  EXPECT_EQ(p.recommendation->bottleneck, "relay");
  EXPECT_NEAR(p.recommendation->fleet_speed, 600, 1e-9);
  EXPECT_EQ(p.recommendation->pods, 7);  // 6 pods + MacBook = 537x; the 7th reaches 600x
  EXPECT_THAT(p.recommendation->note, HasSubstr("the relay carries 600x"));
}

TEST(Plan, WithoutMeasurementsNothingIsRecommended) {
  FleetBuilder fleet;
  fleet.Add("new", "RTX A5000", 0, 0.22, NodeStatus::kIdle);
  PlanRequest r;
  r.backlog_hours = 10;
  Plan p = *ComputePlan(fleet.facts, r);
  EXPECT_FALSE(p.recommendation);
  EXPECT_THAT(p.excluded, Contains("RTX A5000: speed not measured"));
  EXPECT_THAT(p.notes.front(), HasSubstr("no GPU type with a measured speed"));
}

TEST(Plan, RefusesNonsense) {
  PlanRequest r;
  r.backlog_hours = -1;
  EXPECT_FALSE(ComputePlan(SeedFleet().facts, r));
  r = PlanRequest{};
  r.target_hours = 0;
  EXPECT_FALSE(ComputePlan(SeedFleet().facts, r));
  FleetBuilder empty;
  empty.facts.mean_episode = Millis(0);
  r = PlanRequest{};
  r.episodes = 10;
  EXPECT_EQ(ComputePlan(empty.facts, r).error().code, Code::kInvalidArgument);
}

// The pods a feed runs at full speed: what is left of its usable share (kFeedHeadroom) after the
// local nodes, in whole pods.
TEST(Plan, PodsFedIsWholePodsOfWhatTheFeedLeaves) {
  EXPECT_EQ(PodsFed(600, 15, 87), 6);  // 540x usable, 525x after the local nodes; a 7th wants 609x
  EXPECT_EQ(PodsFed(870 / kFeedHeadroom, 0, 87), 10);  // exactly ten pods' worth usable
  EXPECT_EQ(PodsFed(870, 0, 87), 9);                   // ten pods' worth, with no headroom left
  EXPECT_EQ(PodsFed(2'083, 0, 87), 21);                // 50 Mbit/s of 24 kb/s Opus
  EXPECT_EQ(PodsFed(390.6, 0, 393), 0);                // not one H200 on 128 kb/s MP3 at 50 Mbit/s
  EXPECT_EQ(PodsFed(10, 15, 87), 0);                   // the local nodes already eat the feed
}

// 24 A5000 pods behind a 50 Mbit/s link fed Opus (2,083x) by a relay that prepares 500x: the
// plan names the relay as what binds the fleet and 5 pods of 87x as what it can feed.
TEST(Plan, NamesTheBindingLimitAndThePodsItFeeds) {
  FleetBuilder fleet;
  for (int i = 0; i < 24; ++i) fleet.Add(fmt::format("pod-{}", i), "RTX A5000", 87, 0.22);
  fleet.Link(0.18, 50e6);
  fleet.facts.settings.preparation_capacity = 500;
  fleet.facts.settings.feed_path = "opus";
  PlanRequest r;
  r.pod_speed = 87;
  Plan p = *ComputePlan(fleet.facts, r);
  EXPECT_EQ(p.binding, "relay");
  EXPECT_EQ(p.feed_limit, "relay");
  EXPECT_NEAR(*p.feed_capacity, 500, 1e-9);
  EXPECT_EQ(p.pods_fed, 5);
  ASSERT_EQ(p.options.size(), 1u);
  EXPECT_EQ(p.options[0].pods_fed, 5);
  EXPECT_THAT(p.notes, Contains("the relay (opus path) feeds 500x at most: 5 pods of 87x at full "
                                "speed"));
}

// When the relay copies the original's frames fast enough, the link carrying them binds instead:
// 128 kb/s MP3 (0.96 MB per audio-minute) over 50 Mbit/s is 390x, 3 pods of 87x beside the
// MacBook.
TEST(Plan, TheUplinkBindsWhenTheRelayKeepsUp) {
  FleetBuilder fleet = SeedFleet();
  fleet.Add("h200", "H200", 393, 3.59);
  fleet.facts.settings.preparation_capacity = 1'800;
  fleet.facts.settings.feed_path = "copy";
  PlanRequest r;
  r.pod_speed = 87;
  Plan p = *ComputePlan(fleet.facts, r);
  EXPECT_EQ(p.binding, "uplink");  // the fleet's 582x against the link's 390x
  EXPECT_EQ(p.feed_limit, "uplink");
  EXPECT_EQ(p.pods_fed, 3);  // (0.9 x 390.6 - the MacBook's 15) / 87
}

// The uplink is taken at the bytes of the path that feeds the most: after a day of mostly Opus
// (0.18 MB per audio-minute: 2,083x on 50 Mbit/s), copying 128 kb/s MP3 feeds 390x over the same
// link.
TEST(Plan, TheUplinkIsTakenAtTheChosenPathsBytes) {
  FleetBuilder fleet;
  for (int i = 0; i < 24; ++i) fleet.Add(fmt::format("pod-{}", i), "RTX A5000", 87, 0.22);
  fleet.Link(0.18, 50e6);
  fleet.facts.settings.preparation_capacity = 1'800;
  fleet.facts.settings.feed_path = "copy";
  fleet.facts.settings.path_uplink_capacity = 50e6 / 128'000;
  PlanRequest r;
  r.pod_speed = 87;
  Plan p = *ComputePlan(fleet.facts, r);
  EXPECT_EQ(p.binding, "uplink");
  EXPECT_NEAR(*p.uplink_capacity, 390.625, 1e-9);
  EXPECT_EQ(p.pods_fed, 4);
}

// The relay copied its last episode (the fleet outran Opus), but behind 50 Mbit/s copy's bytes
// carry 391x where Opus, prepared at 500x, would carry 2,083x: the plan and /api/bandwidth take
// Opus's feed, the path that feeds the most, and name 5 pods of 87x, not copy's 4.
TEST(Plan, TheFeedIsThePathThatFeedsTheMost) {
  FleetBuilder fleet;
  for (int i = 0; i < 24; ++i) fleet.Add(fmt::format("pod-{}", i), "RTX A5000", 87, 0.22);
  fleet.Link(0.96, 50e6);  // a day of copied MP3
  AudioPathFacts relay{.uplink_bits_per_second = 50e6,
                       .opus_capacity = 500,
                       .copy_capacity = 5'600,
                       .cores = 2,
                       .opus_bits_per_second = 24'000,
                       .original_bits_per_second = 128'000};
  AudioPathChoice last{.path = "copy", .binding = "uplink", .feed = 390.625};
  SetRelayFeed(fleet.facts.settings, last, BestFeed(AudioPathMode::kAuto, relay));
  PlanRequest r;
  r.pod_speed = 87;
  Plan p = *ComputePlan(fleet.facts, r);
  EXPECT_EQ(p.audio_path, "opus");
  EXPECT_THAT(p.audio_path_reason, HasSubstr("copy feeds 391x (uplink binds)"));
  EXPECT_EQ(p.feed_limit, "relay");
  EXPECT_NEAR(*p.feed_capacity, 500, 1e-9);
  EXPECT_NEAR(*p.uplink_capacity, 50e6 / 24'000, 1e-9);
  EXPECT_EQ(p.binding, "relay");
  EXPECT_EQ(p.pods_fed, 5);
  Bandwidth b = ComputeBandwidth(fleet.facts);
  EXPECT_EQ(b.audio_path, "copy");  // what the relay did last
  EXPECT_EQ(b.feed_path, "opus");
  EXPECT_NEAR(*b.realtime_capacity, 50e6 / 24'000, 1e-9);  // not the day's copied bytes: 390x
  EXPECT_EQ(b.binding, "relay");
  // A relay that measured more wall time than its CPU share allows: 2 x 250 per CPU-second, but
  // 300 audio-s per wall-second while backlogged; copy then feeds more (391x).
  relay.opus_capacity = PreparationCapacity({.prepared_seconds = 2'500,
                                             .cpu_seconds = 10,
                                             .backlog_seconds = 3'000,
                                             .backlog_wall_seconds = 10},
                                            2);
  SetRelayFeed(fleet.facts.settings, last, BestFeed(AudioPathMode::kAuto, relay));
  p = *ComputePlan(fleet.facts, r);
  EXPECT_EQ(p.audio_path, "copy");
  EXPECT_EQ(p.feed_limit, "uplink");
  EXPECT_EQ(p.pods_fed, 4);
}

// A fleet slower than everything that feeds it is bound by its GPUs; with no limit known there is
// no pod count to name.
TEST(Plan, TheGpusBindWhenTheFeedKeepsUp) {
  FleetBuilder fleet = SeedFleet();
  fleet.facts.settings.preparation_capacity = 500;
  Plan p = *ComputePlan(fleet.facts, PlanRequest{});
  EXPECT_EQ(p.binding, "gpu");
  EXPECT_EQ(p.feed_limit, "uplink");  // 390x, below the relay's 500x
  EXPECT_FALSE(p.pods_fed);           // no pod speed asked
  FleetBuilder unlimited;
  unlimited.Add("pod", "RTX A5000", 87, 0.22);
  PlanRequest r;
  r.pod_speed = 87;
  p = *ComputePlan(unlimited.facts, r);
  EXPECT_EQ(p.binding, "gpu");
  EXPECT_FALSE(p.feed_capacity);
  EXPECT_FALSE(p.pods_fed);
  EXPECT_FALSE(p.options[0].pods_fed);
  r.pod_speed = 0;
  EXPECT_EQ(ComputePlan(unlimited.facts, r).error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace podfleet
