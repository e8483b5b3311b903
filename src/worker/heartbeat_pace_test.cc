#include "worker/heartbeat_pace.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace podfleet {
namespace {

TEST(HeartbeatPause, StaysWithinAQuarterBelowTheInterval) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10'000; ++i) {
    const Millis pause = HeartbeatPause(Millis(5'000), rng());
    EXPECT_GE(pause, Millis(3'750));
    EXPECT_LE(pause, Millis(5'000));
  }
  EXPECT_EQ(HeartbeatPause(Millis(5'000), 0), Millis(5'000));
  EXPECT_EQ(HeartbeatPause(Millis(5'000), 1'250), Millis(3'750));
  EXPECT_EQ(HeartbeatPause(Millis(1), 12345), Millis(1));
}

// Workers in step drift apart: after a few pauses, 100 workers that started together no longer
// heartbeat in the same 10 ms.
TEST(HeartbeatPause, WorkersInStepDriftApart) {
  std::mt19937_64 rng(11);
  std::vector<int64_t> at(100, 0);
  for (int beat = 0; beat < 5; ++beat) {
    for (int64_t& t : at) t += HeartbeatPause(Millis(5'000), rng()).count();
  }
  std::set<int64_t> slots;
  for (int64_t t : at) slots.insert(t / 10);
  EXPECT_GT(slots.size(), 80u);
}

}  // namespace
}  // namespace podfleet
