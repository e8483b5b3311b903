#include "coordinator/lease_reaper.h"

#include <gtest/gtest.h>

#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

constexpr Millis kLease{30'000};

class LeaseReaperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Must(OpenSqliteStore(dir_.File("podfleet.db")));
    Must(store_->AddEpisodes(std::nullopt, {TestEpisode("a")}, clock_.Now()));
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
};

// The coordinator was down longer than a lease: the lease is past its deadline when the new
// process starts, but its worker is still working and heartbeats within the grace.
TEST_F(LeaseReaperTest, LeaseFromBeforeARestartSurvivesTheGraceAndIsRenewed) {
  Grant g = Must(store_->Claim(NodeId(1), 1, kLease, clock_.Now())).at(0);
  clock_.Advance(3 * kLease);  // the coordinator is down
  LeaseReaper reaper(*store_, clock_, kLease, RetryPolicy{});
  EXPECT_EQ(Must(reaper.Tick()), 0);
  clock_.Advance(kLease - Millis(1));
  EXPECT_EQ(Must(reaper.Tick()), 0);
  EXPECT_EQ(Must(store_->GetJob(g.lease.job)).state, JobState::kLeased);
  ASSERT_EQ(
      Must(store_->Renew(NodeId(1), {{g.lease.job, g.lease.attempt}}, kLease, clock_.Now())).size(),
      1u);
  clock_.Advance(Millis(2));
  EXPECT_EQ(Must(reaper.Tick()), 0);  // renewed: it runs a full lease from the heartbeat
  EXPECT_OK(
      store_->Complete(NodeId(1), g.lease.job, g.lease.attempt, TestTranscript(), clock_.Now()));
}

TEST_F(LeaseReaperTest, DeadWorkersLeaseExpiresOnceTheGraceEnds) {
  Grant g = Must(store_->Claim(NodeId(1), 1, kLease, clock_.Now())).at(0);
  clock_.Advance(3 * kLease);
  LeaseReaper reaper(*store_, clock_, kLease, RetryPolicy{});
  clock_.Advance(kLease);
  EXPECT_EQ(Must(reaper.Tick()), 1);
  Job job = Must(store_->GetJob(g.lease.job));
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.lease_expiries, 1);
}

TEST_F(LeaseReaperTest, QuarantinesWithItsPolicy) {
  LeaseReaper reaper(*store_, clock_, Millis(0), RetryPolicy{.max_lease_expiries = 1});
  Grant g = Must(store_->Claim(NodeId(1), 1, kLease, clock_.Now())).at(0);
  clock_.Advance(kLease + Millis(1));
  EXPECT_EQ(Must(reaper.Tick()), 1);
  EXPECT_TRUE(Must(store_->GetJob(g.lease.job)).quarantined_at);
}

// The coordinator itself was frozen (SIGSTOP) past a lease: its worker could not renew, so the
// lease is given a grace to be renewed instead of counting toward quarantine.
TEST_F(LeaseReaperTest, AFreezeOfTheCoordinatorIsNoLeaseExpiry) {
  LeaseReaper reaper(*store_, clock_, kLease, RetryPolicy{.max_lease_expiries = 1});
  clock_.Advance(kLease);
  EXPECT_EQ(Must(reaper.Tick()), 0);  // the start's grace ends
  Grant g = Must(store_->Claim(NodeId(1), 1, kLease, clock_.Now())).at(0);
  clock_.Advance(Millis(1'000));
  EXPECT_EQ(Must(reaper.Tick()), 0);
  clock_.Advance(2 * kLease);  // frozen: the pass comes two leases late
  EXPECT_EQ(Must(reaper.Tick(2 * kLease)), 0);
  ASSERT_EQ(
      Must(store_->Renew(NodeId(1), {{g.lease.job, g.lease.attempt}}, kLease, clock_.Now())).size(),
      1u);
  Job job = Must(store_->GetJob(g.lease.job));
  EXPECT_EQ(job.lease_expiries, 0);
  EXPECT_FALSE(job.quarantined_at.has_value());
  // A worker that is really gone still loses the lease once the new grace has passed.
  for (int i = 0; i < 40; ++i) {
    clock_.Advance(Millis(1'000));
    (void)Must(reaper.Tick());
  }
  EXPECT_EQ(Must(store_->GetJob(g.lease.job)).lease_expiries, 1);
}

}  // namespace
}  // namespace podfleet
