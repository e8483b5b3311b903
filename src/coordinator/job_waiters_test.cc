#include "coordinator/job_waiters.h"

#include <gtest/gtest.h>

#include <condition_variable>
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
    episode_ = ids.at(0);
    job_ = Must(store_->GetJobForEpisode(episode_)).id;
    waiters_ = std::make_unique<JobWaiters>(*store_, clock_, Millis(20));
  }

  std::future<std::optional<Episode>> Wait(Millis for_how_long, EpisodeId episode,
                                           JobWaiters::Piece piece = {}) {
    auto promise = std::make_shared<std::promise<std::optional<Episode>>>();
    waiters_->Wait(
        episode, clock_.Now() + for_how_long,
        [promise](std::optional<Episode> e) { promise->set_value(std::move(e)); }, piece);
    return promise->get_future();
  }
  std::future<std::optional<Episode>> Wait(Millis for_how_long) {
    return Wait(for_how_long, episode_);
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  EpisodeId episode_;
  JobId job_;
  std::unique_ptr<JobWaiters> waiters_;
};

TEST_F(JobWaitersTest, AnsweredWithTheEpisodeOnceItIsDone) {
  auto answer = Wait(Millis(60'000));
  auto grants = Must(store_->Claim(NodeId(1), 1, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  ASSERT_TRUE(
      store_->Complete(NodeId(1), job_, grants[0].lease.attempt, TestTranscript(), clock_.Now()));
  waiters_->Notify();
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  std::optional<Episode> episode = answer.get();
  ASSERT_TRUE(episode);
  EXPECT_EQ(episode->state, EpisodeState::kDone);
  EXPECT_EQ(waiters_->waiting(), 0u);
}

TEST_F(JobWaitersTest, FailedJobEndsTheWaitWithoutANotify) {
  auto answer = Wait(Millis(60'000));
  // The first wait began at the start; the second after the check Wait asked for. The job fails
  // only then, so only the periodic re-check can find the failure.
  clock_.WaitForWaits(2);
  auto grants = Must(store_->Claim(NodeId(1), 1, kLease, clock_.Now()));
  ASSERT_TRUE(store_->Fail(NodeId(1), job_, grants.at(0).lease.attempt, {"not audio", true}, {},
                           clock_.Now()));
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  clock_.Advance(Millis(20));
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(answer.get()->state, EpisodeState::kFailed);
}

// A chunked episode: the texts of its chunks come in chunk order as soon as the chunks before
// them are done, and the answer comes only when every chunk is.
TEST_F(JobWaitersTest, ChunkTextsComeInOrderBeforeTheEnd) {
  auto ids = Must(store_->AddEpisodes(std::nullopt, {TestEpisode("chunked")}, clock_.Now(),
                                      JobIntake::kPrepare));
  const EpisodeId episode = ids.at(0);
  const JobId held = Must(store_->GetJobForEpisode(episode)).id;
  std::vector<Chunk> chunks(3);
  for (int i = 0; i < 3; ++i) {
    chunks[i].start = Millis(i * 10'000);
    chunks[i].end = Millis((i + 1) * 10'000);
  }
  auto jobs = Must(store_->PlanChunks(held, chunks, clock_.Now()));
  Mutex mu;
  std::condition_variable_any given;
  std::vector<std::string> pieces;
  auto answer = Wait(Millis(60'000), episode, [&](const std::string& text) {
    MutexLock lock(mu);
    pieces.push_back(text);
    given.notify_all();
  });
  auto grants = Must(store_->Claim(NodeId(1), 10, kLease, clock_.Now()));
  auto attempt_of = [&](JobId job) {
    for (const Grant& g : grants)
      if (g.lease.job == job) return g.lease.attempt;
    throw std::runtime_error("not granted");
  };
  auto said = [](const std::string& text) {
    Transcript t = TestTranscript();
    t.segments.resize(1);
    t.segments[0].text = text;
    return t;
  };
  auto wait_for_count = [&](size_t n) {
    MutexLock lock(mu);
    given.wait_for(lock, kPatience, [&] { return pieces.size() >= n; });
    return pieces.size();
  };
  // The second chunk first: nothing can be given before the first is done (had "two" been given,
  // it would come first in `pieces`).
  ASSERT_OK(store_->Complete(NodeId(1), jobs[1], attempt_of(jobs[1]), said("two"), clock_.Now()));
  waiters_->Notify();
  ASSERT_OK(store_->Complete(NodeId(1), jobs[0], attempt_of(jobs[0]), said("one"), clock_.Now()));
  waiters_->Notify();
  ASSERT_EQ(wait_for_count(2), 2u);
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  {
    MutexLock lock(mu);
    EXPECT_EQ(pieces, (std::vector<std::string>{"one", "two"}));
  }
  ASSERT_OK(store_->Complete(NodeId(1), jobs[2], attempt_of(jobs[2]), said("three"), clock_.Now()));
  waiters_->Notify();
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(answer.get()->state, EpisodeState::kDone);
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
