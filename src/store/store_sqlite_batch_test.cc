// Group commit and read connections in the SQLite store (store_sqlite.h): concurrent writes share
// commits and fsyncs, each caller still succeeds or fails alone, and reads never wait for writes.
// Syncs are counted by the fault-injecting VFS, which passes them through to the disk.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "store/sqlite_db.h"
#include "store/store.h"
#include "store/store_test_util.h"
#include "support/fault_vfs.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

constexpr Millis kLease{30'000};

class StoreBatchTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = Must(OpenSqliteStore(dir_.File("podfleet.db"))); }
  void TearDown() override { store_.reset(); }  // before the VFS goes

  NodeId AddNode(int i) {
    NodeInfo info;
    info.name = "w" + std::to_string(i);
    return Must(store_->RegisterNode(info, "hash" + std::to_string(i), clock_.Now())).id;
  }

  // Runs `call(i)` on `threads` threads, `each` times per thread.
  template <class Call>
  static void OnThreads(int threads, int each, Call call) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (int i = 0; i < each; ++i) call(t);
      });
    }
    for (std::thread& t : pool) t.join();
  }

  FaultVfs vfs_;  // declared first: the store's connections open through it
  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreBatchTest, AHeartbeatWithALeaseIsOneSync) {
  ASSERT_OK(store_->AddEpisodes(std::nullopt, {TestEpisode("a")}, clock_.Now()));
  const NodeId node = AddNode(0);
  const Grant grant = Must(store_->Claim(node, 1, kLease, clock_.Now())).at(0);
  constexpr int kBeats = 50;
  const int before = vfs_.syncs();
  for (int i = 0; i < kBeats; ++i) {
    clock_.Advance(Millis(5'000));
    const Progress held{grant.lease.job, grant.lease.attempt, Stage::kTranscribing, 0.5};
    ASSERT_EQ(Must(store_->Renew(node, {held}, kLease, clock_.Now())).size(), 1u);
  }
  const int syncs = vfs_.syncs() - before;
  // Touch and renew share one commit: one WAL sync each (a checkpoint, if one falls due, adds a
  // few more once).
  EXPECT_GE(syncs, kBeats);
  EXPECT_LE(syncs, kBeats + 4);
  EXPECT_EQ(Must(store_->ListNodes()).at(0).last_seen, clock_.Now());  // touched too
  std::printf("fsyncs per heartbeat, one at a time: %.3f\n", double(syncs) / kBeats);
}

TEST_F(StoreBatchTest, ConcurrentHeartbeatsShareSyncs) {
  constexpr int kNodes = 32;
  constexpr int kBeats = 10;
  std::vector<EpisodeInfo> episodes;
  for (int i = 0; i < kNodes; ++i) episodes.push_back(TestEpisode("e" + std::to_string(i)));
  ASSERT_OK(store_->AddEpisodes(std::nullopt, episodes, clock_.Now()));
  std::vector<NodeId> nodes;
  std::vector<Progress> held;
  for (int i = 0; i < kNodes; ++i) {
    nodes.push_back(AddNode(i));
    const Lease lease = Must(store_->Claim(nodes[i], 1, kLease, clock_.Now())).at(0).lease;
    held.push_back(Progress{lease.job, lease.attempt, Stage::kTranscribing, 0.5});
  }
  std::atomic<int> renewed{0};
  const int before = vfs_.syncs();
  OnThreads(kNodes, kBeats, [&](int t) {
    auto r = store_->Renew(nodes[t], {held[t]}, kLease, clock_.Now());
    if (r && r->size() == 1) ++renewed;
  });
  const int syncs = vfs_.syncs() - before;
  EXPECT_EQ(renewed, kNodes * kBeats);
  EXPECT_GT(syncs, 0);
  EXPECT_LT(syncs, kNodes * kBeats) << "no two heartbeats shared a commit";
  std::printf("fsyncs per heartbeat, %d concurrent: %.3f\n", kNodes,
              double(syncs) / (kNodes * kBeats));
}

TEST_F(StoreBatchTest, AFailingWriterLosesOnlyItsOwnWork) {
  ASSERT_OK(store_->AddFeed("http://example.com/taken.xml", clock_.Now()));
  constexpr int kThreads = 16;
  std::atomic<int> added{0};
  std::atomic<int> refused{0};
  std::atomic<int> next{0};
  OnThreads(kThreads, 8, [&](int t) {
    // Even threads add new feeds; odd threads add the taken one, which fails with kConflict.
    const std::string url = t % 2 == 0 ? "http://example.com/" + std::to_string(next++) + ".xml"
                                       : "http://example.com/taken.xml";
    Result<Feed> r = store_->AddFeed(url, clock_.Now());
    if (r) {
      ++added;
    } else if (r.error().code == Code::kConflict) {
      ++refused;
    }
  });
  EXPECT_EQ(added, kThreads / 2 * 8);
  EXPECT_EQ(refused, kThreads / 2 * 8);
  EXPECT_EQ(Must(store_->ListFeeds()).size(), size_t(1 + kThreads / 2 * 8));
  EXPECT_OK(store_->CheckHealth());
}

TEST_F(StoreBatchTest, ReadsDoNotWaitForAWriteLockHeldElsewhere) {
  const Feed feed = Must(store_->AddFeed("http://example.com/feed.xml", clock_.Now()));
  // Another connection, as another process would, holds the write lock.
  Db other = Must(Db::Open(dir_.File("podfleet.db"), 1'000));
  ASSERT_OK(other.Exec("BEGIN IMMEDIATE"));
  std::thread writer([&] { (void)store_->TouchNode(NodeId(1), clock_.Now()); });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Must(store_->GetFeed(feed.id)).url, "http://example.com/feed.xml");
  EXPECT_OK(store_->CheckHealth());
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_OK(other.Exec("ROLLBACK"));
  writer.join();
  // The write waits on the busy timeout (seconds); the read does not wait for it.
  EXPECT_LT(waited, std::chrono::milliseconds(900));
}

}  // namespace
}  // namespace podfleet
