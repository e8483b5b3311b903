#include "coordinator/economics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/fleet_test_util.h"

namespace podfleet {
namespace {

using ::testing::HasSubstr;

const GpuRow& Row(const Economics& e, const std::string& gpu) {
  for (const GpuRow& r : e.rows)
    if (r.gpu == gpu) return r;
  throw std::runtime_error("no row " + gpu);
}

TEST(Economics, SeedFleetGivesTheSeedsA5000Figures) {
  FleetBuilder fleet;
  fleet.Add("pod-255e", "RTX A5000", 87, 0.22);
  fleet.Add("pod-3c6a", "RTX A5000", 87, 0.22);
  fleet.Add("macbook", "", 15, 0.0);
  Economics e = ComputeEconomics(fleet.facts);

  const GpuRow& a5000 = Row(e, "RTX A5000");
  EXPECT_EQ(a5000.nodes, 2);
  EXPECT_NEAR(a5000.realtime, 87, 1e-3);
  EXPECT_NEAR(*a5000.dollars_per_audio_hour, 0.0025, 0.00005);  // seed: $0.0025
  EXPECT_NEAR(*a5000.cost_per_100_episodes, 0.50, 0.01);        // seed: ~$0.50 for 2 h episodes
  EXPECT_NEAR(*a5000.episodes_per_dollar, 197.7, 0.1);          // 2 h episodes: half of 395
  EXPECT_TRUE(a5000.winner);
  EXPECT_EQ(e.winner, "RTX A5000");

  const GpuRow& local = Row(e, "local: macbook");
  EXPECT_TRUE(local.local);
  EXPECT_NEAR(local.realtime, 15, 1e-3);
  EXPECT_DOUBLE_EQ(*local.dollars_per_audio_hour, 0);
  EXPECT_FALSE(local.episodes_per_dollar);  // free: no finite number
  EXPECT_FALSE(local.winner);
  EXPECT_THAT(e.notes, ::testing::Contains("RTX A5000 is 5.8x faster than macbook for $0.51 per "
                                           "100 episodes"));
}

TEST(Economics, CheapestPerAudioHourWinsAsInTheSeedTable) {
  FleetBuilder fleet;
  fleet.facts.mean_episode = Millis(60 * 60'000);  // the seed's table counts episode-hours
  fleet.Add("a", "RTX A4000", 50, 0.16);
  fleet.Add("b", "RTX A5000", 87, 0.22);
  fleet.Add("c", "RTX 3090", 80, 0.30);
  fleet.Add("d", "RTX A6000", 110, 0.45);
  Economics e = ComputeEconomics(fleet.facts);
  EXPECT_NEAR(*Row(e, "RTX A4000").dollars_per_audio_hour, 0.0032, 0.00005);
  EXPECT_NEAR(*Row(e, "RTX 3090").dollars_per_audio_hour, 0.0038, 0.00006);
  EXPECT_NEAR(*Row(e, "RTX A6000").dollars_per_audio_hour, 0.0041, 0.00005);
  EXPECT_NEAR(*Row(e, "RTX A5000").episodes_per_dollar, 395, 1);
  EXPECT_NEAR(*Row(e, "RTX A4000").episodes_per_dollar, 312, 1);
  EXPECT_EQ(e.winner, "RTX A5000");
}

TEST(Economics, UnmeasuredGpuSaysSoAndIsNotRanked) {
  FleetBuilder fleet;
  fleet.Add("new", "RTX A4000", 0, 0.16, NodeStatus::kIdle);
  Economics e = ComputeEconomics(fleet.facts);
  const GpuRow& row = Row(e, "RTX A4000");
  EXPECT_THAT(row.note, HasSubstr("not measured"));
  EXPECT_FALSE(row.dollars_per_audio_hour);
  EXPECT_TRUE(e.winner.empty());
  EXPECT_THAT(e.notes.back(), HasSubstr("no GPU with a measured speed"));
}

TEST(Economics, UnknownPriceAndBlockedGpusAreNeverTheWinner) {
  FleetBuilder fleet;
  fleet.Add("fast", "RTX 4090", 150, 0.10, NodeStatus::kBlocked);
  fleet.Add("odd", "RTX 2080", 60, std::nullopt);
  fleet.Add("ok", "RTX A6000", 110, 0.45);
  Economics e = ComputeEconomics(fleet.facts);
  EXPECT_TRUE(Row(e, "RTX 4090").blocked);
  EXPECT_THAT(Row(e, "RTX 2080").note, HasSubstr("price unknown"));
  EXPECT_EQ(e.winner, "RTX A6000");
}

TEST(Economics, SeedRecordBlocksAnAdaGpuThatNeverWorkedHere) {
  FleetBuilder fleet;
  fleet.Add("l4", "L4", 40, 0.20);  // idle report only: the seed's record still applies
  Economics e = ComputeEconomics(fleet.facts);
  EXPECT_TRUE(Row(e, "L4").blocked);
  EXPECT_TRUE(e.winner.empty());
}

TEST(Bandwidth, SeedLinkFeedsFourToFiveA5000Pods) {
  FleetBuilder fleet;
  fleet.Add("pod-1", "RTX A5000", 87, 0.22);
  fleet.Add("pod-2", "RTX A5000", 87, 0.22);
  fleet.Add("macbook", "", 15, 0.0);
  fleet.Link(0.96, 50e6);
  Bandwidth b = ComputeBandwidth(fleet.facts);
  EXPECT_NEAR(*b.bytes_per_audio_hour, 57.6e6, 1);
  EXPECT_NEAR(*b.realtime_capacity, 390.6, 0.1);  // seed: ~390x
  ASSERT_EQ(b.feeds.size(), 2u);
  EXPECT_EQ(b.feeds[0].gpu, "RTX A5000");
  EXPECT_NEAR(b.feeds[0].nodes, 4.49, 0.01);  // seed: ~4-5 pods
  EXPECT_NEAR(b.fleet_speed, 189, 1e-6);
  EXPECT_FALSE(b.link_is_bottleneck);
  EXPECT_THAT(b.verdict, HasSubstr("GPUs are the bottleneck"));

  fleet.facts.settings.uplink_bits_per_second = 25e6;
  EXPECT_NEAR(*ComputeBandwidth(fleet.facts).realtime_capacity, 195.3, 0.1);  // seed: 195x
  fleet.facts.settings.uplink_bits_per_second = 100e6;
  EXPECT_NEAR(*ComputeBandwidth(fleet.facts).realtime_capacity, 781.3, 0.1);  // seed: 780x
}

TEST(Bandwidth, LinkIsTheBottleneckWhenTheFleetOutrunsIt) {
  FleetBuilder fleet;
  for (int i = 0; i < 5; ++i) fleet.Add("pod-" + std::to_string(i), "RTX A5000", 87, 0.22);
  fleet.Link(0.96, 50e6);
  Bandwidth b = ComputeBandwidth(fleet.facts);
  EXPECT_TRUE(b.link_is_bottleneck);
  EXPECT_THAT(b.verdict, HasSubstr("the link, not the GPUs"));
}

// Behind a link that carries Opus for 2,083x, a relay preparing 600x is what binds: the feeds
// count the pods it can feed, and the verdict names it.
TEST(Bandwidth, RelayIsTheBindingLimitWhenItPreparesLessThanTheLinkCarries) {
  FleetBuilder fleet;
  for (int i = 0; i < 24; ++i) fleet.Add("pod-" + std::to_string(i), "RTX A5000", 87, 0.22);
  fleet.Link(0.18, 50e6);
  fleet.facts.settings.preparation_capacity = 600;
  Bandwidth b = ComputeBandwidth(fleet.facts);
  EXPECT_NEAR(*b.realtime_capacity, 2083.3, 0.1);
  EXPECT_EQ(b.binding, "relay");      // the tightest of the two...
  EXPECT_TRUE(b.link_is_bottleneck);  // ...though 24 x 87x = 2,088x outruns the link too
  ASSERT_EQ(b.feeds.size(), 1u);
  EXPECT_NEAR(b.feeds[0].nodes, 600.0 / 87, 1e-9);
  EXPECT_THAT(b.verdict, HasSubstr("the relay, not the GPUs"));
  fleet.facts.settings.feed_path = "opus";
  b = ComputeBandwidth(fleet.facts);
  EXPECT_EQ(b.feed_path, "opus");
  EXPECT_THAT(b.verdict, HasSubstr("prepares 600x on its opus path"));
  fleet.facts.settings.preparation_capacity = 5'000;  // a big coordinator: the link binds
  EXPECT_EQ(ComputeBandwidth(fleet.facts).binding, "uplink");
}

TEST(Bandwidth, BusyLinkIsFlaggedFromTraffic) {
  FleetBuilder fleet;
  fleet.Add("pod", "RTX A5000", 87, 0.22);
  fleet.Link(0.96, 50e6);
  fleet.facts.bytes_recent = static_cast<int64_t>(6e6 * 3600);  // 48 Mbit/s for an hour
  fleet.facts.bytes_recent_window = kOneHour;
  EXPECT_TRUE(ComputeBandwidth(fleet.facts).link_is_bottleneck);
}

TEST(Bandwidth, SaysWhatIsMissing) {
  FleetBuilder fleet;
  fleet.Add("pod", "RTX A5000", 87, 0.22);
  EXPECT_THAT(ComputeBandwidth(fleet.facts).verdict, HasSubstr("serve --uplink"));
  fleet.facts.settings.uplink_bits_per_second = 50e6;
  Bandwidth b = ComputeBandwidth(fleet.facts);
  EXPECT_FALSE(b.realtime_capacity);
  EXPECT_THAT(b.verdict, HasSubstr("not measured"));
}

}  // namespace
}  // namespace podfleet

namespace podfleet {
namespace {

TEST(Bandwidth, PrefetchedAudioDoesNotInflateBytesPerAudioHour) {
  const TimePoint hour = FromUnixMillis(1'800'000'000'000 - 1'800'000'000'000 % 3'600'000);
  const NodeId pod(1);
  // 4 episodes of 10 minutes fetched at 0.96 MB per minute; 1 done, 3 held by the worker.
  std::vector<TransferTotal> transfers = {{pod, hour, 4 * 9'600'000, Millis(0), 4}};
  CompletedJob done;
  done.node = pod;
  done.finished_at = hour + Millis(60'000);
  done.audio_duration = Millis(600'000);
  EXPECT_EQ(AudioOfTransfers(transfers, {done}, {{pod, Millis(3 * 600'000)}}), Millis(2'400'000));
  EXPECT_EQ(AudioOfTransfers(transfers, {done}, {}), Millis(600'000));
  transfers[0].audio = Millis(2'400'000);  // the server knew the durations
  EXPECT_EQ(AudioOfTransfers(transfers, {}, {{pod, Millis(999)}}), Millis(2'400'000));
}

}  // namespace
}  // namespace podfleet
