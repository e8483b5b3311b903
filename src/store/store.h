// The durable store: the coordinator's single source of truth.
//
// Everything the coordinator knows lives here; the process keeps nothing a restart would lose.
// Implementations: SQLite (store_sqlite.cc, WAL mode) now, PostgreSQL later, both passing the same
// tests (store_test.cc). Each public call is one transaction: it happens wholly or not at all.
//
// Thread safety: a Store is safe for concurrent use from many threads without external locking.
//
// Leases and fencing: Claim gives each job a new attempt number and a lease that runs until
// `now + lease_for`. Only that attempt, on that node, may Renew, Complete, Fail or Release the job;
// any other attempt gets kConflict and changes nothing. Claims are atomic: a job is never leased
// to two attempts at once. A repeated Complete of the attempt that completed the job succeeds and
// changes nothing.
//
// Errors: kNotFound for unknown ids, kConflict for stale attempts or duplicates, kCorruption when
// the database is damaged, kUnavailable when it is busy or the disk fails, kInternal otherwise.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace podfleet {

struct EpisodeFilter {
  std::optional<FeedId> feed;
  std::optional<EpisodeState> state;
  std::string search;  // substring of the title, case-insensitive; empty matches all
  int64_t limit = 100;
  int64_t offset = 0;
};

// A lease granted by Claim, with what the worker needs to do the job.
struct Grant {
  Lease lease;
  Episode episode;
  Chunk chunk;
};

// How AddEpisodes queues the new episodes' jobs.
enum class JobIntake {
  kQueue,    // claimable at once: workers fetch the audio from its origin
  kPrepare,  // held as kPreparing until the coordinator's relay cut the audio (PlanChunks)
};

// A job held for the relay, with its episode.
struct PreparingJob {
  JobId job;
  Episode episode;
};

struct RetryPolicy {
  int max_failures = 5;             // retryable failures before the job fails for good
  Millis base_backoff{5'000};       // first retry delay; doubles each failure
  Millis max_backoff{10 * 60'000};  // cap on the delay
  // Lease expiries (workers that died or went silent holding the job) before the job is
  // quarantined: failed, with the expired attempts as evidence, until an operator retries it.
  int max_lease_expiries = 3;
};

// What the feed poller learned about a feed.
struct FeedPoll {
  TimePoint polled_at;
  std::string title;  // empty: keep the stored title
  std::string error;  // empty: the poll succeeded
};

// An enrollment token as listed for the operator: never the token, only its hash's first
// characters as an id.
struct EnrollmentToken {
  std::string id;  // the first 12 hex characters of the token's hash
  std::string label;
  TimePoint created_at;
  bool revoked = false;
};

class Store {
 public:
  virtual ~Store() = default;

  // ---- feeds ----
  // kConflict if a feed with that URL exists.
  virtual Result<Feed> AddFeed(std::string_view url, TimePoint now) = 0;
  virtual Result<Feed> GetFeed(FeedId id) = 0;
  virtual Result<std::vector<Feed>> ListFeeds() = 0;
  // Removes the feed and its episodes, jobs and transcripts.
  virtual Result<void> RemoveFeed(FeedId id) = 0;
  virtual Result<void> RecordFeedPoll(FeedId id, const FeedPoll& poll) = 0;

  // ---- episodes ----
  // Adds the episodes not yet known (identity: feed + guid) and queues a job for each one with an
  // audio URL, as `intake` says; episodes without one are stored as kSkipped. Returns the ids of
  // the new episodes, in input order. Known episodes are left unchanged.
  virtual Result<std::vector<EpisodeId>> AddEpisodes(std::optional<FeedId> feed,
                                                     const std::vector<EpisodeInfo>& episodes,
                                                     TimePoint now,
                                                     JobIntake intake = JobIntake::kQueue) = 0;
  virtual Result<Episode> GetEpisode(EpisodeId id) = 0;
  // Newest first (published_at, then id).
  virtual Result<std::vector<Episode>> ListEpisodes(const EpisodeFilter& filter) = 0;
  // Queues the failed jobs of a failed episode again with fresh failure and lease-expiry counts,
  // lifting any quarantine (chunks that are done stay done). kConflict unless it is kFailed.
  virtual Result<void> RetryEpisode(EpisodeId id, TimePoint now) = 0;
  // The job of an episode; of a chunked episode, its first chunk's job.
  virtual Result<Job> GetJobForEpisode(EpisodeId id) = 0;
  // Every job of an episode, by chunk index.
  virtual Result<std::vector<Job>> ListJobsForEpisode(EpisodeId id) = 0;

  // ---- relay: jobs held for the coordinator to cut their audio (JobIntake::kPrepare) ----
  // Up to `limit` kPreparing jobs whose backoff has ended, oldest first.
  virtual Result<std::vector<PreparingJob>> ListPreparing(int limit, TimePoint now) = 0;
  // Queues a kPreparing job as the chunks given, in order (at least one; index and count are
  // set here): the job becomes the first chunk and one new job is added per further chunk.
  // kConflict unless the job is kPreparing; kInvalidArgument for no chunks.
  virtual Result<std::vector<JobId>> PlanChunks(JobId job, const std::vector<Chunk>& chunks,
                                                TimePoint now) = 0;
  // The relay could not prepare the job. Permanent: job and episode fail. Retryable: it stays
  // kPreparing after a backoff, or fails once `policy.max_failures` is reached. kConflict unless
  // the job is kPreparing.
  virtual Result<void> FailPreparing(JobId job, const Failure& failure, const RetryPolicy& policy,
                                     TimePoint now) = 0;

  // ---- jobs and leases ----
  // Leases up to `max_jobs` claimable jobs (queued, not_before <= now) to `node`, oldest first.
  virtual Result<std::vector<Grant>> Claim(NodeId node, int max_jobs, Millis lease_for,
                                           TimePoint now) = 0;
  // Extends the leases of the attempts listed and stores their progress. Returns the leases that
  // were renewed; an entry whose attempt no longer holds its job is left out (the worker must stop
  // that job).
  virtual Result<std::vector<Lease>> Renew(NodeId node, const std::vector<Progress>& held,
                                           Millis lease_for, TimePoint now) = 0;
  // Stores the transcript and marks the job done; when every job of the episode is done, the
  // episode is done with its chunks' transcripts stitched (core/stitch.h; times of a chunk's
  // transcript are relative to its start). kConflict if the attempt does not hold the lease (and
  // did not already complete the job), with one exception, the late result: an attempt whose lease
  // expired (it was reaped, not released or failed) may still complete a job that is not done. Its
  // result is accepted, the attempt now running (if any) is ended as released (its worker learns
  // it at its next heartbeat), and a quarantine is lifted. The first result wins; a job is
  // completed once.
  virtual Result<void> Complete(NodeId node, JobId job, AttemptId attempt,
                                const Transcript& transcript, TimePoint now) = 0;
  // Ends the attempt. Permanent: job and episode fail. Retryable: queued again after a backoff, or
  // failed once `policy.max_failures` is reached. kConflict as for Complete.
  virtual Result<void> Fail(NodeId node, JobId job, AttemptId attempt, const Failure& failure,
                            const RetryPolicy& policy, TimePoint now) = 0;
  // Gives the job back unfinished; it is claimable at once and counts as no failure.
  virtual Result<void> Release(NodeId node, JobId job, AttemptId attempt, TimePoint now) = 0;
  // Requeues every job whose lease ended before `now`; counts a lease expiry on each. A job
  // reaching `policy.max_lease_expiries` is quarantined instead (failed, with quarantined_at set
  // and the expired attempts named in its error). Returns how many leases expired.
  virtual Result<int> ExpireLeases(TimePoint now, const RetryPolicy& policy) = 0;
  Result<int> ExpireLeases(TimePoint now) { return ExpireLeases(now, RetryPolicy{}); }
  // Every attempt at the job, oldest first (the evidence behind a quarantine).
  virtual Result<std::vector<Attempt>> ListAttempts(JobId job) = 0;
  virtual Result<Job> GetJob(JobId id) = 0;
  // Jobs currently leased, with their progress, ordered by job id.
  virtual Result<std::vector<Job>> ListLeasedJobs() = 0;
  // Jobs by state; kPreparing jobs count as queued (they wait for work too).
  virtual Result<QueueCounts> CountJobs() = 0;
  // Sets the job's priority: Claim leases higher priorities first, then oldest first. Jobs are
  // created at 0; the OpenAI-compatible route queues at kInteractivePriority. kNotFound if no job.
  virtual Result<void> SetJobPriority(JobId id, int priority) = 0;
  // Jobs completed at or after `since`, oldest first.
  virtual Result<std::vector<CompletedJob>> CompletedSince(TimePoint since) = 0;
  // Attempts that failed (retryable or not) at or after `since`, oldest first.
  virtual Result<std::vector<FailedAttempt>> FailedSince(TimePoint since) = 0;
  // Stores how long the attempt's audio waited for the engine on its worker (CompletedJob::waited).
  // kNotFound for an unknown attempt.
  virtual Result<void> RecordWait(JobId job, AttemptId attempt, Millis waited) = 0;

  // ---- bytes served ----
  // Adds `bytes` (carrying `audio` of audio, zero if unknown) served to `node` (NodeId(0): an
  // unauthenticated client) to the total of the hour holding `now`.
  virtual Result<void> RecordTransfer(NodeId node, int64_t bytes, Millis audio, TimePoint now) = 0;
  // Hourly totals per node for the hours that end after `since`, oldest hour first.
  virtual Result<std::vector<TransferTotal>> TransfersSince(TimePoint since) = 0;

  // ---- transcripts ----
  virtual Result<Transcript> GetTranscript(EpisodeId id) = 0;

  // ---- nodes and tokens ----
  // Tokens are stored only as hashes (callers hash them, see net/token.h).
  virtual Result<Node> RegisterNode(const NodeInfo& info, std::string_view token_hash,
                                    TimePoint now) = 0;
  // kPermissionDenied if no live node has that token hash.
  virtual Result<Node> FindNodeByToken(std::string_view token_hash) = 0;
  virtual Result<std::vector<Node>> ListNodes() = 0;
  // Stores the node's measured speed (realtime factor); kNotFound for an unknown node.
  virtual Result<void> SetNodeSpeed(NodeId id, double speed) = 0;
  // Records that the node was heard from.
  virtual Result<void> TouchNode(NodeId id, TimePoint now) = 0;
  // Marks the node retired (it deregistered); its token stops working.
  virtual Result<void> RetireNode(NodeId id, TimePoint now) = 0;

  virtual Result<void> AddEnrollmentToken(std::string_view token_hash, std::string_view label,
                                          TimePoint now) = 0;
  // true if the hash names an enrollment token that was not revoked.
  virtual Result<bool> CheckEnrollmentToken(std::string_view token_hash) = 0;
  virtual Result<int64_t> CountEnrollmentTokens() = 0;

  // ---- health ----
  // kUnavailable, with the reason, once a commit failed ambiguously (COMMIT itself returned an
  // error, so the change may or may not be durable). From then on the store refuses every write
  // with that error until it is reopened: a coordinator that cannot tell what it promised stops
  // granting leases instead of guessing (LevelDB's sticky background error). Reads still work.
  // Any kCorruption met at run time (a damaged page, an undecodable row) stops writes the same
  // way: a damaged database must not take new promises. The moment it stops, the store logs the
  // reason once to stderr.
  virtual Result<void> CheckHealth() = 0;

  // Every enrollment token, oldest first.
  virtual Result<std::vector<EnrollmentToken>> ListEnrollmentTokens() = 0;
  // Revokes the token whose hash starts with `hash_prefix` (an EnrollmentToken id, or a whole
  // hash): it no longer registers nodes; nodes it registered keep their own tokens. Revoking a
  // revoked token succeeds. kInvalidArgument for a prefix shorter than 8 or not lower-case hex, or
  // one that names more than one token; kNotFound when it names none.
  virtual Result<void> RevokeEnrollmentToken(std::string_view hash_prefix) = 0;
};

// Opens (creating if needed) the SQLite database at `path` in WAL mode, runs PRAGMA quick_check
// and applies pending schema migrations. kCorruption if the file is not a podfleet database, is
// newer than this program or fails its quick check (the first problems are named).
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

// PRAGMA integrity_check (full: every index against its table) or quick_check on the database at
// `path`, opened read-only beside any running coordinator. Returns the problems found, empty when
// the database is sound. kUnavailable/kCorruption when it cannot be read at all.
Result<std::vector<std::string>> CheckSqliteDatabase(const std::string& path, bool full);

// Copies the database at `from` to `to` with SQLite's online backup API: a consistent snapshot
// even while a coordinator writes to `from`. `to` is replaced whole (any -wal/-shm beside it is
// removed first, so a restore does not mix old log pages in). kUnavailable on I/O errors.
Result<void> CopySqliteDatabase(const std::string& from, const std::string& to);

}  // namespace podfleet
