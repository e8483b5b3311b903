// PgStore: the Store on PostgreSQL through libpq. Internal to src/store; everyone else uses
// store.h and OpenPgStore. Schema: pg_schema.cc. Same contract and state machines as SqliteStore
// (store.h, migrations.h); the differences are how concurrency and durability are reached:
//
// - One call, one transaction, on a connection from a pool (any number of threads, and any number
//   of processes: several coordinators may share one database). Writes run READ COMMITTED and
//   take row locks before they decide: a call on a job locks the job's row (SELECT ... FOR
//   UPDATE) and, when it may change the episode, the episode's; Claim picks queued jobs with
//   FOR UPDATE SKIP LOCKED, so concurrent claims never wait on each other nor lease a job twice.
//   A transaction PostgreSQL aborts as a deadlock or serialization failure runs again (up to
//   kWriteRetries times). Reads run in one REPEATABLE READ READ ONLY snapshot.
// - Durability is the server's: a call returns after COMMIT, which with the default
//   synchronous_commit = on is flushed (and replicated, if the operator configured synchronous
//   standbys). Concurrent commits share flushes through PostgreSQL's own WAL group commit.
// - Sticky failure: a COMMIT whose answer was lost (the connection broke) leaves the outcome
//   unknown; as SqliteStore, the store then refuses every write (CheckHealth says why) until it
//   is reopened. A statement that fails before COMMIT rolls back and is not sticky.
//
// Files, by area (each under ~800 lines): store_pg.cc (opening, the pool, transactions, health,
// nodes, tokens, transfers), store_pg_feeds.cc (feeds and episodes), store_pg_jobs.cc (relay
// chunks, claims, leases, outcomes), store_pg_transcripts.cc (transcripts, stitching, search),
// pg_schema.cc (migrations), pg_conn.h (libpq). How to add a Store method: doc/store.md.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/thread_annotations.h"
#include "store/pg_conn.h"
#include "store/store.h"

namespace podfleet {

// Applies pending schema migrations (pg_schema.cc) under an advisory lock, so coordinators
// starting together migrate once. kCorruption for a database holding other tables or a newer
// schema. Returns the schema version.
Result<int> MigratePg(PgConn& conn);

// Copies the SQLite store at `sqlite_path` (migrated to the latest schema first) into the
// PostgreSQL database `conninfo` names, ids, leases and attempt numbers kept, in one transaction
// (`podfleet store migrate`, store_pg_migrate.cc). kConflict when that database already holds a
// podfleet store. Returns the rows copied per table.
Result<std::vector<std::pair<std::string, int64_t>>> CopySqliteToPg(const std::string& sqlite_path,
                                                                    const std::string& conninfo);

// Shared SQL helpers of the PgStore files (store_pg.cc).
namespace pg {

// Runs `sql`, which must change exactly one row: any other count is kInternal.
template <class... Args>
Result<void> UpdateOne(PgConn& c, std::string_view sql, const Args&... args) {
  Result<int64_t> changed = c.Run(sql, args...);
  if (!changed) return std::unexpected(changed.error());
  if (*changed != 1) return Internal(fmt::format("{}: changed {} rows, not 1", sql, *changed));
  return {};
}

// kNotFound("<what> not found") when `changed` is 0.
Result<void> RequireChanged(Result<int64_t> changed, std::string_view what);

// Replaces a uniqueness conflict's SQL text with `message`.
template <class T>
Result<T> OnDuplicate(Result<T> r, std::string message) {
  if (!r && r.error().code == Code::kConflict) r.error().message = std::move(message);
  return r;
}

std::optional<int64_t> OptionalMillis(std::optional<TimePoint> t);

Result<Episode> LoadEpisode(PgConn& c, EpisodeId id);
// Locks the episode's row for the rest of the transaction; kNotFound if there is none.
Result<void> LockEpisode(PgConn& c, EpisodeId id);
// Records that the node was heard from at `now`, unless less than a second before (MarkSeen).
Result<int64_t> MarkSeen(PgConn& c, NodeId node, TimePoint now);
// The transcript of `episode` and its search rows, as SqliteStore's StoreTranscript.
Result<void> StoreTranscript(PgConn& c, EpisodeId episode, const Transcript& t, TimePoint now);
// Stitches the episode's chunk results once every job of it is done (store_pg_transcripts.cc).
Result<void> StitchIfDone(PgConn& c, EpisodeId episode, TimePoint now);
Result<void> StorePublisherTranscript(PgConn& c, EpisodeId episode, const Transcript& t,
                                      const TranscriptLink& link, TimePoint now);
// The NOTIFY channel PgStore signals on whenever a transaction makes a job claimable or gives the
// relay one to prepare (queued, released, requeued, retried). Delivered at COMMIT, folded into one
// per transaction; ListenForWork (coordination.h) wakes other coordinators with it.
inline constexpr char kWorkChannel[] = "podfleet_work";
// Issues the NOTIFY on kWorkChannel in the current transaction.
Result<void> NotifyWork(PgConn& c);
// The episode's first job, claimable or held for the relay, asking `want` of its worker.
Result<void> InsertJob(PgConn& c, EpisodeId id, JobIntake intake, const JobRequirement& want);
// The text search query (a tsquery in podfleet_search) for what a person typed; kInvalidArgument
// when it holds nothing to search for.
Result<std::string> ToTsQuery(PgConn& c, std::string_view text);

}  // namespace pg

class PgStore final : public Store {
 public:
  explicit PgStore(std::string conninfo) : conninfo_(std::move(conninfo)) {}

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
  // Times a transaction PostgreSQL aborted as a deadlock or serialization failure is run again.
  static constexpr int kWriteRetries = 8;
  // Idle connections kept for reuse.
  static constexpr size_t kMaxIdle = 32;

  Result<PgConn> Take() EXCLUDES(pool_mu_);
  void Give(PgConn conn) EXCLUDES(pool_mu_);
  // Runs `body` in one transaction opened with `begin`; `write` makes a failed COMMIT sticky.
  Result<void> RunTransaction(const std::string& begin, bool write,
                              const std::function<Result<void>(PgConn&)>& body);

  // Runs `body` (PgConn& -> Result<T>) in a write transaction, again after a deadlock.
  template <class F>
  std::invoke_result_t<F, PgConn&> Write(F&& body) {
    if (stopped_.load()) return std::unexpected(StopError());
    return InTransaction("BEGIN", true, std::forward<F>(body));
  }

  // Runs `body` in one read-only snapshot.
  template <class F>
  std::invoke_result_t<F, PgConn&> Read(F&& body) {
    return InTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", false,
                         std::forward<F>(body));
  }

  // RunTransaction for a `body` with a result: its value, or the error that ended the
  // transaction (a damaged database stops the store).
  template <class F>
  std::invoke_result_t<F, PgConn&> InTransaction(const std::string& begin, bool write, F&& body) {
    using R = std::invoke_result_t<F, PgConn&>;
    std::optional<R> result;
    Result<void> r = RunTransaction(begin, write, [&](PgConn& c) -> Result<void> {
      result.emplace(body(c));
      if (!*result) return std::unexpected(result->error());
      return {};
    });
    if (!r) {
      StopIfDamaged(r.error());
      return std::unexpected(r.error());
    }
    return std::move(*result);
  }

  Error StopError() const EXCLUDES(health_mu_);
  void Stop(Error why) EXCLUDES(health_mu_);
  void StopIfDamaged(const Error& e) EXCLUDES(health_mu_);

  const std::string conninfo_;

  Mutex pool_mu_;
  std::vector<PgConn> idle_ GUARDED_BY(pool_mu_);

  std::atomic<bool> stopped_{false};
  mutable Mutex health_mu_;
  std::optional<Error> stop_error_ GUARDED_BY(health_mu_);
};

}  // namespace podfleet
