#include "coordinator/node_faults.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

const TimePoint kT0 = FromUnixMillis(1'800'000'000'000);

TEST(NodeFaults, LatestReportWinsAndKeepsWhenTheFaultBegan) {
  NodeFaults faults;
  faults.Report(NodeId(1), "w1", "", kT0);
  EXPECT_TRUE(faults.Snapshot().empty());
  faults.Report(NodeId(1), "w1", "no space: 10 KiB free", kT0);
  faults.Report(NodeId(1), "w1", "no space: 12 KiB free", kT0 + Millis(5'000));
  auto now = faults.Snapshot();
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[NodeId(1)].reason, "no space: 12 KiB free");
  EXPECT_EQ(now[NodeId(1)].since, kT0);
  faults.Report(NodeId(1), "w1", "", kT0 + Millis(9'000));
  EXPECT_TRUE(faults.Snapshot().empty());
}

TEST(NodeFaults, LongReasonIsCutAndRetiredNodeIsForgotten) {
  NodeFaults faults;
  faults.Report(NodeId(4), "w4", std::string(5'000, 'x'), kT0);
  EXPECT_EQ(faults.Snapshot()[NodeId(4)].reason.size(), NodeFaults::kMaxReason);
  faults.Forget(NodeId(4));
  EXPECT_TRUE(faults.Snapshot().empty());
}

}  // namespace
}  // namespace podfleet
