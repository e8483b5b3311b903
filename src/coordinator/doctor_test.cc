#include "coordinator/doctor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/fleet_test_util.h"

namespace podfleet {
namespace {

using ::testing::HasSubstr;

const Check& Find(const DoctorReport& r, const std::string& name) {
  for (const Check& c : r.checks)
    if (c.name == name) return c;
  throw std::runtime_error("no check " + name);
}

// Gives the node `leases` leased jobs and an hour observed with `idle` of it idle.
void Observe(NodeFacts& n, int leases, Millis idle, bool queue_had_work) {
  n.view.jobs.resize(leases);
  n.hour.activity.observed = kOneHour;
  n.hour.activity.busy = kOneHour - idle;
  n.hour.activity.idle_with_work = queue_had_work ? idle : Millis(0);
}

TEST(Doctor, BusyFleetWithPrefetchPasses) {
  FleetBuilder fleet;
  Observe(fleet.Add("pod-1", "RTX A5000", 87, 0.22), 3, Millis(0), true);
  Observe(fleet.Add("pod-2", "RTX A5000", 87, 0.22), 3, Millis(0), true);
  fleet.facts.queue = {40, 6, 100, 0};
  DoctorReport r = RunDoctor(fleet.facts);
  EXPECT_EQ(Find(r, "every_pod_busy").outcome, CheckOutcome::kPass);
  EXPECT_EQ(Find(r, "prefetch_populated").outcome, CheckOutcome::kPass);
  EXPECT_THAT(Find(r, "prefetch_populated").detail, HasSubstr("6 leased jobs for 2 busy nodes"));
  EXPECT_EQ(Find(r, "no_idle_with_work").outcome, CheckOutcome::kPass);
  EXPECT_EQ(Find(r, "no_idle_billing").outcome, CheckOutcome::kPass);
  EXPECT_TRUE(r.healthy);
}

TEST(Doctor, IdlePodWhileWorkWaitsFailsThreeChecks) {
  FleetBuilder fleet;
  Observe(fleet.Add("pod-1", "RTX A5000", 87, 0.22), 1, Millis(0), true);
  Observe(fleet.Add("pod-2", "RTX A5000", 87, 0.22, NodeStatus::kIdle), 0, Millis(1'200'000), true);
  fleet.facts.queue = {40, 1, 100, 0};
  DoctorReport r = RunDoctor(fleet.facts);
  EXPECT_EQ(Find(r, "every_pod_busy").outcome, CheckOutcome::kFail);
  EXPECT_THAT(Find(r, "every_pod_busy").detail, HasSubstr("idle: pod-2"));
  EXPECT_EQ(Find(r, "prefetch_populated").outcome, CheckOutcome::kFail);
  EXPECT_EQ(Find(r, "no_idle_with_work").outcome, CheckOutcome::kFail);
  EXPECT_THAT(Find(r, "no_idle_with_work").detail, HasSubstr("pod-2 33.3%"));
  EXPECT_EQ(Find(r, "no_idle_billing").outcome, CheckOutcome::kFail);
  EXPECT_THAT(Find(r, "no_idle_billing").detail, HasSubstr("($0.073)"));
  EXPECT_FALSE(r.healthy);
}

TEST(Doctor, RelaySlowerThanTheFleetFails) {
  FleetBuilder fleet;
  fleet.Add("pod-1", "RTX A5000", 87, 0.22);
  fleet.Add("pod-2", "RTX A5000", 87, 0.22);
  EXPECT_EQ(Find(RunDoctor(fleet.facts), "relay_keeps_up").outcome, CheckOutcome::kNotApplicable);
  fleet.facts.settings.preparation_capacity = 150;
  const Check c = Find(RunDoctor(fleet.facts), "relay_keeps_up");
  EXPECT_EQ(c.outcome, CheckOutcome::kFail);
  EXPECT_THAT(c.detail, HasSubstr("prepares 150x realtime, the fleet transcribes 174x"));
  fleet.facts.settings.preparation_capacity = 600;
  fleet.facts.settings.feed_path = "copy";
  const Check copied = Find(RunDoctor(fleet.facts), "relay_keeps_up");
  EXPECT_EQ(copied.outcome, CheckOutcome::kPass);
  EXPECT_THAT(copied.detail, HasSubstr("prepares 600x realtime on its copy path"));
}

TEST(Doctor, RecentlySeenBlockedNodeFailsWithItsReason) {
  FleetBuilder fleet;
  NodeFacts& pod = fleet.Add("pod-h200", "H200", 0, 3.5, NodeStatus::kBlocked);
  pod.view.node.info.blocked_reason = "the whisper engine needs a GPU but ggml found no usable one";
  pod.view.node.last_seen = fleet.facts.now;
  DoctorReport r = RunDoctor(fleet.facts);
  EXPECT_EQ(Find(r, "no_blocked_nodes").outcome, CheckOutcome::kFail);
  EXPECT_THAT(Find(r, "no_blocked_nodes").detail, HasSubstr("pod-h200: the whisper engine needs"));
  fleet.facts.nodes[0].view.node.last_seen = fleet.facts.now - Millis(3'600'000);  // long gone
  EXPECT_EQ(Find(RunDoctor(fleet.facts), "no_blocked_nodes").outcome, CheckOutcome::kPass);
}

TEST(Doctor, EmptyQueueMakesBusyChecksNotApplicable) {
  FleetBuilder fleet;
  fleet.Add("macbook", "", 15, 0.0, NodeStatus::kIdle);
  DoctorReport r = RunDoctor(fleet.facts);
  EXPECT_EQ(Find(r, "every_pod_busy").outcome, CheckOutcome::kNotApplicable);
  EXPECT_EQ(Find(r, "prefetch_populated").outcome, CheckOutcome::kNotApplicable);
  EXPECT_EQ(Find(r, "no_idle_billing").outcome, CheckOutcome::kNotApplicable);  // no pod
  EXPECT_TRUE(r.healthy);
}

// A pod that completed four jobs of 20 s engine time, `spacing` apart, the first `first_ago`
// before now, each `wall` after its lease began (0: not reported).
void FourCompletions(FleetBuilder& fleet, Millis first_ago, Millis spacing, Millis wall) {
  NodeFacts& pod = fleet.Add("pod", "RTX A5000", 87, 0.22);
  for (int i = 0; i < 4; ++i) {
    CompletedJob j;
    j.node = pod.view.node.id;
    j.finished_at = fleet.facts.now - first_ago + spacing * i;
    j.engine_time = Millis(20'000);
    j.wall_time = wall;
    fleet.facts.done_day.push_back(j);
  }
  pod.hour.engine_time = Millis(80'000);
  pod.hour.jobs = 4;
}

TEST(Doctor, GapsBetweenCompletionsAreFound) {
  FleetBuilder fleet;
  FourCompletions(fleet, Millis(400'000), Millis(100'000), Millis(0));
  const DoctorReport report = RunDoctor(fleet.facts);
  const Check& gaps = Find(report, "no_completion_gaps");
  EXPECT_EQ(gaps.outcome, CheckOutcome::kFail);
  EXPECT_THAT(gaps.detail, HasSubstr("pod p90 gap 80.0s > 5.0s"));

  for (int i = 0; i < 4; ++i) fleet.facts.done_day[i].engine_time = Millis(99'000);
  EXPECT_EQ(Find(RunDoctor(fleet.facts), "no_completion_gaps").outcome, CheckOutcome::kPass);
}

// Batches with an empty queue between them: each job was leased just before it ran, so the wait
// before it is no pipeline gap. A node that held the next job all along has one.
TEST(Doctor, EmptyQueueBetweenBatchesIsNoGap) {
  FleetBuilder fleet;
  FourCompletions(fleet, Millis(2'000'000), Millis(435'700), Millis(21'000));
  EXPECT_EQ(Find(RunDoctor(fleet.facts), "no_completion_gaps").outcome, CheckOutcome::kPass);
  for (CompletedJob& j : fleet.facts.done_day) j.wall_time = Millis(435'700);
  const DoctorReport report = RunDoctor(fleet.facts);
  const Check& gaps = Find(report, "no_completion_gaps");
  EXPECT_EQ(gaps.outcome, CheckOutcome::kFail);
  EXPECT_THAT(gaps.detail, HasSubstr("pod p90 gap 415.7s"));
}

TEST(Doctor, UnhealthyNodeFailsWithItsWorkersReason) {
  FleetBuilder fleet;
  fleet.Add("pod-1", "RTX A5000", 87, 0.22);
  DoctorReport healthy = RunDoctor(fleet.facts);
  EXPECT_EQ(Find(healthy, "no_unhealthy_nodes").outcome, CheckOutcome::kPass);
  NodeFacts& sick = fleet.Add("pod-2", "RTX A5000", 87, 0.22, NodeStatus::kUnhealthy);
  sick.view.fault = NodeFault{"/work/audio/.probe: No space left on device", fleet.facts.now};
  EXPECT_FALSE(sick.working());
  DoctorReport r = RunDoctor(fleet.facts);
  EXPECT_EQ(Find(r, "no_unhealthy_nodes").outcome, CheckOutcome::kFail);
  EXPECT_THAT(Find(r, "no_unhealthy_nodes").detail,
              HasSubstr("pod-2: /work/audio/.probe: No space left on device"));
  EXPECT_FALSE(r.healthy);
}

}  // namespace
}  // namespace podfleet
