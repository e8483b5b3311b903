#include "worker/prefetch.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

TEST(PrefetchPlanner, StartsAtTheMinimum) {
  PrefetchPlanner p(2, 8);
  EXPECT_EQ(p.Depth(), 2);
  p.Fetched(Millis(1'000), Millis(600'000));
  EXPECT_EQ(p.Depth(), 2);  // the engine is not measured yet
  EXPECT_FALSE(p.EngineSpeed());
}

TEST(PrefetchPlanner, FastEngineAndSlowFetchingKeepMoreAhead) {
  PrefetchPlanner p(1, 8);
  // 10 min of audio: fetched in 20 s, transcribed in 6.9 s (87x): three fetches side by side.
  p.Fetched(Millis(20'000), Millis(600'000));
  p.Transcribed(Millis(6'900), Millis(600'000));
  EXPECT_EQ(p.Depth(), 4);
  EXPECT_NEAR(*p.EngineSpeed(), 87.0, 0.1);
}

TEST(PrefetchPlanner, SlowEngineNeedsOneAhead) {
  PrefetchPlanner p(1, 8);
  p.Fetched(Millis(500), Millis(600'000));
  p.Transcribed(Millis(600'000), Millis(600'000));  // 1x
  EXPECT_EQ(p.Depth(), 2);
}

TEST(PrefetchPlanner, StaysUnderTheMaximum) {
  PrefetchPlanner p(1, 3);
  p.Fetched(Millis(600'000), Millis(600'000));
  p.Transcribed(Millis(1'000), Millis(600'000));
  EXPECT_EQ(p.Depth(), 3);
}

TEST(PrefetchPlanner, FollowsRecentJobs) {
  PrefetchPlanner p(1, 16);
  p.Transcribed(Millis(1'000), Millis(100'000));
  p.Fetched(Millis(1'000), Millis(100'000));
  EXPECT_EQ(p.Depth(), 2);
  for (int i = 0; i < 20; ++i) p.Fetched(Millis(5'000), Millis(100'000));  // the network slowed
  EXPECT_EQ(p.Depth(), 6);
}

TEST(PrefetchPlanner, IgnoresEmptyAudio) {
  PrefetchPlanner p(1, 8);
  p.Fetched(Millis(1'000), Millis(0));
  p.Transcribed(Millis(1'000), Millis(0));
  EXPECT_EQ(p.Depth(), 1);
}

}  // namespace
}  // namespace podfleet
