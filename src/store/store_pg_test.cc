// What only the PostgreSQL store has: several stores (coordinators) on one database, its own
// schema checks, and the move of a SQLite store into it (store migrate). The Store contract
// itself runs on both stores in store_test.cc and the other store suites.
#include "store/store_pg.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/pg_server.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using ::testing::HasSubstr;

constexpr Millis kLease{60'000};

TEST(PgStore, TwoCoordinatorsOnOneDatabaseNeverLeaseAJobTwice) {
  const std::string url = NewPgDatabase();
  auto a = Must(OpenPgStore(url));
  auto b = Must(OpenPgStore(url));
  ManualClock clock;
  std::vector<EpisodeInfo> episodes;
  for (int i = 0; i < 200; ++i) episodes.push_back(TestEpisode("e" + std::to_string(i)));
  Must(a->AddEpisodes(std::nullopt, episodes, clock.Now()));
  std::mutex mu;
  std::vector<int64_t> leased;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    Store* store = t % 2 ? b.get() : a.get();
    threads.emplace_back([&, store, t] {
      for (;;) {
        auto grants = store->Claim(NodeId(t + 1), 3, kLease, clock.Now());
        if (!grants) {
          ++errors;
          return;
        }
        if (grants->empty()) return;
        std::lock_guard lock(mu);
        for (const Grant& g : *grants) leased.push_back(g.lease.job.value());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(leased.size(), 200u);
  EXPECT_EQ(std::set<int64_t>(leased.begin(), leased.end()).size(), 200u);
  EXPECT_EQ(Must(b->CountJobs()).running, 200);
}

// A restarted server cuts every pooled connection: the store opens fresh ones and goes on (a cut
// before COMMIT is not ambiguous, so it does not stop writing).
TEST(PgStore, StoreGoesOnAfterTheServerRestarts) {
  const std::string url = NewPgDatabase();
  ManualClock clock;
  auto store = Must(OpenPgStore(url));
  Must(store->AddFeed("https://example.com/a.xml", clock.Now()));
  RestartPgServer();
  EXPECT_OK(store->AddFeed("https://example.com/b.xml", clock.Now()));
  EXPECT_EQ(Must(store->ListFeeds()).size(), 2u);
  EXPECT_OK(store->CheckHealth());
}

TEST(PgStore, ReopenedStoreKeepsItsDataAndSchema) {
  const std::string url = NewPgDatabase();
  ManualClock clock;
  {
    auto store = Must(OpenPgStore(url));
    Must(store->AddFeed("https://example.com/feed.xml", clock.Now()));
  }
  auto store = Must(OpenPgStore(url));
  EXPECT_EQ(Must(store->ListFeeds()).size(), 1u);
}

TEST(PgStore, DatabaseOfAnotherProgramIsRefused) {
  const std::string url = NewPgDatabase();
  {
    PgConn c = Must(PgConn::Connect(url));
    // Tables, but not podfleet's (the test database comes with its schema: drop the mark).
    ASSERT_OK(c.Exec("CREATE TABLE invoices (id BIGINT); DROP TABLE podfleet_schema"));
  }
  auto opened = OpenPgStore(url);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Code::kCorruption);
  EXPECT_THAT(opened.error().message, HasSubstr("not a podfleet database"));
}

TEST(PgStore, NewerSchemaIsRefused) {
  const std::string url = NewPgDatabase();
  Must(OpenPgStore(url));
  {
    PgConn c = Must(PgConn::Connect(url));
    ASSERT_OK(c.Exec("UPDATE podfleet_schema SET version = 99"));
  }
  auto opened = OpenPgStore(url);
  ASSERT_FALSE(opened);
  EXPECT_THAT(opened.error().message, HasSubstr("newer than this program"));
}

// Schema 4 gives the jobs of a schema-3 database exact edges (seam_ms 0): the database is taken
// back to schema 3 (the column dropped) with a job in it, and opened again.
TEST(PgStore, Schema3JobsHaveExactEdges) {
  const std::string url = NewPgDatabase();
  ManualClock clock;
  {
    auto store = Must(OpenPgStore(url));
    Must(store->AddEpisodes(std::nullopt, {TestEpisode("old")}, clock.Now()));
  }
  {
    PgConn c = Must(PgConn::Connect(url));
    ASSERT_OK(
        c.Exec("ALTER TABLE jobs DROP COLUMN seam_ms; UPDATE podfleet_schema SET version = 3"));
  }
  auto store = Must(OpenPgStore(url));
  auto grants = Must(store->Claim(NodeId(1), 5, kLease, clock.Now()));
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].chunk.seam, Millis(0));
  PgConn c = Must(PgConn::Connect(url));
  EXPECT_EQ(Must(QueryOne(c, ReadPgInt, "version", "SELECT version FROM podfleet_schema")), 4);
}

TEST(PgStore, UnreachableServerIsUnavailable) {
  auto opened = OpenPgStore("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Code::kUnavailable);
}

// `podfleet store migrate`: a SQLite store with done, failed, queued and leased jobs moves whole;
// the lease still fences, attempt numbers and ids go on.
TEST(PgStore, MigratedSqliteStoreKeepsJobsLeasesAndTranscripts) {
  TempDir dir;
  ManualClock clock;
  const std::string file = dir.File("podfleet.db");
  const NodeId node(1);
  EpisodeId done_episode, failed_episode;
  Grant held;
  double speed = 0;
  {
    auto s = Must(OpenSqliteStore(file));
    const Node n =
        Must(s->RegisterNode(NodeInfo{.name = "w1", .speed = 2.5}, "hash1", clock.Now()));
    ASSERT_EQ(n.id, node);
    ASSERT_OK(s->AddEnrollmentToken("tokenhash", "first", clock.Now()));
    const FeedId feed = Must(s->AddFeed("https://example.com/f.xml", clock.Now())).id;
    auto ids = Must(s->AddEpisodes(
        feed,
        {TestEpisode("done"), TestEpisode("failed"), TestEpisode("leased"), TestEpisode("queued")},
        clock.Now()));
    done_episode = ids[0];
    failed_episode = ids[1];
    Grant g = Must(s->Claim(node, 1, kLease, clock.Now())).at(0);
    ASSERT_OK(s->Complete(node, g.lease.job, g.lease.attempt, TestTranscript(), clock.Now()));
    g = Must(s->Claim(node, 1, kLease, clock.Now())).at(0);
    ASSERT_OK(
        s->Fail(node, g.lease.job, g.lease.attempt, Failure{"bad audio", true}, {}, clock.Now()));
    held = Must(s->Claim(node, 1, kLease, clock.Now())).at(0);
    speed = Must(s->ListNodes()).at(0).info.speed;  // moved by the completion
  }
  const std::string url = NewPgDatabase();
  auto counts = Must(CopySqliteToPg(file, url));
  EXPECT_THAT(counts, testing::Contains(std::pair<std::string, int64_t>("jobs", 4)));

  auto pg = Must(OpenPgStore(url));
  QueueCounts jobs = Must(pg->CountJobs());
  EXPECT_EQ(jobs.completed, 1);
  EXPECT_EQ(jobs.failed, 1);
  EXPECT_EQ(jobs.running, 1);
  EXPECT_EQ(jobs.queued, 1);
  EXPECT_EQ(Must(pg->GetTranscript(done_episode)).segments.size(), 2u);
  EXPECT_EQ(Must(pg->Search(SearchQuery{.text = "hello"})).size(), 1u);
  EXPECT_EQ(Must(pg->GetEpisode(failed_episode)).state, EpisodeState::kFailed);
  EXPECT_EQ(Must(pg->FindNodeByToken("hash1")).info.speed, speed) << "doubles copied exactly";
  EXPECT_TRUE(Must(pg->CheckEnrollmentToken("tokenhash")));
  // The lease held in SQLite still fences in PostgreSQL.
  EXPECT_CODE(
      pg->Complete(NodeId(2), held.lease.job, held.lease.attempt, TestTranscript(), clock.Now()),
      Code::kConflict);
  EXPECT_EQ(
      Must(pg->Renew(node, {Progress{held.lease.job, held.lease.attempt}}, kLease, clock.Now()))
          .size(),
      1u);
  ASSERT_OK(pg->Complete(node, held.lease.job, held.lease.attempt, TestTranscript(), clock.Now()));
  // New rows take new ids; the last queued job is claimable as attempt 1.
  Grant next = Must(pg->Claim(node, 1, kLease, clock.Now())).at(0);
  EXPECT_EQ(next.lease.attempt, AttemptId(1));
  const Feed added = Must(pg->AddFeed("https://example.com/g.xml", clock.Now()));
  EXPECT_EQ(added.id, FeedId(2));
  // A second migration into the same database is refused and changes nothing.
  auto again = CopySqliteToPg(file, url);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::kConflict);
  EXPECT_EQ(Must(pg->ListFeeds()).size(), 2u);
}

}  // namespace
}  // namespace podfleet
