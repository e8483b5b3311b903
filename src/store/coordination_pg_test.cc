// coordination.h on PostgreSQL: several stores (coordinators) on one database.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "store/coordination.h"
#include "store/store_pg.h"
#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/pg_server.h"

namespace podfleet {
namespace {

constexpr Millis kLease{60'000};

// Counts pokes; a test waits for the count to pass a mark. The wait's real-time limit only ends a
// test that would otherwise hang: what is asserted is the order of events.
class Pokes {
 public:
  std::function<void()> Callback() {
    return [this] {
      std::lock_guard lock(mu_);
      ++count_;
      cv_.notify_all();
    };
  }
  int count() {
    std::lock_guard lock(mu_);
    return count_;
  }
  bool WaitAbove(int mark) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return count_ > mark; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

// A store (coordinator A) and a listener (coordinator B's) on one database.
class PgWorkListenerTest : public ::testing::Test {
 protected:
  const std::string url_ = NewPgDatabase();
  std::unique_ptr<Store> a_ = Must(OpenPgStore(url_));
  ManualClock clock_;
  Pokes pokes_;
  std::unique_ptr<WorkListener> listener_ = Must(ListenForWork(url_, pokes_.Callback()));
};

TEST_F(PgWorkListenerTest, QueuedReleasedAndExpiredWorkOnAnotherStoreWakesTheListener) {
  Must(a_->AddFeed("https://example.com/f.xml", clock_.Now()));  // queues nothing
  EXPECT_EQ(pokes_.count(), 0);

  Must(a_->AddEpisodes(std::nullopt, {TestEpisode("one")}, clock_.Now()));
  ASSERT_TRUE(pokes_.WaitAbove(0));

  int seen = pokes_.count();
  Grant g = Must(a_->Claim(NodeId(1), 1, kLease, clock_.Now())).at(0);
  ASSERT_OK(a_->Release(NodeId(1), g.lease.job, g.lease.attempt, clock_.Now()));
  ASSERT_TRUE(pokes_.WaitAbove(seen));

  seen = pokes_.count();
  Must(a_->Claim(NodeId(1), 1, kLease, clock_.Now()));
  clock_.Advance(kLease + Millis(1));
  ASSERT_EQ(Must(a_->ExpireLeases(clock_.Now(), RetryPolicy{})), 1);
  ASSERT_TRUE(pokes_.WaitAbove(seen));
  EXPECT_EQ(listener_->listens(), 1);
}

TEST_F(PgWorkListenerTest, ListensAgainAfterTheServerRestarts) {
  RestartPgServer();
  // Listening again pokes once (what was queued meanwhile is not known).
  ASSERT_TRUE(pokes_.WaitAbove(0));
  EXPECT_EQ(listener_->listens(), 2);
  const int seen = pokes_.count();
  Must(a_->AddEpisodes(std::nullopt, {TestEpisode("after")}, clock_.Now()));
  ASSERT_TRUE(pokes_.WaitAbove(seen));
}

TEST(PgWorkListener, UnreachableServerIsUnavailable) {
  auto listener = ListenForWork("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2", [] {});
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error().code, Code::kUnavailable);
}

constexpr std::string_view kTask = "poll feeds";

// Ends, from a third connection, the session holding `task`'s lock, as when its coordinator dies;
// returns once the server has ended it (and so freed the lock).
void KillHolder(const std::string& url, std::string_view task) {
  PgConn c = Must(PgConn::Connect(url));
  auto killed = Must(
      c.Query("SELECT pg_terminate_backend(pid, 30000) FROM pg_locks WHERE locktype = 'advisory' "
              "AND classid = 1886348390 AND objid = hashtext($1)::oid AND granted",
              std::string(task)));
  ASSERT_EQ(killed.Rows(), 1);
  ASSERT_EQ(killed.Row(0).Text(0), "t");
}

// Two coordinators' task locks on one database; a holds kTask from the start.
class PgTaskLocksTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(a_->Hold(kTask)); }

  const std::string url_ = NewPgDatabase();
  std::unique_ptr<TaskLocks> a_ = PgTaskLocks(url_);
  std::unique_ptr<TaskLocks> b_ = PgTaskLocks(url_);
};

TEST_F(PgTaskLocksTest, OneHolderPerTaskUntilItStops) {
  EXPECT_FALSE(b_->Hold(kTask));
  EXPECT_TRUE(a_->Hold(kTask));  // still a's
  EXPECT_TRUE(b_->Hold("reap leases"));
  EXPECT_FALSE(a_->Hold("reap leases"));
  a_.reset();
  EXPECT_TRUE(b_->Hold(kTask));
}

TEST_F(PgTaskLocksTest, AnotherTakesOverWhenTheHolderDies) {
  ASSERT_FALSE(b_->Hold(kTask));
  KillHolder(url_, kTask);
  EXPECT_TRUE(b_->Hold(kTask));
  // The old holder learns it lost the lock (its connection broke) and cannot take it back.
  EXPECT_FALSE(a_->Hold(kTask));
  EXPECT_FALSE(a_->Hold(kTask));
  EXPECT_TRUE(b_->Hold(kTask));
}

TEST_F(PgTaskLocksTest, AfterAServerRestartOneTakesTheLockAgain) {
  RestartPgServer();
  // a's connection broke: its first try finds that out, the next reconnects and takes the lock.
  const bool first = a_->Hold(kTask);
  EXPECT_TRUE(first || a_->Hold(kTask));
  EXPECT_FALSE(b_->Hold(kTask));
}

TEST_F(PgTaskLocksTest, ReleasedLockGoesToTheOther) {
  ASSERT_FALSE(b_->Hold(kTask));
  a_->Release(kTask);
  EXPECT_TRUE(b_->Hold(kTask));
  EXPECT_FALSE(a_->Hold(kTask));
  a_->Release(kTask);  // not held: nothing to give up
  EXPECT_TRUE(b_->Hold(kTask));
}

TEST(SoleTaskLocks, HoldEveryTask) {
  auto sole = SoleTaskLocks();
  EXPECT_TRUE(sole->Hold(kTask));
  EXPECT_TRUE(sole->Hold(kTask));
}

}  // namespace
}  // namespace podfleet
