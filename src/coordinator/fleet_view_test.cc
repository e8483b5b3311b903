#include "coordinator/fleet_view.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

const TimePoint kNow = FromUnixMillis(1'800'000'000'000);

Node MakeNode(int64_t id, Millis silent_for) {
  Node n;
  n.id = NodeId(id);
  n.info.name = "n" + std::to_string(id);
  n.last_seen = kNow - silent_for;
  return n;
}

TEST(FleetView, StatusFollowsLeasesHeartbeatsAndPreflight) {
  EXPECT_EQ(DeriveStatus(MakeNode(1, Millis(1000)), 0, kNow, Millis(30'000)), NodeStatus::kIdle);
  EXPECT_EQ(DeriveStatus(MakeNode(1, Millis(1000)), 2, kNow, Millis(30'000)), NodeStatus::kBusy);
  EXPECT_EQ(DeriveStatus(MakeNode(1, Millis(31'000)), 2, kNow, Millis(30'000)),
            NodeStatus::kOffline);
  Node blocked = MakeNode(1, Millis(0));
  blocked.info.blocked_reason = "CUDA error 35";
  EXPECT_EQ(DeriveStatus(blocked, 0, kNow, Millis(30'000)), NodeStatus::kBlocked);
  Node retired = MakeNode(1, Millis(0));
  retired.retired = true;
  EXPECT_EQ(DeriveStatus(retired, 0, kNow, Millis(30'000)), NodeStatus::kOffline);
}

// A worker's local fault makes an online node unhealthy (busy or idle); blocked and offline say
// more and stand.
TEST(FleetView, ReportedFaultMakesAnOnlineNodeUnhealthy) {
  const std::map<NodeId, NodeFault> faults = {{NodeId(2), {"disk full", kNow}},
                                              {NodeId(3), {"disk full", kNow}}};
  Job j;
  j.id = JobId(7);
  j.lease = Lease{JobId(7), AttemptId(1), NodeId(2), kNow};
  auto views =
      BuildNodeViews({MakeNode(1, Millis(0)), MakeNode(2, Millis(0)), MakeNode(3, Millis(31'000))},
                     {j}, kNow, Millis(30'000), faults);
  ASSERT_EQ(views.size(), 3u);
  EXPECT_EQ(views[0].status, NodeStatus::kIdle);
  EXPECT_FALSE(views[0].fault);
  EXPECT_EQ(views[1].status, NodeStatus::kUnhealthy);
  ASSERT_TRUE(views[1].fault);
  EXPECT_EQ(views[1].fault->reason, "disk full");
  EXPECT_EQ(views[2].status, NodeStatus::kOffline);
  EXPECT_EQ(ToString(NodeStatus::kUnhealthy), "unhealthy");
}

TEST(FleetView, JobsAreGroupedUnderTheirNode) {
  Job j;
  j.id = JobId(7);
  j.lease = Lease{JobId(7), AttemptId(1), NodeId(2), kNow};
  auto views =
      BuildNodeViews({MakeNode(1, Millis(0)), MakeNode(2, Millis(0))}, {j}, kNow, Millis(30'000));
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[0].status, NodeStatus::kIdle);
  EXPECT_EQ(views[1].status, NodeStatus::kBusy);
  ASSERT_EQ(views[1].jobs.size(), 1u);
  EXPECT_EQ(views[1].jobs[0].id, JobId(7));
}

TEST(FleetView, ThroughputWindowStartsWhenWorkBegan) {
  // Two jobs of 30 min audio each, done in the last 10 minutes by a fleet that started 10 min ago.
  std::vector<CompletedJob> done = {
      {JobId(1), EpisodeId(1), NodeId(1), kNow - Millis(300'000), Millis(1'800'000),
       Millis(200'000), Millis(300'000)},
      {JobId(2), EpisodeId(2), NodeId(1), kNow, Millis(1'800'000), Millis(200'000),
       Millis(300'000)},
  };
  Throughput t = ComputeThroughput(done, kNow, Millis(3'600'000));
  EXPECT_EQ(t.jobs, 2);
  EXPECT_EQ(t.window, Millis(600'000));
  EXPECT_DOUBLE_EQ(t.realtime(), 6.0);  // an hour of audio in ten minutes
}

TEST(FleetView, ThroughputIgnoresJobsOutsideTheSpan) {
  std::vector<CompletedJob> done = {
      {JobId(1), EpisodeId(1), NodeId(1), kNow - Millis(4'000'000), Millis(60'000), Millis(1),
       Millis(1)},
  };
  Throughput t = ComputeThroughput(done, kNow, Millis(3'600'000));
  EXPECT_EQ(t.jobs, 0);
  EXPECT_EQ(t.realtime(), 0);
}

TEST(FleetView, ThroughputWindowIsCappedAtTheSpan) {
  std::vector<CompletedJob> done = {
      {JobId(1), EpisodeId(1), NodeId(1), kNow, Millis(7'200'000), Millis(1), Millis(5'000'000)},
  };
  Throughput t = ComputeThroughput(done, kNow, Millis(3'600'000));
  EXPECT_EQ(t.window, Millis(3'600'000));
  EXPECT_DOUBLE_EQ(t.realtime(), 2.0);
}

// The dashboard's chart and its "last hour" figure are the same number for the latest hour, also
// when the clock hour has just begun.
TEST(FleetView, HourlyThroughputEndsWithTheLastHour) {
  std::vector<CompletedJob> done = {
      {JobId(1), EpisodeId(1), NodeId(1), kNow - Millis(3'000'000), Millis(1'800'000),
       Millis(200'000), Millis(300'000)},
      {JobId(2), EpisodeId(2), NodeId(1), kNow - Millis(60'000), Millis(1'800'000), Millis(200'000),
       Millis(300'000)},
      {JobId(3), EpisodeId(3), NodeId(1), kNow - Millis(5'000'000), Millis(900'000),
       Millis(200'000), Millis(300'000)},
  };
  const std::vector<Throughput> hours = HourlyThroughput(done, kNow, 24);
  ASSERT_EQ(hours.size(), 24u);
  const Throughput last = ComputeThroughput(done, kNow, Millis(3'600'000));
  EXPECT_EQ(hours.back().jobs, 2);
  EXPECT_DOUBLE_EQ(hours.back().realtime(), last.realtime());
  EXPECT_EQ(hours[22].jobs, 1);  // the job 5000 s ago falls in the hour before
  EXPECT_EQ(hours[0].jobs, 0);
}

}  // namespace
}  // namespace podfleet
