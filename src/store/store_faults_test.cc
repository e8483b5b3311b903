// The store under faults: dying workers (lease expiries and quarantine), late results from
// workers presumed dead, and an ambiguous commit failure (a fault-injecting VFS makes fsync fail).
// Time is a ManualClock; nothing sleeps.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "store/sqlite_db.h"
#include "store/store.h"
#include "store/store_test_util.h"
#include "support/fault_vfs.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class StoreFaultsTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  static constexpr Millis kLease{30'000};

  void SetUp() override { store_ = Must(GetParam().open(dir_)); }

  TimePoint Now() const { return clock_.Now(); }

  EpisodeId QueueEpisode(const std::string& guid) {
    return Must(store_->AddEpisodes(std::nullopt, {TestEpisode(guid)}, Now())).at(0);
  }

  Grant ClaimOne(NodeId node) {
    std::vector<Grant> grants = Must(store_->Claim(node, 1, kLease, Now()));
    if (grants.size() != 1) throw std::runtime_error("expected one grant");
    return grants[0];
  }

  // Claims the job on `node` and lets the lease run out, as when the worker is killed.
  Grant ClaimAndDie(NodeId node, const RetryPolicy& policy = RetryPolicy{}) {
    Grant g = ClaimOne(node);
    clock_.Advance(kLease + Millis(1));
    EXPECT_EQ(Must(store_->ExpireLeases(Now(), policy)), 1);
    return g;
  }

  int CompletedAttempts(JobId job) {
    int done = 0;
    for (const Attempt& a : Must(store_->ListAttempts(job)))
      done += a.outcome == AttemptOutcome::kDone ? 1 : 0;
    return done;
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
};

INSTANTIATE_ON_BOTH_STORES(StoreFaultsTest);

// Tests that edit the SQLite file behind the store's back: SQLite only.
class StoreFaultsTestSqliteOnly : public StoreFaultsTest {};
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreFaultsTestSqliteOnly, ::testing::Values(SqliteBackend()),
                         BackendName);

// ---- quarantine --------------------------------------------------------------------------------

TEST_P(StoreFaultsTest, LeaseExpiriesCountApartFromFailures) {
  const EpisodeId episode = QueueEpisode("a");
  ClaimAndDie(NodeId(1));
  Grant g = ClaimOne(NodeId(2));
  ASSERT_OK(store_->Fail(NodeId(2), g.lease.job, g.lease.attempt, {"timeout", false},
                         RetryPolicy{.base_backoff = Millis(1)}, Now()));
  Job job = Must(store_->GetJobForEpisode(episode));
  EXPECT_EQ(job.lease_expiries, 1);
  EXPECT_EQ(job.failures, 1);
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_FALSE(job.quarantined_at);
}

TEST_P(StoreFaultsTest, EpisodeThatKeepsKillingWorkersIsQuarantinedWithEvidence) {
  const EpisodeId episode = QueueEpisode("poison");
  ClaimAndDie(NodeId(4));
  ClaimAndDie(NodeId(7));
  EXPECT_EQ(Must(store_->GetJobForEpisode(episode)).state, JobState::kQueued);
  const TimePoint third = Now() + kLease + Millis(1);
  ClaimAndDie(NodeId(2));

  Job job = Must(store_->GetJobForEpisode(episode));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(job.lease_expiries, 3);
  ASSERT_TRUE(job.quarantined_at);
  EXPECT_EQ(*job.quarantined_at, third);
  EXPECT_THAT(job.error, HasSubstr("quarantined"));
  EXPECT_THAT(job.error, HasSubstr("node 4 at"));
  EXPECT_THAT(job.error, HasSubstr("node 7 at"));
  EXPECT_THAT(job.error, HasSubstr("node 2 at " + FormatIso8601(third)));
  Episode e = Must(store_->GetEpisode(episode));
  EXPECT_EQ(e.state, EpisodeState::kFailed);
  EXPECT_EQ(e.error, job.error);

  std::vector<Attempt> attempts = Must(store_->ListAttempts(job.id));
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(attempts[0].node, NodeId(4));
  EXPECT_EQ(attempts[2].node, NodeId(2));
  for (const Attempt& a : attempts) EXPECT_EQ(a.outcome, AttemptOutcome::kExpired);
  // Not retried forever: nobody gets it again.
  clock_.Advance(Millis(3'600'000));
  EXPECT_THAT(Must(store_->Claim(NodeId(9), 1, kLease, Now())), IsEmpty());
}

TEST_P(StoreFaultsTest, QuarantineLimitIsConfigurable) {
  const RetryPolicy patient{.max_lease_expiries = 5};
  const EpisodeId episode = QueueEpisode("a");
  for (int i = 0; i < 4; ++i) ClaimAndDie(NodeId(1), patient);
  EXPECT_EQ(Must(store_->GetJobForEpisode(episode)).state, JobState::kQueued);
  ClaimAndDie(NodeId(1), patient);
  EXPECT_TRUE(Must(store_->GetJobForEpisode(episode)).quarantined_at);
}

TEST_P(StoreFaultsTest, OperatorRetryRequeuesAQuarantinedEpisode) {
  const EpisodeId episode = QueueEpisode("a");
  for (int i = 0; i < 3; ++i) ClaimAndDie(NodeId(1));
  ASSERT_OK(store_->RetryEpisode(episode, Now()));
  Job job = Must(store_->GetJobForEpisode(episode));
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.lease_expiries, 0);
  EXPECT_FALSE(job.quarantined_at);
  EXPECT_EQ(job.error, "");
  Grant g = ClaimOne(NodeId(3));
  EXPECT_EQ(g.lease.attempt, AttemptId(4));  // attempt numbers never repeat
  // A fresh count: one more expiry does not quarantine it again.
  clock_.Advance(kLease + Millis(1));
  ASSERT_EQ(Must(store_->ExpireLeases(Now())), 1);
  EXPECT_EQ(Must(store_->GetJobForEpisode(episode)).state, JobState::kQueued);
}

TEST_P(StoreFaultsTest, ReleasedLeasesDoNotCountTowardQuarantine) {
  const EpisodeId episode = QueueEpisode("a");
  for (int i = 0; i < 5; ++i) {
    Grant g = ClaimOne(NodeId(1));
    ASSERT_OK(store_->Release(NodeId(1), g.lease.job, g.lease.attempt, Now()));
  }
  Job job = Must(store_->GetJobForEpisode(episode));
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.lease_expiries, 0);
}

// ---- late results ------------------------------------------------------------------------------

TEST_P(StoreFaultsTest, LateResultIsAcceptedWhileTheJobWaitsInTheQueue) {
  const EpisodeId episode = QueueEpisode("a");
  Grant late = ClaimAndDie(NodeId(1));
  ASSERT_OK(
      store_->Complete(NodeId(1), late.lease.job, late.lease.attempt, TestTranscript(), Now()));
  Job job = Must(store_->GetJob(late.lease.job));
  EXPECT_EQ(job.state, JobState::kDone);
  EXPECT_EQ(job.lease_expiries, 1);
  EXPECT_EQ(Must(store_->GetEpisode(episode)).state, EpisodeState::kDone);
  EXPECT_EQ(Must(store_->GetTranscript(episode)).segments.size(), 2u);
  EXPECT_EQ(CompletedAttempts(job.id), 1);
  EXPECT_EQ(Must(store_->CompletedSince(FromUnixMillis(0))).size(), 1u);
  // The upload repeated (the acknowledgement was lost) changes nothing.
  ASSERT_OK(
      store_->Complete(NodeId(1), late.lease.job, late.lease.attempt, TestTranscript(), Now()));
  EXPECT_EQ(CompletedAttempts(job.id), 1);
}

TEST_P(StoreFaultsTest, LateResultSupersedesTheAttemptNowRunning) {
  QueueEpisode("a");
  Grant late = ClaimAndDie(NodeId(1));
  Grant current = ClaimOne(NodeId(2));
  ASSERT_OK(
      store_->Complete(NodeId(1), late.lease.job, late.lease.attempt, TestTranscript(), Now()));
  const JobId job = late.lease.job;
  EXPECT_EQ(Must(store_->GetJob(job)).state, JobState::kDone);
  // The current holder learns at its next heartbeat, and its own result is refused.
  EXPECT_THAT(Must(store_->Renew(NodeId(2), {{job, current.lease.attempt}}, kLease, Now())),
              IsEmpty());
  EXPECT_CODE(store_->Complete(NodeId(2), job, current.lease.attempt, TestTranscript(), Now()),
              Code::kConflict);
  std::vector<Attempt> attempts = Must(store_->ListAttempts(job));
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].outcome, AttemptOutcome::kDone);
  EXPECT_EQ(attempts[1].outcome, AttemptOutcome::kReleased);
  EXPECT_THAT(attempts[1].error, HasSubstr("superseded"));
}

TEST_P(StoreFaultsTest, OnlyTheFirstResultIsAccepted) {
  QueueEpisode("a");
  Grant first = ClaimAndDie(NodeId(1));
  Grant second = ClaimOne(NodeId(2));
  ASSERT_OK(
      store_->Complete(NodeId(2), second.lease.job, second.lease.attempt, TestTranscript(), Now()));
  EXPECT_CODE(
      store_->Complete(NodeId(1), first.lease.job, first.lease.attempt, TestTranscript(), Now()),
      Code::kConflict);
  EXPECT_EQ(CompletedAttempts(first.lease.job), 1);
}

TEST_P(StoreFaultsTest, LateResultLiftsAQuarantine) {
  const EpisodeId episode = QueueEpisode("a");
  ClaimAndDie(NodeId(1));
  ClaimAndDie(NodeId(2));
  Grant last = ClaimAndDie(NodeId(3));
  ASSERT_TRUE(Must(store_->GetJobForEpisode(episode)).quarantined_at);
  ASSERT_OK(
      store_->Complete(NodeId(3), last.lease.job, last.lease.attempt, TestTranscript(), Now()));
  Job job = Must(store_->GetJobForEpisode(episode));
  EXPECT_EQ(job.state, JobState::kDone);
  EXPECT_FALSE(job.quarantined_at);
  EXPECT_EQ(Must(store_->GetEpisode(episode)).error, "");
}

TEST_P(StoreFaultsTest, GivenUpAttemptsCannotReportLate) {
  QueueEpisode("a");
  Grant released = ClaimOne(NodeId(1));
  ASSERT_OK(store_->Release(NodeId(1), released.lease.job, released.lease.attempt, Now()));
  EXPECT_CODE(store_->Complete(NodeId(1), released.lease.job, released.lease.attempt,
                               TestTranscript(), Now()),
              Code::kConflict);
  Grant expired = ClaimAndDie(NodeId(2));
  // Another node cannot pass off a result as the expired attempt's.
  EXPECT_CODE(store_->Complete(NodeId(3), expired.lease.job, expired.lease.attempt,
                               TestTranscript(), Now()),
              Code::kConflict);
  EXPECT_EQ(Must(store_->GetJob(expired.lease.job)).state, JobState::kQueued);
}

// ---- ambiguous commit failure ------------------------------------------------------------------

class StickyErrorTest : public ::testing::Test {
 protected:
  TempDir dir_;
  ManualClock clock_;
  FaultVfs vfs_;  // before the store: the store's connection must be opened through it
};

TEST_F(StickyErrorTest, FailedCommitStopsEveryWriteUntilReopened) {
  auto store = Must(OpenSqliteStore(dir_.File("podfleet.db")));
  Must(store->AddEpisodes(std::nullopt, {TestEpisode("a"), TestEpisode("b")}, clock_.Now()));
  Grant g = Must(store->Claim(NodeId(1), 1, Millis(30'000), clock_.Now())).at(0);
  ASSERT_OK(store->CheckHealth());

  vfs_.FailSyncs(true);
  auto r = store->Complete(NodeId(1), g.lease.job, g.lease.attempt, TestTranscript(), clock_.Now());
  EXPECT_CODE(r, Code::kUnavailable);
  vfs_.FailSyncs(false);
  ASSERT_GT(vfs_.failed_syncs(), 0);

  // The disk works again, but the store does not guess: no more leases, no more writes.
  EXPECT_CODE(store->CheckHealth(), Code::kUnavailable);
  EXPECT_THAT(MessageOf(store->CheckHealth()), HasSubstr("commit failed"));
  EXPECT_CODE(store->Claim(NodeId(2), 1, Millis(30'000), clock_.Now()), Code::kUnavailable);
  EXPECT_CODE(store->ExpireLeases(clock_.Now()), Code::kUnavailable);
  EXPECT_CODE(store->AddFeed("https://example.com/f.xml", clock_.Now()), Code::kUnavailable);
  EXPECT_OK(store->CountJobs());  // reads still answer
  const int failed_syncs = vfs_.failed_syncs();
  store.reset();

  // Reopened, the store is whole: the job is done or still leased, never anything in between.
  store = Must(OpenSqliteStore(dir_.File("podfleet.db")));
  EXPECT_OK(store->CheckHealth());
  Job job = Must(store->GetJob(g.lease.job));
  if (job.state == JobState::kDone) {
    EXPECT_EQ(Must(store->GetTranscript(g.episode.id)).segments.size(), 2u);
  } else {
    EXPECT_EQ(job.state, JobState::kLeased);
    EXPECT_CODE(store->GetTranscript(g.episode.id), Code::kNotFound);
  }
  EXPECT_EQ(Must(store->Claim(NodeId(2), 1, Millis(30'000), clock_.Now())).size(), 1u);
  EXPECT_EQ(vfs_.failed_syncs(), failed_syncs);
}

TEST_F(StickyErrorTest, FailedStatementIsNotSticky) {
  auto store = Must(OpenSqliteStore(dir_.File("podfleet.db")));
  Must(store->AddFeed("https://example.com/f.xml", clock_.Now()));
  // A refused write rolled back cleanly: nothing is ambiguous.
  EXPECT_CODE(store->AddFeed("https://example.com/f.xml", clock_.Now()), Code::kConflict);
  EXPECT_OK(store->CheckHealth());
  EXPECT_OK(store->AddFeed("https://example.com/g.xml", clock_.Now()));
}

// ---- damage ------------------------------------------------------------------------------------

// Damage met at run time (here a row whose JSON column is not JSON, written behind the store's
// back) stops writes like a failed commit: a damaged database takes no new promises.
TEST_P(StoreFaultsTestSqliteOnly, DamageMetAtRunTimeStopsWrites) {
  const EpisodeId episode = QueueEpisode("a");
  {
    Db raw = Must(Db::Open(dir_.File("podfleet.db"), 1'000));
    ASSERT_EQ(Must(raw.Run("UPDATE episodes SET transcript_links = 'not json' WHERE id = ?1",
                           episode.value())),
              1);
  }
  EXPECT_OK(store_->CheckHealth());
  auto read = store_->GetEpisode(episode);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, Code::kCorruption);
  auto health = store_->CheckHealth();
  ASSERT_FALSE(health);
  EXPECT_THAT(health.error().message, HasSubstr("the database is damaged"));
  auto write = store_->AddEpisodes(std::nullopt, {TestEpisode("b")}, Now());
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code, Code::kUnavailable);
}

TEST(StoreDamage, OpeningRefusesADatabaseThatFailsItsQuickCheck) {
  TempDir dir;
  const std::string path = dir.File("podfleet.db");
  {
    auto store = Must(OpenSqliteStore(path));
    std::vector<EpisodeInfo> many;
    for (int i = 0; i < 2'000; ++i) many.push_back(TestEpisode("g" + std::to_string(i)));
    Must(store->AddEpisodes(std::nullopt, many, TimePoint()));
  }
  EXPECT_THAT(Must(CheckSqliteDatabase(path, /*full=*/true)), IsEmpty());
  const std::string backup = dir.File("backup.db");
  EXPECT_OK(CopySqliteDatabase(path, backup));
  {
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    const long size = (std::fseek(f, 0, SEEK_END), std::ftell(f));
    const std::string junk(2'000, '\xa5');
    for (long page = size / 4096 / 2; page < size / 4096 / 2 + 3; ++page) {
      std::fseek(f, page * 4096 + 16, SEEK_SET);
      std::fwrite(junk.data(), 1, junk.size(), f);
    }
    std::fclose(f);
  }
  EXPECT_THAT(Must(CheckSqliteDatabase(path, /*full=*/true)), Not(IsEmpty()));
  auto opened = OpenSqliteStore(path);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Code::kCorruption);
  EXPECT_THAT(opened.error().message, HasSubstr("fails its quick check"));

  // The backup, copied back, is whole.
  EXPECT_OK(CopySqliteDatabase(backup, path));
  auto restored = Must(OpenSqliteStore(path));
  EXPECT_EQ(Must(restored->ListEpisodes(EpisodeFilter{.limit = 5'000})).size(), 2'000u);
}

}  // namespace
}  // namespace podfleet
