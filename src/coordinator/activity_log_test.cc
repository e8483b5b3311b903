#include "coordinator/activity_log.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

TEST(ActivityLog, SharesCountIdleTimeOnlyWhileWorkWaited) {
  ActivityLog log;
  const NodeId a(1), b(2);
  TimePoint t = FromUnixMillis(1'800'000'000'000);
  const TimePoint start = t;
  for (int i = 0; i < 60; ++i) {  // a minute: a busy throughout, b idle, work queued half of it
    t += Millis(1'000);
    log.Record(t, Millis(1'000), i < 30, {{a, true}, {b, false}});
  }
  Activity busy = log.Since(a, start);
  EXPECT_EQ(busy.observed, Millis(60'000));
  EXPECT_DOUBLE_EQ(busy.IdleShare(), 0);
  Activity idle = log.Since(b, start);
  EXPECT_DOUBLE_EQ(idle.IdleShare(), 1);
  EXPECT_DOUBLE_EQ(idle.IdleWithWorkShare(), 0.5);
  EXPECT_EQ(log.Since(NodeId(3), start).observed, Millis(0));
  EXPECT_DOUBLE_EQ(log.Since(NodeId(3), start).IdleWithWorkShare(), 0);
}

TEST(ActivityLog, ForgetsWhatIsOlderThanADay) {
  ActivityLog log;
  const NodeId a(1);
  const TimePoint t = FromUnixMillis(1'800'000'000'000);
  log.Record(t, Millis(1'000), false, {{a, true}});
  log.Record(t + Millis(25 * 3'600'000), Millis(1'000), false, {{a, true}});
  EXPECT_EQ(log.Since(a, FromUnixMillis(0)).observed, Millis(1'000));
}

}  // namespace
}  // namespace podfleet
