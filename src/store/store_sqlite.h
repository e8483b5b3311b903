// SqliteStore: the Store on SQLite in WAL mode. Internal to src/store; everyone else uses store.h
// and OpenSqliteStore. Schema and state machines: migrations.h.
//
// Writes: one write connection, group commit. Every public call that writes queues its body;
// the caller at the head of the queue leads: it takes every body queued behind it (up to
// kMaxBatch) into one transaction (BEGIN IMMEDIATE, so no statement fails half-way on a lock),
// runs each inside its own SAVEPOINT and commits once, with one fsync for the batch. Each caller
// is answered only after that COMMIT returned, so an answer means durable. A body that returns an
// error is rolled back to its savepoint alone; the others' work commits. A body whose error ended
// the whole transaction (SQLITE_FULL, IOERR, ...) is answered with its error and the rest of the
// batch runs again in a fresh transaction. This is LevelDB's DBImpl::Write with BuildBatchGroup.
//
// Reads: a pool of read connections, each call one read transaction (a WAL snapshot), so reads
// never queue behind writes nor wait on a lock another process holds for writing.
//
// A call that returns an error has changed nothing. The file may also be open in other processes
// (the CLI); a batch waits on SQLite's busy timeout for their write lock and gives kUnavailable
// after it.
//
// A lease is lost only when ExpireLeases reaps it: until then the holder may renew, complete, fail
// or release it even after its expires_at.
//
// Sticky failure: when a batch's COMMIT fails, whether it reached the disk is unknown; the store
// records the error and refuses every later write with it (CheckHealth reports it, reading an
// atomic) until it is reopened, when SQLite's recovery settles what was committed.
//
// The methods are split by concept: store_sqlite.cc (opening, feeds, episodes, nodes, tokens),
// store_sqlite_jobs.cc (claims, leases, outcomes, transcripts), store_sqlite_batch.cc (the
// write queue and the read pool) and store_sqlite_search.cc (the transcripts' full-text index).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/thread_annotations.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace podfleet {

// The search index rows of the transcripts one write stores, written together by two statements
// at the end of that write (store_sqlite_search.cc). FTS5 writes its pending rows out as a new
// index segment at the end of every statement and savepoint that follows them, so rows written a
// statement at a time cost an index segment (and its later merging) each.
class SearchRows {
 public:
  // Replaces `episode`'s rows with `segments`, once written; a later Add for the same episode
  // replaces this one.
  void Add(EpisodeId episode, const std::vector<Segment>& segments);
  // Adds `other`'s episodes, as Add would.
  void Append(SearchRows&& other);
  // Replaces the rows of every episode added, in the open transaction, and forgets them.
  Result<void> Write(Db& db);

 private:
  struct Episode {
    int64_t id;
    std::string rows;  // JSON arrays [episode, start, end, speaker, text], comma-separated
  };
  // Adds `episode`, in place of any earlier rows of the same episode.
  void Put(Episode episode);
  std::vector<Episode> episodes_;
};

// Replaces the search index's segments of `episode` with `segments` (store_sqlite_search.cc).
// Called inside the transaction that stores the episode's transcript.
Result<void> IndexSegments(Db& db, EpisodeId episode, const std::vector<Segment>& segments);

// Stores the publisher's transcript of `episode`, fetched from `link`, and indexes it unless the
// episode has a fleet transcript (store_sqlite_search.cc).
Result<void> StorePublisherTranscript(Db& db, EpisodeId episode, const Transcript& t,
                                      const TranscriptLink& link, TimePoint now);

// SQL for "the episodes whose transcript matches the FTS5 query ?N", given N.
std::string EpisodesMatchingSql(int param);

class SqliteStore final : public Store {
 public:
  // `db` is the write connection, migrated and set up; read connections are opened on `path`
  // as needed.
  SqliteStore(Db db, std::string path) : path_(std::move(path)), db_(std::move(db)) {}

  Result<Feed> AddFeed(std::string_view url, TimePoint now) override;
  Result<Feed> GetFeed(FeedId id) override;
  Result<std::vector<Feed>> ListFeeds() override;
  Result<void> RemoveFeed(FeedId id) override;
  Result<void> RecordFeedPoll(FeedId id, const FeedPoll& poll) override;
  Result<std::optional<Feed>> FindFeed(const FeedIdentity& identity) override;
  Result<void> UpdateFeedIdentity(FeedId id, const FeedIdentity& identity) override;
  Result<void> SetTranscribeAnyway(FeedId id, bool on) override;
  Result<bool> TranscribesAnyway(FeedId id) override;
  Result<std::vector<std::string>> ListGuids(FeedId feed) override;

  Result<std::vector<EpisodeId>> AddEpisodes(std::optional<FeedId> feed,
                                             const std::vector<EpisodeInfo>& episodes,
                                             TimePoint now, JobIntake intake = JobIntake::kQueue,
                                             const std::vector<std::string>& hold = {},
                                             const JobRequirement& want = {}) override;
  Result<std::vector<EpisodeId>> AddFeedItems(FeedId feed, const std::vector<FeedItem>& items,
                                              TimePoint now, JobIntake intake = JobIntake::kQueue,
                                              const std::vector<std::string>& hold = {}) override;
  Result<Episode> GetEpisode(EpisodeId id) override;
  Result<void> DeleteEpisode(EpisodeId id) override;
  Result<void> TranscribeAgain(EpisodeId id, TimePoint now, JobIntake intake = JobIntake::kQueue,
                               const JobRequirement& want = {}) override;
  Result<QueueCounts> CountEpisodes() override;
  Result<std::vector<Episode>> ListEpisodes(const EpisodeFilter& filter) override;
  Result<void> RetryEpisode(EpisodeId id, TimePoint now) override;
  Result<void> QueueEpisode(EpisodeId id, TimePoint now, JobIntake intake) override;
  Result<Job> GetJobForEpisode(EpisodeId id) override;
  Result<std::vector<Job>> ListJobsForEpisode(EpisodeId id) override;

  using Store::ListPreparing;
  Result<std::vector<PreparingJob>> ListPreparing(int limit, TimePoint now,
                                                  std::string_view holder) override;
  Result<void> TakePreparing(JobId job, std::string_view holder) override;
  Result<void> QueuePreparedAgain(JobId job, bool relayed, TimePoint now) override;
  Result<JobId> QueueChunk(JobId job, const Chunk& chunk, TimePoint now) override;
  Result<std::vector<JobId>> PlanChunks(JobId job, const std::vector<Chunk>& chunks,
                                        TimePoint now) override;
  Result<void> FailPreparing(JobId job, const Failure& failure, const RetryPolicy& policy,
                             TimePoint now) override;
  Result<void> WithdrawPreparing(JobId job, std::string_view reason, TimePoint now) override;

  using Store::Claim;
  Result<std::vector<Grant>> Claim(NodeId node, int max_jobs, Millis lease_for, TimePoint now,
                                   ClaimFilter filter) override;
  Result<std::vector<Lease>> Renew(NodeId node, const std::vector<Progress>& held, Millis lease_for,
                                   TimePoint now) override;
  using Store::Complete;
  Result<Completion> Complete(NodeId node, JobId job, AttemptId attempt,
                              const Transcript& transcript, TimePoint now,
                              const CompletionReport& report) override;
  Result<void> Fail(NodeId node, JobId job, AttemptId attempt, const Failure& failure,
                    const RetryPolicy& policy, TimePoint now) override;
  Result<void> Release(NodeId node, JobId job, AttemptId attempt, TimePoint now) override;
  using Store::ExpireLeases;
  Result<int> ExpireLeases(TimePoint now, const RetryPolicy& policy) override;
  Result<std::vector<Attempt>> ListAttempts(JobId job) override;
  Result<Job> GetJob(JobId id) override;
  Result<std::vector<Job>> ListLeasedJobs() override;
  Result<QueueCounts> CountJobs() override;
  Result<void> SetJobPriority(JobId id, int priority) override;
  Result<std::vector<Result<Completion>>> CompleteMany(NodeId node,
                                                       const std::vector<CompletionInput>& results,
                                                       TimePoint now) override;
  Result<std::vector<CompletedJob>> CompletedSince(TimePoint since) override;
  Result<std::vector<FailedAttempt>> FailedSince(TimePoint since) override;
  Result<void> RecordWait(JobId job, AttemptId attempt, Millis waited) override;

  Result<void> HeartbeatCoordinator(std::string_view url, TimePoint now) override;
  Result<int> ReclaimAudio(TimePoint now) override;

  Result<void> RecordTransfer(NodeId node, int64_t bytes, Millis audio, TimePoint now) override;
  Result<std::vector<TransferTotal>> TransfersSince(TimePoint since) override;
  Result<void> AddDecisions(const std::vector<AutoscaleDecision>& decisions, int keep) override;
  Result<std::vector<AutoscaleDecision>> ListDecisions(int limit) override;

  Result<Transcript> GetTranscript(EpisodeId id) override;
  Result<Transcript> GetJobResult(JobId id) override;
  Result<TranscriptOrigin> GetTranscriptOrigin(EpisodeId id) override;
  Result<Transcript> GetPublisherTranscript(EpisodeId id) override;
  Result<PublisherSavings> CountPublisherSavings() override;
  Result<std::vector<SearchHit>> Search(const SearchQuery& query) override;
  Result<int64_t> RebuildSearchIndex() override;

  Result<Node> RegisterNode(const NodeInfo& info, std::string_view token_hash,
                            TimePoint now) override;
  Result<Node> FindNodeByToken(std::string_view token_hash) override;
  Result<std::vector<Node>> ListNodes() override;
  Result<void> SetNodeSpeed(NodeId id, double speed) override;
  Result<void> TouchNode(NodeId id, TimePoint now) override;
  Result<void> RetireNode(NodeId id, TimePoint now) override;

  Result<void> AddEnrollmentToken(std::string_view token_hash, std::string_view label,
                                  TimePoint now) override;
  Result<bool> CheckEnrollmentToken(std::string_view token_hash) override;
  Result<int64_t> CountEnrollmentTokens() override;
  Result<std::vector<EnrollmentToken>> ListEnrollmentTokens() override;
  Result<void> RevokeEnrollmentToken(std::string_view hash_prefix) override;

  Result<void> CheckHealth() override;

 private:
  // The most bodies one batch commits together.
  static constexpr size_t kMaxBatch = 256;

  // One queued write. `body` runs on the leader's thread (the caller waits meanwhile) and says
  // whether it succeeded; `error` is set when its batch could not begin or commit.
  struct Writer {
    std::function<bool(Db&)> body;
    std::optional<Error> error;
    bool done = false;
    // Its own, so that a batch wakes only the callers it answers and the next leader, not every
    // caller queued.
    std::condition_variable_any wake;
  };

  // Queues `w`, leads batches while it is at the head, and returns once `w` is done.
  void Submit(Writer& w) EXCLUDES(queue_mu_, db_mu_);
  // Runs `batch` in one transaction (or more, see the class comment) and commits it.
  void RunBatch(const std::vector<Writer*>& batch) REQUIRES(db_mu_);
  // Runs one body in its own savepoint; false when it failed (its work rolled back).
  bool RunInSavepoint(Writer& w) REQUIRES(db_mu_);

  // Runs `body` in a batch; its result, or the error that kept its batch from committing.
  template <class F>
  std::invoke_result_t<F, Db&> Write(F&& body) {
    using R = std::invoke_result_t<F, Db&>;
    if (stopped_.load()) return std::unexpected(StopError());
    std::optional<R> result;
    Writer w;
    w.body = [&](Db& db) {
      result.emplace(body(db));
      return result->has_value();
    };
    Submit(w);
    if (result && !*result) {  // its own error: nothing of it was kept
      StopIfDamaged(result->error());
      return std::move(*result);
    }
    if (w.error) {
      StopIfDamaged(*w.error);
      return std::unexpected(*w.error);
    }
    if (!result) return Internal("write: the batch never ran");
    return std::move(*result);
  }

  // Runs `body` in a read transaction on a read connection.
  template <class F>
  std::invoke_result_t<F, Db&> Read(F&& body) {
    Result<Db> db = TakeReader();
    if (!db) return std::unexpected(db.error());
    std::invoke_result_t<F, Db&> result = [&]() -> std::invoke_result_t<F, Db&> {
      Result<Transaction> tx = Transaction::Begin(*db, Transaction::Kind::kRead);
      if (!tx) return std::unexpected(tx.error());
      std::invoke_result_t<F, Db&> r = std::forward<F>(body)(*db);
      if (!r) return r;
      if (Result<void> c = tx->Commit(); !c) return std::unexpected(c.error());
      return r;
    }();
    ReturnReader(std::move(*db));
    if (!result) StopIfDamaged(result.error());
    return result;
  }
  Result<Db> TakeReader() EXCLUDES(readers_mu_);
  void ReturnReader(Db db) EXCLUDES(readers_mu_);

  // The error every write returns after the commit that failed with `cause`.
  static Error StopAfter(const Error& cause);
  Error StopError() const EXCLUDES(health_mu_);
  // The error every write returns once the database was found damaged (`cause`).
  static Error Damaged(const Error& cause);
  // Stops writes with `why` and logs it, once: the first reason stays.
  void Stop(Error why) EXCLUDES(health_mu_);
  // Stops writes when `e` says the database is damaged.
  void StopIfDamaged(const Error& e) EXCLUDES(health_mu_) {
    if (e.code == Code::kCorruption) Stop(Damaged(e));
  }

  // Constant after construction.
  const std::string path_;

  // The write queue; its head leads.
  Mutex queue_mu_;
  std::deque<Writer*> writers_ GUARDED_BY(queue_mu_);

  // The write connection: only the leader of a batch uses it.
  Mutex db_mu_;
  Db db_ GUARDED_BY(db_mu_);

  Mutex readers_mu_;
  std::vector<Db> readers_ GUARDED_BY(readers_mu_);  // idle read connections

  // Set once by an ambiguous commit failure; read without a lock by CheckHealth and Write.
  std::atomic<bool> stopped_{false};
  mutable Mutex health_mu_;
  std::optional<Error> stop_error_ GUARDED_BY(health_mu_);
};

}  // namespace podfleet
