// SqliteStore: the Store on one SQLite connection. Internal to src/store; everyone else uses
// store.h and OpenSqliteStore. Schema and state machines: migrations.h.
//
// One connection, one mutex: every public call takes mu_ and runs as one transaction (BEGIN
// IMMEDIATE when it writes, so it never fails half-way on a lock). A call that returns an error
// has changed nothing: the transaction rolls back. The file may also be open in other processes
// (the CLI); they wait on SQLite's busy timeout and give kUnavailable after it.
//
// A lease is lost only when ExpireLeases reaps it: until then the holder may renew, complete, fail
// or release it even after its expires_at.
//
// Sticky failure: when a write transaction's COMMIT fails, whether it reached the disk is unknown;
// the store records the error and refuses every later write with it (CheckHealth reports it)
// until it is reopened, when SQLite's recovery settles what was committed.
//
// The methods are split by concept: store_sqlite.cc (opening, feeds, episodes, nodes, tokens) and
// store_sqlite_jobs.cc (claims, leases, outcomes, transcripts).
#pragma once

#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/thread_annotations.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace podfleet {

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(Db db) : db_(std::move(db)) {}

  Result<Feed> AddFeed(std::string_view url, TimePoint now) override;
  Result<Feed> GetFeed(FeedId id) override;
  Result<std::vector<Feed>> ListFeeds() override;
  Result<void> RemoveFeed(FeedId id) override;
  Result<void> RecordFeedPoll(FeedId id, const FeedPoll& poll) override;

  Result<std::vector<EpisodeId>> AddEpisodes(std::optional<FeedId> feed,
                                             const std::vector<EpisodeInfo>& episodes,
                                             TimePoint now,
                                             JobIntake intake = JobIntake::kQueue) override;
  Result<Episode> GetEpisode(EpisodeId id) override;
  Result<std::vector<Episode>> ListEpisodes(const EpisodeFilter& filter) override;
  Result<void> RetryEpisode(EpisodeId id, TimePoint now) override;
  Result<Job> GetJobForEpisode(EpisodeId id) override;
  Result<std::vector<Job>> ListJobsForEpisode(EpisodeId id) override;

  Result<std::vector<PreparingJob>> ListPreparing(int limit, TimePoint now) override;
  Result<std::vector<JobId>> PlanChunks(JobId job, const std::vector<Chunk>& chunks,
                                        TimePoint now) override;
  Result<void> FailPreparing(JobId job, const Failure& failure, const RetryPolicy& policy,
                             TimePoint now) override;

  Result<std::vector<Grant>> Claim(NodeId node, int max_jobs, Millis lease_for,
                                   TimePoint now) override;
  Result<std::vector<Lease>> Renew(NodeId node, const std::vector<Progress>& held, Millis lease_for,
                                   TimePoint now) override;
  Result<void> Complete(NodeId node, JobId job, AttemptId attempt, const Transcript& transcript,
                        TimePoint now) override;
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
  Result<std::vector<CompletedJob>> CompletedSince(TimePoint since) override;
  Result<std::vector<FailedAttempt>> FailedSince(TimePoint since) override;
  Result<void> RecordWait(JobId job, AttemptId attempt, Millis waited) override;

  Result<void> RecordTransfer(NodeId node, int64_t bytes, Millis audio, TimePoint now) override;
  Result<std::vector<TransferTotal>> TransfersSince(TimePoint since) override;

  Result<Transcript> GetTranscript(EpisodeId id) override;

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
  // Runs `body(db_)` under mu_ in one transaction of `kind`, committing if it returns a value.
  template <class F>
  std::invoke_result_t<F, Db&> InTransaction(Transaction::Kind kind, F&& body) {
    MutexLock lock(mu_);
    const bool write = kind == Transaction::Kind::kWrite;
    if (write && stopped_) return std::unexpected(*stopped_);
    Result<Transaction> tx = Transaction::Begin(db_, kind);
    if (!tx) {
      if (tx.error().code == Code::kCorruption) StopLocked(Damaged(tx.error()));
      return std::unexpected(tx.error());
    }
    std::invoke_result_t<F, Db&> result = std::forward<F>(body)(db_);
    if (!result) {
      if (result.error().code == Code::kCorruption) StopLocked(Damaged(result.error()));
      return result;
    }
    if (Result<void> r = tx->Commit(); !r) {
      if (write || r.error().code == Code::kCorruption)
        StopLocked(r.error().code == Code::kCorruption ? Damaged(r.error()) : StopAfter(r.error()));
      return std::unexpected(r.error());
    }
    return result;
  }
  template <class F>
  std::invoke_result_t<F, Db&> Read(F&& body) {
    return InTransaction(Transaction::Kind::kRead, std::forward<F>(body));
  }
  template <class F>
  std::invoke_result_t<F, Db&> Write(F&& body) {
    return InTransaction(Transaction::Kind::kWrite, std::forward<F>(body));
  }

  // The error every write returns after the commit that failed with `cause`.
  static Error StopAfter(const Error& cause);
  // The error every write returns once the database was found damaged (`cause`).
  static Error Damaged(const Error& cause);
  // Stops writes with `why` and logs it, once: the first reason stays.
  void StopLocked(Error why) REQUIRES(mu_);

  // Everything is guarded by mu_; nothing is constant after construction but the mutex itself.
  Mutex mu_;
  Db db_ GUARDED_BY(mu_);
  std::optional<Error> stopped_ GUARDED_BY(mu_);  // set by an ambiguous commit failure
};

}  // namespace podfleet
