#include "coordinator/job_waiters.h"

#include <gtest/gtest.h>

#include <future>

#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

constexpr Millis kLease{60'000};
constexpr std::chrono::seconds kPatience{10};

class JobWaitersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Must(OpenSqliteStore(dir_.File("podfleet.db")));
    auto ids = Must(store_->AddEpisodes(std::nullopt, {TestEpisode("a")}, clock_.Now()));
    job_ = Must(store_->GetJobForEpisode(ids.at(0))).id;
    waiters_ = std::make_unique<JobWaiters>(*store_, clock_, Millis(20));
  }

  std::future<std::optional<Job>> Wait(Millis for_how_long) {
    auto promise = std::make_shared<std::promise<std::optional<Job>>>();
    waiters_->Wait(job_, clock_.Now() + for_how_long,
                   [promise](std::optional<Job> j) { promise->set_value(std::move(j)); });
    return promise->get_future();
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  JobId job_;
  std::unique_ptr<JobWaiters> waiters_;
};

TEST_F(JobWaitersTest, AnsweredWithTheJobOnceItIsDone) {
  auto answer = Wait(Millis(60'000));
  auto grants = Must(store_->Claim(NodeId(1), 1, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  ASSERT_TRUE(
      store_->Complete(NodeId(1), job_, grants[0].lease.attempt, TestTranscript(), clock_.Now()));
  waiters_->Notify(job_);
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  std::optional<Job> job = answer.get();
  ASSERT_TRUE(job);
  EXPECT_EQ(job->state, JobState::kDone);
  EXPECT_EQ(waiters_->waiting(), 0u);
}

TEST_F(JobWaitersTest, FailedJobEndsTheWaitWithoutANotify) {
  auto answer = Wait(Millis(60'000));
  auto grants = Must(store_->Claim(NodeId(1), 1, kLease, clock_.Now()));
  ASSERT_TRUE(store_->Fail(NodeId(1), job_, grants.at(0).lease.attempt, {"not audio", true}, {},
                           clock_.Now()));
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);  // found by the recheck
  EXPECT_EQ(answer.get()->state, JobState::kFailed);
}

TEST_F(JobWaitersTest, DeadlineGivesNothing) {
  auto answer = Wait(Millis(5'000));
  clock_.Advance(Millis(5'000));
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  EXPECT_FALSE(answer.get());
}

TEST_F(JobWaitersTest, StopAnswersEveryWaiter) {
  auto a = Wait(Millis(60'000));
  auto b = Wait(Millis(60'000));
  waiters_->Stop();
  EXPECT_FALSE(a.get());
  EXPECT_FALSE(b.get());
  auto late = Wait(Millis(60'000));  // after Stop: answered at once
  EXPECT_FALSE(late.get());
}

}  // namespace
}  // namespace podfleet
