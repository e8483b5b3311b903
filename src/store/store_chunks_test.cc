// Chunked episodes in the store: jobs held for the relay, planned into chunks, finished in any
// order and stitched; failures of one chunk; the upgrade of a version-2 database.
#include <gtest/gtest.h>

#include "store/migrations.h"
#include "store/sqlite_db.h"
#include "store/store.h"
#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

constexpr Millis kLease{60'000};

class StoreChunks : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override { store_ = Must(GetParam().open(dir_)); }

  // A new episode held for the relay; returns its job.
  PreparingJob Hold(const std::string& guid) {
    auto ids = Must(
        store_->AddEpisodes(std::nullopt, {TestEpisode(guid)}, clock_.Now(), JobIntake::kPrepare));
    auto held = Must(store_->ListPreparing(100, clock_.Now()));
    for (const PreparingJob& j : held)
      if (j.episode.id == ids.at(0)) return j;
    ADD_FAILURE() << "not preparing";
    throw std::runtime_error("not preparing");
  }

  static std::vector<Chunk> Thirds() {
    std::vector<Chunk> chunks;
    for (int i = 0; i < 3; ++i) {
      Chunk c;
      c.start = Millis(i * 600'000);
      c.end = Millis((i + 1) * 600'000);
      c.relayed = true;
      chunks.push_back(c);
    }
    return chunks;
  }

  static Transcript Said(const std::string& text) {
    Transcript t;
    t.engine = "test";
    t.audio_duration = Millis(600'000);
    t.engine_time = Millis(10);
    t.segments.push_back(Segment{Millis(5'000), Millis(6'000), text, "", {}});
    return t;
  }

  EpisodeState StateOf(EpisodeId id) { return Must(store_->GetEpisode(id)).state; }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  const NodeId node_{1};
};

INSTANTIATE_ON_BOTH_STORES(StoreChunks);

// Complete tells its caller each relayed chunk's place and when the episode is done, which is
// when the relay's chunk files may go (routes_worker.cc).
TEST_P(StoreChunks, CompleteTellsTheChunkAndWhenItsEpisodeIsDone) {
  const PreparingJob held = Hold("chunks");
  Must(store_->PlanChunks(held.job, Thirds(), clock_.Now()));
  auto grants = Must(store_->Claim(node_, 10, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 3u);
  for (size_t i = 0; i < grants.size(); ++i) {
    const Lease& l = grants[i].lease;
    Completion done = Must(store_->Complete(node_, l.job, l.attempt, Said("x"), clock_.Now()));
    EXPECT_TRUE(done.completed);
    EXPECT_EQ(done.episode, held.episode.id);
    EXPECT_TRUE(done.chunk.relayed);
    EXPECT_EQ(done.chunk.count, 3);
    EXPECT_EQ(done.chunk.index, grants[i].chunk.index);
    EXPECT_EQ(done.episode_done, i + 1 == grants.size()) << i;
  }
}

// What streams a chunked transcription (routes_openai.cc): each chunk's words as it finishes.
TEST_P(StoreChunks, ChunkResultsAreReadableUntilTheEpisodeIsStitched) {
  const PreparingJob held = Hold("partial");
  auto ids = Must(store_->PlanChunks(held.job, Thirds(), clock_.Now()));
  auto grants = Must(store_->Claim(node_, 10, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 3u);
  EXPECT_CODE(store_->GetJobResult(ids[1]), Code::kNotFound);
  Transcript second = Said("second");
  second.segments[0].avg_logprob = -0.25;
  ASSERT_OK(store_->Complete(node_, ids[1], grants[1].lease.attempt, second, clock_.Now()));
  const Transcript kept = Must(store_->GetJobResult(ids[1]));
  ASSERT_EQ(kept.segments.size(), 1u);
  EXPECT_EQ(kept.segments[0].text, "second");
  EXPECT_EQ(kept.segments[0].start, Millis(5'000));  // relative to the chunk
  EXPECT_EQ(kept.segments[0].avg_logprob, -0.25);
  EXPECT_FALSE(kept.segments[0].no_speech_prob);
  EXPECT_CODE(store_->GetJobResult(ids[0]), Code::kNotFound);
}

TEST_P(StoreChunks, HeldJobIsNotClaimableUntilPlanned) {
  const PreparingJob held = Hold("a");
  EXPECT_TRUE(Must(store_->Claim(node_, 10, kLease, clock_.Now())).empty());
  EXPECT_EQ(Must(store_->GetJob(held.job)).state, JobState::kPreparing);
  EXPECT_EQ(StateOf(held.episode.id), EpisodeState::kQueued);
  auto ids = Must(store_->PlanChunks(held.job, Thirds(), clock_.Now()));
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], held.job);  // the first chunk keeps the job's id
  auto grants = Must(store_->Claim(node_, 10, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(grants[i].lease.job, ids[i]);
    EXPECT_EQ(grants[i].chunk.index, i);
    EXPECT_EQ(grants[i].chunk.count, 3);
    EXPECT_EQ(grants[i].chunk.start, Millis(i * 600'000));
    EXPECT_EQ(grants[i].chunk.end, Millis((i + 1) * 600'000));
    EXPECT_TRUE(grants[i].chunk.relayed);
  }
  EXPECT_TRUE(Must(store_->ListPreparing(10, clock_.Now())).empty());
}

TEST_P(StoreChunks, PlanningNeedsAHeldJobAndSomeChunks) {
  auto ids = Must(store_->AddEpisodes(std::nullopt, {TestEpisode("q")}, clock_.Now()));
  const JobId queued = Must(store_->GetJobForEpisode(ids.at(0))).id;
  EXPECT_CODE(store_->PlanChunks(queued, Thirds(), clock_.Now()), Code::kConflict);
  const PreparingJob held = Hold("h");
  EXPECT_CODE(store_->PlanChunks(held.job, {}, clock_.Now()), Code::kInvalidArgument);
}

TEST_P(StoreChunks, EpisodeIsDoneWithItsStitchedTranscriptWhenTheLastChunkIs) {
  const PreparingJob held = Hold("a");
  Must(store_->PlanChunks(held.job, Thirds(), clock_.Now()));
  auto grants = Must(store_->Claim(node_, 10, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 3u);
  for (int i : {2, 0, 1}) {
    EXPECT_NE(StateOf(held.episode.id), EpisodeState::kDone);
    EXPECT_CODE(store_->GetTranscript(held.episode.id), Code::kNotFound);
    const Lease& l = grants[i].lease;
    ASSERT_OK(
        store_->Complete(node_, l.job, l.attempt, Said("part" + std::to_string(i)), clock_.Now()));
    if (i != 1) {
      EXPECT_EQ(StateOf(held.episode.id), EpisodeState::kRunning);
    }
  }
  EXPECT_EQ(StateOf(held.episode.id), EpisodeState::kDone);
  Transcript t = Must(store_->GetTranscript(held.episode.id));
  ASSERT_EQ(t.segments.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(t.segments[i].text, "part" + std::to_string(i));
    EXPECT_EQ(t.segments[i].start, Millis(i * 600'000 + 5'000));
  }
  EXPECT_EQ(t.audio_duration, Millis(1'800'000));
  EXPECT_EQ(t.engine_time, Millis(30));
  // Throughput counts each chunk with its own audio.
  auto done = Must(store_->CompletedSince(TimePoint{}));
  ASSERT_EQ(done.size(), 3u);
  for (const CompletedJob& c : done) EXPECT_EQ(c.audio_duration, Millis(600'000));
}

TEST_P(StoreChunks, FailedChunkIsRetriedAloneAndPermanentFailureFailsTheEpisode) {
  const PreparingJob held = Hold("a");
  Must(store_->PlanChunks(held.job, Thirds(), clock_.Now()));
  auto grants = Must(store_->Claim(node_, 10, kLease, clock_.Now()));
  ASSERT_OK(store_->Complete(node_, grants[0].lease.job, grants[0].lease.attempt, Said("x"),
                             clock_.Now()));
  ASSERT_OK(store_->Fail(node_, grants[1].lease.job, grants[1].lease.attempt,
                         Failure{"network", false}, RetryPolicy{}, clock_.Now()));
  EXPECT_EQ(StateOf(held.episode.id), EpisodeState::kRunning);  // chunk 2 still leased
  clock_.Advance(Millis(3'600'000));
  auto again = Must(store_->Claim(node_, 10, kLease, clock_.Now()));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].lease.job, grants[1].lease.job);
  ASSERT_OK(store_->Fail(node_, again[0].lease.job, again[0].lease.attempt,
                         Failure{"undecodable", true}, RetryPolicy{}, clock_.Now()));
  EXPECT_EQ(StateOf(held.episode.id), EpisodeState::kFailed);
  EXPECT_EQ(Must(store_->GetEpisode(held.episode.id)).error, "undecodable");
  // The operator's retry brings back the failed chunk only.
  ASSERT_OK(store_->RetryEpisode(held.episode.id, clock_.Now()));
  auto jobs = Must(store_->ListJobsForEpisode(held.episode.id));
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].state, JobState::kDone);
  EXPECT_EQ(jobs[1].state, JobState::kQueued);
  EXPECT_EQ(jobs[2].state, JobState::kLeased);
}

// The relay queues each chunk as soon as it is encoded: a worker may finish chunk 0 while the
// rest is being cut, and the episode is done only once the last chunk is queued and done.
TEST_P(StoreChunks, ChunksQueuedOneByOneAreClaimableAtOnceAndStitchedAtTheEnd) {
  const PreparingJob held = Hold("a");
  EXPECT_EQ(held.next.index, 0);
  std::vector<Chunk> thirds = Thirds();
  thirds[0].count = 3;  // the relay's estimate
  const JobId rest = Must(store_->QueueChunk(held.job, thirds[0], clock_.Now()));
  auto first = Must(store_->Claim(node_, 10, kLease, clock_.Now()));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].lease.job, held.job);
  EXPECT_EQ(first[0].chunk.index, 0);
  EXPECT_EQ(first[0].chunk.count, 3);
  ASSERT_OK(store_->Complete(node_, held.job, first[0].lease.attempt, Said("part0"), clock_.Now()));
  EXPECT_EQ(StateOf(held.episode.id), EpisodeState::kRunning);  // the rest is still preparing
  // What is left resumes at chunk 1, from the end of chunk 0 (after a restart too).
  auto left = Must(store_->ListPreparing(10, clock_.Now()));
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].job, rest);
  EXPECT_EQ(left[0].next.index, 1);
  EXPECT_EQ(left[0].next.start, Millis(600'000));
  // A chunk out of turn is refused.
  EXPECT_CODE(store_->QueueChunk(rest, thirds[2], clock_.Now()), Code::kInvalidArgument);
  thirds[1].index = 1;
  thirds[1].count = 0;  // no estimate: at least one more
  const JobId last = Must(store_->QueueChunk(rest, thirds[1], clock_.Now()));
  EXPECT_CODE(store_->QueueChunk(rest, thirds[1], clock_.Now()), Code::kConflict);
  ASSERT_EQ(Must(store_->PlanChunks(last, {thirds[2]}, clock_.Now())).size(), 1u);
  auto jobs = Must(store_->ListJobsForEpisode(held.episode.id));
  ASSERT_EQ(jobs.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(jobs[i].chunk.index, i);
    EXPECT_EQ(jobs[i].chunk.count, 3);  // the final count, on every chunk
    EXPECT_EQ(jobs[i].chunk.start, Millis(i * 600'000));
  }
  auto grants = Must(store_->Claim(node_, 10, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_NE(StateOf(held.episode.id), EpisodeState::kDone);
    ASSERT_OK(store_->Complete(node_, grants[i].lease.job, grants[i].lease.attempt,
                               Said("part" + std::to_string(i + 1)), clock_.Now()));
  }
  EXPECT_EQ(StateOf(held.episode.id), EpisodeState::kDone);
  Transcript t = Must(store_->GetTranscript(held.episode.id));
  ASSERT_EQ(t.segments.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(t.segments[i].text, "part" + std::to_string(i));
}

TEST_P(StoreChunks, QueueingAChunkNeedsAnEnd) {
  const PreparingJob held = Hold("a");
  EXPECT_CODE(store_->QueueChunk(held.job, Chunk{}, clock_.Now()), Code::kInvalidArgument);
}

TEST_P(StoreChunks, RelayFailuresBackOffThenFailAndRetryGoesBackToTheRelay) {
  const PreparingJob held = Hold("a");
  RetryPolicy policy;
  policy.max_failures = 2;
  ASSERT_OK(store_->FailPreparing(held.job, Failure{"origin down", false}, policy, clock_.Now()));
  EXPECT_EQ(Must(store_->GetJob(held.job)).state, JobState::kPreparing);
  EXPECT_TRUE(Must(store_->ListPreparing(10, clock_.Now())).empty());  // backing off
  clock_.Advance(Millis(3'600'000));
  ASSERT_EQ(Must(store_->ListPreparing(10, clock_.Now())).size(), 1u);
  ASSERT_OK(store_->FailPreparing(held.job, Failure{"origin down", false}, policy, clock_.Now()));
  EXPECT_EQ(StateOf(held.episode.id), EpisodeState::kFailed);
  EXPECT_CODE(store_->FailPreparing(held.job, Failure{"again", true}, policy, clock_.Now()),
              Code::kConflict);
  ASSERT_OK(store_->RetryEpisode(held.episode.id, clock_.Now()));
  EXPECT_EQ(Must(store_->GetJob(held.job)).state, JobState::kPreparing);
  EXPECT_EQ(Must(store_->ListPreparing(10, clock_.Now())).size(), 1u);
}

TEST_P(StoreChunks, PermanentRelayFailureFailsTheEpisodeAtOnce) {
  const PreparingJob held = Hold("a");
  ASSERT_OK(
      store_->FailPreparing(held.job, Failure{"HTTP 404", true}, RetryPolicy{}, clock_.Now()));
  EXPECT_EQ(StateOf(held.episode.id), EpisodeState::kFailed);
  EXPECT_EQ(Must(store_->GetEpisode(held.episode.id)).error, "HTTP 404");
}

// A live stream past its download deadline: the chunks the relay queued from it are withdrawn,
// leased or done ones too, and the episode fails as one job that a retry gives the relay whole.
TEST_P(StoreChunks, WithdrawnChunksLeaveTheEpisodeFailedAsOneJob) {
  const PreparingJob held = Hold("live");
  std::vector<Chunk> chunks = Thirds();
  JobId rest = Must(store_->QueueChunk(held.job, chunks[0], clock_.Now()));
  chunks[1].index = 1;
  rest = Must(store_->QueueChunk(rest, chunks[1], clock_.Now()));
  auto grants = Must(store_->Claim(node_, 1, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 1u);
  ASSERT_OK(store_->Complete(node_, grants[0].lease.job, grants[0].lease.attempt, Said("one"),
                             clock_.Now()));
  auto leased = Must(store_->Claim(node_, 1, kLease, clock_.Now()));
  ASSERT_EQ(leased.size(), 1u);
  ASSERT_OK(store_->WithdrawPreparing(rest, "not finished after 12 s", clock_.Now()));
  const Episode episode = Must(store_->GetEpisode(held.episode.id));
  EXPECT_EQ(episode.state, EpisodeState::kFailed);
  EXPECT_EQ(episode.error, "not finished after 12 s");
  auto jobs = Must(store_->ListJobsForEpisode(held.episode.id));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, JobState::kFailed);
  EXPECT_EQ(jobs[0].chunk.index, 0);
  EXPECT_EQ(jobs[0].chunk.count, 1);
  EXPECT_EQ(jobs[0].chunk.start, Millis(0));
  EXPECT_FALSE(jobs[0].chunk.end);
  EXPECT_TRUE(Must(store_->Claim(node_, 8, kLease, clock_.Now())).empty());
  // The worker that held a withdrawn chunk learns it lost the lease.
  EXPECT_FALSE(store_->Complete(node_, leased[0].lease.job, leased[0].lease.attempt, Said("two"),
                                clock_.Now()));
  EXPECT_CODE(store_->WithdrawPreparing(rest, "again", clock_.Now()), Code::kNotFound);
  ASSERT_OK(store_->RetryEpisode(held.episode.id, clock_.Now()));
  auto again = Must(store_->ListPreparing(10, clock_.Now()));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].next.index, 0);
  EXPECT_EQ(again[0].next.start, Millis(0));
}

// Seam chunks (origin ranges: planned, each worker cuts its own edges) keep their search width
// through the plan, the claim's grant and Complete; a claim whose worker cannot cut seams
// (ClaimFilter) gets none of them; transcribing the episode again makes it one exact job, which
// every worker may claim.
TEST_P(StoreChunks, SeamChunksKeepTheirSearchWidthUntilTranscribedAgain) {
  const PreparingJob held = Hold("seams");
  std::vector<Chunk> planned = Thirds();
  for (Chunk& c : planned) {
    c.relayed = false;
    c.seam = Millis(15'000);
  }
  planned.back().end.reset();
  Must(store_->PlanChunks(held.job, planned, clock_.Now()));
  const ClaimFilter old_worker{.seam_chunks = false};
  EXPECT_TRUE(Must(store_->Claim(node_, 10, kLease, clock_.Now(), old_worker)).empty());
  auto grants = Must(store_->Claim(node_, 10, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 3u);
  for (const Grant& g : grants) {
    EXPECT_EQ(g.chunk.seam, Millis(15'000));
    EXPECT_FALSE(g.chunk.relayed);
    EXPECT_EQ(Must(store_->GetJob(g.lease.job)).chunk.seam, Millis(15'000));
  }
  for (const Grant& g : grants) {
    Completion done =
        Must(store_->Complete(node_, g.lease.job, g.lease.attempt, Said("x"), clock_.Now()));
    EXPECT_EQ(done.chunk.seam, Millis(15'000));
  }
  ASSERT_EQ(StateOf(held.episode.id), EpisodeState::kDone);
  ASSERT_OK(store_->TranscribeAgain(held.episode.id, clock_.Now()));
  const Job again = Must(store_->GetJobForEpisode(held.episode.id));
  EXPECT_TRUE(again.chunk.whole());
  EXPECT_EQ(again.chunk.seam, Millis(0));
  EXPECT_EQ(again.state, JobState::kQueued);
  EXPECT_EQ(Must(store_->Claim(node_, 10, kLease, clock_.Now(), old_worker)).size(), 1u);
}

// Migration 12 gives the jobs of a version-11 database exact edges (seam_ms 0).
TEST(StoreChunksMigration, Version11JobsHaveExactEdges) {
  TempDir dir;
  const std::string path = dir.File("old.db");
  {
    Db db = Must(Db::Open(path, 1'000));
    Must(Migrate(db, SchemaMigrations().first(11)));
    ASSERT_OK(db.Exec(
        "INSERT INTO episodes (id, guid, title, audio_url, audio_type, audio_length, state, "
        "created_at, updated_at) VALUES (1, 'g1', 't', 'u1', '', 0, 'queued', 0, 0);"
        "INSERT INTO jobs (id, episode_id, state, chunk_index, chunk_count, start_ms, end_ms) "
        "VALUES (7, 1, 'queued', 0, 2, 0, 600000), (8, 1, 'queued', 1, 2, 600000, NULL);"));
  }
  auto store = Must(OpenSqliteStore(path));
  EXPECT_EQ(Must(store->GetJob(JobId(7))).chunk.seam, Millis(0));
  auto grants = Must(store->Claim(NodeId(3), 5, kLease, FromUnixMillis(10'000)));
  ASSERT_EQ(grants.size(), 2u);
  for (const Grant& g : grants) EXPECT_EQ(g.chunk.seam, Millis(0));
}

// A version-2 database (before chunks) keeps its jobs, attempts and results through the rebuild.
TEST(StoreChunksMigration, Version2DatabaseKeepsItsJobsAndHistory) {
  TempDir dir;
  const std::string path = dir.File("old.db");
  {
    Db db = Must(Db::Open(path, 1'000));
    Must(Migrate(db, SchemaMigrations().first(2)));
    ASSERT_OK(db.Exec(
        "INSERT INTO episodes (id, guid, title, audio_url, audio_type, audio_length, state, "
        "created_at, updated_at) VALUES (1, 'g1', 't', 'u1', '', 0, 'done', 0, 0), "
        "(2, 'g2', 't', 'u2', '', 0, 'queued', 0, 0);"
        "INSERT INTO jobs (id, episode_id, state, attempts) VALUES (7, 1, 'done', 1), "
        "(8, 2, 'queued', 0);"
        "INSERT INTO attempts (job_id, number, node_id, leased_at, expires_at, outcome, "
        "finished_at) VALUES (7, 1, 3, 1000, 61000, 'done', 5000);"
        "INSERT INTO transcripts VALUES (1, 'en', 'e', 'm', 42000, 900, '[]', 5000);"));
  }
  auto store = Must(OpenSqliteStore(path));
  Job done = Must(store->GetJob(JobId(7)));
  EXPECT_EQ(done.state, JobState::kDone);
  EXPECT_EQ(done.chunk.count, 1);
  EXPECT_FALSE(done.chunk.relayed);
  auto completed = Must(store->CompletedSince(TimePoint{}));
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_EQ(completed[0].audio_duration, Millis(42'000));
  EXPECT_EQ(completed[0].wall_time, Millis(4'000));
  auto grants = Must(store->Claim(NodeId(3), 5, kLease, FromUnixMillis(10'000)));
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].lease.job, JobId(8));
  EXPECT_EQ(grants[0].lease.attempt, AttemptId(1));
}

}  // namespace
}  // namespace podfleet
