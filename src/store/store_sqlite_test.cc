// What is particular to the SQLite store: the file, its schema version, damage, and several
// connections. The Store contract itself is tested in store_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "store/migrations.h"
#include "store/sqlite_db.h"
#include "store/store.h"
#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using ::testing::HasSubstr;

constexpr Millis kLease{60'000};

// Runs `sql` on its own connection to the file, as another process would.
void RunSql(const std::string& path, const std::string& sql) {
  Db db = Must(Db::Open(path, 1'000));
  ASSERT_OK(db.Exec(sql));
}

int64_t QueryInt(const std::string& path, const std::string& sql) {
  Db db = Must(Db::Open(path, 1'000));
  return Must(QueryOne(db, ReadInt, "value", sql));
}

void OverwriteFile(const std::string& path, int64_t offset, const std::string& bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << path;
  f.seekp(offset);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(SqliteStore, NewFileGetsTheLatestSchemaInWalMode) {
  TempDir dir;
  const std::string path = dir.File("podfleet.db");
  ASSERT_OK(OpenSqliteStore(path));
  EXPECT_EQ(QueryInt(path, "PRAGMA user_version"), SchemaMigrations().back().version);
  EXPECT_EQ(QueryInt(path, "PRAGMA application_id"), kApplicationId);
  Db db = Must(Db::Open(path, 1'000));
  Statement mode = Must(db.Prepare("PRAGMA journal_mode"));
  ASSERT_OK(mode.StepRow("journal mode"));
  EXPECT_EQ(mode.Text(0), "wal");
  for (const char* table :
       {"feeds", "episodes", "jobs", "attempts", "transcripts", "nodes", "enrollment_tokens"}) {
    Statement s = Must(db.Prepare("SELECT count(*) FROM sqlite_schema WHERE name = ?1", table));
    ASSERT_OK(s.StepRow("table"));
    EXPECT_EQ(s.Int(0), 1) << table;
  }
}

TEST(SqliteStore, DataSurvivesReopening) {
  TempDir dir;
  ManualClock clock;
  const std::string path = dir.File("podfleet.db");
  EpisodeId episode;
  {
    std::unique_ptr<Store> store = Must(OpenSqliteStore(path));
    Feed feed = Must(store->AddFeed("https://example.com/feed.xml", clock.Now()));
    episode =
        Must(store->AddEpisodes(feed.id, {TestEpisode("a"), TestEpisode("b")}, clock.Now())).at(0);
    Grant g = Must(store->Claim(NodeId(1), 1, kLease, clock.Now())).at(0);
    ASSERT_OK(
        store->Complete(NodeId(1), g.lease.job, g.lease.attempt, TestTranscript(), clock.Now()));
    ASSERT_OK(store->AddEnrollmentToken("hash", "label", clock.Now()));
  }
  std::unique_ptr<Store> store = Must(OpenSqliteStore(path));
  EXPECT_EQ(Must(store->ListFeeds()).at(0).episode_count, 2);
  EXPECT_EQ(Must(store->GetEpisode(episode)).state, EpisodeState::kDone);
  EXPECT_EQ(Must(store->GetTranscript(episode)).segments.size(), 2u);
  EXPECT_EQ(Must(store->CountJobs()).queued, 1);
  EXPECT_TRUE(Must(store->CheckEnrollmentToken("hash")));
}

// An episode whose length nobody declared takes the transcribed audio's; a declared one stays.
TEST(SqliteStore, TwoConnectionsNeverLeaseAJobTwice) {
  TempDir dir;
  ManualClock clock;
  const std::string path = dir.File("podfleet.db");
  std::unique_ptr<Store> one = Must(OpenSqliteStore(path));
  std::unique_ptr<Store> two = Must(OpenSqliteStore(path));
  constexpr int kJobs = 200;
  std::vector<EpisodeInfo> infos;
  for (int i = 0; i < kJobs; ++i) infos.push_back(TestEpisode(fmt::format("ep{}", i)));
  ASSERT_OK(one->AddEpisodes(std::nullopt, infos, clock.Now()));

  std::vector<std::vector<int64_t>> claimed(4);
  std::vector<int> failed(4, 0);  // not vector<bool>: threads write neighbouring elements
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    Store* store = t % 2 == 0 ? one.get() : two.get();
    threads.emplace_back([&, store, t] {
      for (;;) {
        Result<std::vector<Grant>> grants = store->Claim(NodeId(t + 1), 2, kLease, clock.Now());
        if (!grants) failed[t] = 1;
        if (!grants || grants->empty()) return;
        for (const Grant& g : *grants) claimed[t].push_back(g.lease.job.value());
      }
    });
  }
  for (std::thread& t : threads) t.join();

  std::set<int64_t> unique;
  size_t total = 0;
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(failed[t], 0) << "thread " << t;
    unique.insert(claimed[t].begin(), claimed[t].end());
    total += claimed[t].size();
  }
  EXPECT_EQ(total, size_t{kJobs});
  EXPECT_EQ(unique.size(), size_t{kJobs});
}

TEST(SqliteStore, JunkFileIsCorruption) {
  TempDir dir;
  const std::string path = dir.File("podfleet.db");
  ASSERT_OK(OpenSqliteStore(path));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << std::string(8192, '\x5a');

  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  EXPECT_CODE(store, Code::kCorruption);
  EXPECT_THAT(MessageOf(store), HasSubstr(path));
}

TEST(SqliteStore, DamagedSchemaPageIsCorruption) {
  TempDir dir;
  const std::string path = dir.File("podfleet.db");
  ASSERT_OK(OpenSqliteStore(path));
  // Page 1 holds the schema table after the 100-byte file header.
  OverwriteFile(path, 100, std::string(3000, '\xff'));
  EXPECT_CODE(OpenSqliteStore(path), Code::kCorruption);
}

TEST(SqliteStore, DatabaseFromANewerProgramIsRefused) {
  TempDir dir;
  const std::string path = dir.File("podfleet.db");
  ASSERT_OK(OpenSqliteStore(path));
  RunSql(path, "PRAGMA user_version = 999");

  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  EXPECT_CODE(store, Code::kCorruption);
  EXPECT_THAT(MessageOf(store), HasSubstr("999"));
  EXPECT_EQ(QueryInt(path, "PRAGMA user_version"), 999);
}

TEST(SqliteStore, AnotherProgramsDatabaseIsRefused) {
  TempDir dir;
  const std::string path = dir.File("other.db");
  RunSql(path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
  EXPECT_CODE(OpenSqliteStore(path), Code::kCorruption);
  EXPECT_EQ(QueryInt(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'feeds'"), 0);
}

TEST(SqliteStore, MissingDirectoryIsUnavailable) {
  TempDir dir;
  EXPECT_CODE(OpenSqliteStore(dir.File("no/such/dir/podfleet.db")), Code::kUnavailable);
}

TEST(SqliteStore, RevokedEnrollmentTokenIsRejected) {
  TempDir dir;
  ManualClock clock;
  const std::string path = dir.File("podfleet.db");
  std::unique_ptr<Store> store = Must(OpenSqliteStore(path));
  ASSERT_OK(store->AddEnrollmentToken("hash", "laptop", clock.Now()));
  RunSql(path, "UPDATE enrollment_tokens SET revoked = 1 WHERE token_hash = 'hash'");
  EXPECT_FALSE(Must(store->CheckEnrollmentToken("hash")));
  EXPECT_EQ(Must(store->CountEnrollmentTokens()), 1);  // revoked tokens still count
}

TEST(SqliteStore, DamagedTranscriptIsCorruption) {
  TempDir dir;
  ManualClock clock;
  const std::string path = dir.File("podfleet.db");
  std::unique_ptr<Store> store = Must(OpenSqliteStore(path));
  ASSERT_OK(store->AddEpisodes(std::nullopt, {TestEpisode("a")}, clock.Now()));
  Grant g = Must(store->Claim(NodeId(1), 1, kLease, clock.Now())).at(0);
  ASSERT_OK(
      store->Complete(NodeId(1), g.lease.job, g.lease.attempt, TestTranscript(), clock.Now()));
  RunSql(path, "UPDATE transcripts SET segments = '[{\"start\": 1}'");
  EXPECT_CODE(store->GetTranscript(g.episode.id), Code::kCorruption);
  RunSql(path, "UPDATE transcripts SET segments = '{\"start\": 1}'");
  EXPECT_CODE(store->GetTranscript(g.episode.id), Code::kCorruption);
}

TEST(SqliteStore, LeaseRowsFollowTheAttempts) {
  TempDir dir;
  ManualClock clock;
  const std::string path = dir.File("podfleet.db");
  std::unique_ptr<Store> store = Must(OpenSqliteStore(path));
  ASSERT_OK(store->AddEpisodes(std::nullopt, {TestEpisode("a")}, clock.Now()));
  Grant first = Must(store->Claim(NodeId(1), 1, kLease, clock.Now())).at(0);
  clock.Advance(kLease + Millis(1));
  ASSERT_EQ(Must(store->ExpireLeases(clock.Now())), 1);
  Grant second = Must(store->Claim(NodeId(2), 1, kLease, clock.Now())).at(0);
  ASSERT_OK(store->Release(NodeId(2), second.lease.job, second.lease.attempt, clock.Now()));

  Db db = Must(Db::Open(path, 1'000));
  Statement rows =
      Must(db.Prepare("SELECT number, node_id, outcome, finished_at FROM attempts WHERE job_id = "
                      "?1 ORDER BY number",
                      first.lease.job.value()));
  ASSERT_TRUE(Must(rows.Step()));
  EXPECT_EQ(rows.Int(0), 1);
  EXPECT_EQ(rows.Int(1), 1);
  EXPECT_EQ(rows.Text(2), "expired");
  EXPECT_EQ(rows.Int(3), ToUnixMillis(clock.Now()));
  ASSERT_TRUE(Must(rows.Step()));
  EXPECT_EQ(rows.Int(0), 2);
  EXPECT_EQ(rows.Int(1), 2);
  EXPECT_EQ(rows.Text(2), "released");
  EXPECT_FALSE(Must(rows.Step()));
}

}  // namespace
}  // namespace podfleet
