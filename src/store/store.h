// The durable store: the coordinator's single source of truth.
//
// Everything the coordinator knows lives here; the process keeps nothing a restart would lose.
// Implementations: SQLite (store_sqlite.cc, WAL mode) now, PostgreSQL later, both passing the same
// tests (store_test.cc). Each public call is one transaction: it happens wholly or not at all, and
// a call that writes returns only once its change is durable. Concurrent writes may share one
// commit (group commit, store_sqlite.h); each still succeeds or fails on its own.
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
  // Empty matches all. Otherwise an episode matches when its title contains this text
  // (case-insensitive) or its transcript matches it as a search query (search_query.h).
  std::string search;
  int64_t limit = 100;
  int64_t offset = 0;
};

// One decision of the autoscaler (coordinator/autoscaler.h), with its reason in `text`.
struct AutoscaleDecision {
  TimePoint at{};
  std::string text;
};

// What a claiming worker can do beyond its registered engine and model, for jobs that workers
// older than a feature cannot do right. The default is a current worker: it can do everything.
struct ClaimFilter {
  // The worker reads seam chunks (Chunk::seam > 0) from their origin and cuts them at their
  // seams. A worker that cannot would transcribe a seam chunk's whole stretch, doubling up to two
  // seams of audio: false leaves those chunks to others.
  bool seam_chunks = true;
};

// A lease granted by Claim, with what the worker needs to do the job.
struct Grant {
  Lease lease;
  Episode episode;
  Chunk chunk;
  JobRequirement want;  // what the job asks (its language goes to the engine)
  // The base URL of the coordinator holding a relayed chunk's audio (TakePreparing); empty: the
  // one that serves this store alone (SQLite), whose URL the worker already has.
  std::string audio_at;
};

// How long a coordinator that stopped heartbeating (HeartbeatCoordinator) still counts as alive:
// past it, Claim leases none of the chunks it holds and ReclaimAudio gives them to the others.
inline constexpr Millis kCoordinatorSilence{3'000};

// How AddEpisodes queues the new episodes' jobs.
enum class JobIntake {
  kQueue,    // claimable at once: workers fetch the audio from its origin
  kPrepare,  // held as kPreparing until the coordinator's relay cut the audio (PlanChunks)
};

// A job held for the relay, with its episode.
struct PreparingJob {
  JobId job;
  Episode episode;
  // What is left to prepare: chunks `next.index` onwards, from `next.start` to the end of the
  // audio (index 0 from 0 for an episode not started; later, after QueueChunk). With an end, the
  // job is one chunk to prepare again (its coordinator was lost, ReclaimAudio), `next.count` the
  // episode's chunk count: only it is prepared, and queued with QueuePreparedAgain.
  Chunk next;
};

struct RetryPolicy {
  int max_failures = 5;             // retryable failures before the job fails for good
  Millis base_backoff{5'000};       // first retry delay; doubles each failure
  Millis max_backoff{10 * 60'000};  // cap on the delay
  // Lease expiries (workers that died or went silent holding the job) before the job is
  // quarantined: failed, with the expired attempts as evidence, until an operator retries it.
  int max_lease_expiries = 3;
};

// What a worker reports with a completed job besides its transcript.
struct CompletionReport {
  std::optional<Millis> waited;  // how long its audio waited for the engine (RecordWait)
};

// What one Store::Complete call found and did, so that its caller need not read it back.
struct Completion {
  // The completion this call recorded, as CompletedSince would list it; nullopt when the call
  // repeated an earlier success and changed nothing.
  std::optional<CompletedJob> completed;
  EpisodeId episode;          // the job's episode
  Chunk chunk;                // the job's piece of it
  bool episode_done = false;  // the job's episode is done (by this call or before it)
};

// One result of a CompleteMany call: what one Complete call would be given.
struct CompletionInput {
  JobId job;
  AttemptId attempt;
  Transcript transcript;
  CompletionReport report;
};

// What the feed poller learned about a feed.
struct FeedPoll {
  TimePoint polled_at;
  std::string title;  // empty: keep the stored title
  std::string error;  // empty: the poll succeeded
  // Whether etag and last_modified below replace the stored validators (a full 200 answer);
  // false keeps them (an error, a 304).
  bool validators = false;
  std::string etag;
  std::string last_modified;
  int64_t failures = 0;                   // consecutive failures so far (0 after a success)
  std::optional<TimePoint> next_poll_at;  // unset: due at once
};

// How a feed is recognised (feeds/feed_url.h normalizes the URLs): the URL it is fetched from
// now, the other URLs it was known by (as added, before permanent redirects and
// itunes:new-feed-url), its podcast:guid, and a fingerprint of its content (channel title and
// newest item guid) that recognises a copy served under a URL nothing links to the first.
struct FeedIdentity {
  std::string url;
  std::vector<std::string> aliases;
  std::string podcast_guid;  // empty: none
  std::string fingerprint;   // empty: none
};

// A feed item with what the feed poller made of the transcripts it links (<podcast:transcript>).
struct FeedItem {
  EpisodeInfo info;
  std::optional<Transcript> publisher;  // the publisher's transcript, fetched and parsed
  TranscriptLink publisher_link;        // the link `publisher` came from
  std::string publisher_note;           // why no linked transcript could be used; empty if none
};

// Where an episode's transcript came from, for people.
struct TranscriptOrigin {
  std::string source;  // "fleet", "publisher" (the feed linked it), or "" (none yet)
  std::string note;    // why a transcript the feed linked was not used; empty otherwise
};

// Episodes whose transcript came from their publisher with no fleet transcript: work saved.
struct PublisherSavings {
  int64_t episodes = 0;
  Millis audio{0};  // their audio (the item's duration, else the transcript's end)
};

// A full-text search over every stored transcript's segments (search_query.h has the language).
struct SearchQuery {
  std::string text;
  std::optional<FeedId> feed;
  // Episodes published (else added) in [from, to); either end may be open.
  std::optional<TimePoint> from;
  std::optional<TimePoint> to;
  int64_t limit = 20;
  int64_t offset = 0;
};

// Marks around each match in SearchHit::snippet (control characters never found in transcripts).
inline constexpr char kMatchStart = '\x02';
inline constexpr char kMatchEnd = '\x03';

// One segment that matched, best first (FTS5's bm25; lower scores are better).
struct SearchHit {
  EpisodeId episode;
  std::optional<FeedId> feed;
  std::string title;  // the episode's
  std::optional<TimePoint> published_at;
  Millis start{0};
  Millis end{0};
  std::string speaker;
  std::string snippet;  // words around the matches, each match between kMatchStart and kMatchEnd
  double score = 0;
  // False when the query matched more than kRankedMatches segments: such hits are not ranked by
  // relevance but come newest-indexed first (score 0); see Store::Search.
  bool ranked = true;
};

// A query matching more segments than this is not ranked by relevance: its words are too common
// to tell segments apart, and scoring every match would cost more than the 50 ms a search may take.
inline constexpr int64_t kRankedMatches = 10'000;

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
  // kConflict if a feed with that URL exists (as its URL or one of its aliases).
  virtual Result<Feed> AddFeed(std::string_view url, TimePoint now) = 0;
  // The feed known by any of identity's URLs (url, aliases), else by its podcast_guid, else by
  // its fingerprint; nullopt when none is.
  virtual Result<std::optional<Feed>> FindFeed(const FeedIdentity& identity) = 0;
  // Moves the feed to identity.url (kept as an alias too), adds the aliases and sets the
  // podcast_guid and fingerprint when non-empty. An alias that names another feed is left to
  // it; kConflict if identity.url is another feed's URL.
  virtual Result<void> UpdateFeedIdentity(FeedId id, const FeedIdentity& identity) = 0;
  virtual Result<Feed> GetFeed(FeedId id) = 0;
  virtual Result<std::vector<Feed>> ListFeeds() = 0;
  // Removes the feed and its episodes, jobs and transcripts.
  virtual Result<void> RemoveFeed(FeedId id) = 0;
  virtual Result<void> RecordFeedPoll(FeedId id, const FeedPoll& poll) = 0;
  // Whether the feed's items are queued for the fleet even when they link a usable transcript
  // (both are then kept; the fleet's is shown). Off by default.
  virtual Result<void> SetTranscribeAnyway(FeedId id, bool on) = 0;
  virtual Result<bool> TranscribesAnyway(FeedId id) = 0;
  // The guids of the feed's episodes (to tell new items before fetching what they link).
  virtual Result<std::vector<std::string>> ListGuids(FeedId feed) = 0;

  // ---- episodes ----
  // Adds the episodes not yet known and queues a job for each one with an audio URL, as `intake`
  // says; episodes without one are stored as kSkipped ("no enclosure"), and so is the i-th when
  // hold[i] is a non-empty reason (backfill limits; QueueEpisode queues it later). Returns the
  // ids of the new episodes, in input order. Identity within a feed: the guid, else the audio
  // URL (an item whose guid changed but whose enclosure did not is the same episode). A known
  // episode keeps its state and job; its audio URL, type and length follow the feed when the
  // audio URL changed (so origin mode fetches the new one), and its title, duration and date
  // when the feed gives them. Episodes without a feed are known by guid alone, and unchanged.
  // The new jobs ask `want` of the workers that claim them (Claim).
  virtual Result<std::vector<EpisodeId>> AddEpisodes(std::optional<FeedId> feed,
                                                     const std::vector<EpisodeInfo>& episodes,
                                                     TimePoint now,
                                                     JobIntake intake = JobIntake::kQueue,
                                                     const std::vector<std::string>& hold = {},
                                                     const JobRequirement& want = {}) = 0;
  // AddEpisodes for a feed's items, with their publishers' transcripts: a new item with
  // `publisher` set is stored done with it as its transcript (source "publisher") and no job,
  // unless the feed transcribes anyway, when it is also queued and both are kept.
  // `publisher_note` is recorded as the note of its TranscriptOrigin. `hold` as for AddEpisodes.
  virtual Result<std::vector<EpisodeId>> AddFeedItems(
      FeedId feed, const std::vector<FeedItem>& items, TimePoint now,
      JobIntake intake = JobIntake::kQueue, const std::vector<std::string>& hold = {}) = 0;
  virtual Result<Episode> GetEpisode(EpisodeId id) = 0;
  // Removes the episode with its jobs, attempts, results and transcripts (its uploaded audio, if
  // any, is the caller's to delete). kNotFound if there is no such episode.
  virtual Result<void> DeleteEpisode(EpisodeId id) = 0;
  // Queues a done episode again as one job for the whole audio (chunks beyond the first go), asking
  // `want` of its worker (the job's earlier requirement is replaced); its transcript stays until
  // the new one is stored. kConflict unless it is done; kInvalidArgument when it has no audio URL.
  virtual Result<void> TranscribeAgain(EpisodeId id, TimePoint now,
                                       JobIntake intake = JobIntake::kQueue,
                                       const JobRequirement& want = {}) = 0;
  // Episodes by state: queued, running (some chunk leased or done), done, failed; skipped ones
  // are left out.
  virtual Result<QueueCounts> CountEpisodes() = 0;
  // Newest first (published_at, then id).
  virtual Result<std::vector<Episode>> ListEpisodes(const EpisodeFilter& filter) = 0;
  // Queues the failed jobs of a failed episode again with fresh failure and lease-expiry counts,
  // lifting any quarantine (chunks that are done stay done). kConflict unless it is kFailed.
  virtual Result<void> RetryEpisode(EpisodeId id, TimePoint now) = 0;
  // Queues a skipped episode that has an audio URL (one held back by a backfill limit), as
  // `intake` says. kConflict unless it is kSkipped with an audio URL.
  virtual Result<void> QueueEpisode(EpisodeId id, TimePoint now, JobIntake intake) = 0;
  // The job of an episode; of a chunked episode, its first chunk's job.
  virtual Result<Job> GetJobForEpisode(EpisodeId id) = 0;
  // Every job of an episode, by chunk index.
  virtual Result<std::vector<Job>> ListJobsForEpisode(EpisodeId id) = 0;

  // ---- relay: jobs held for the coordinator to cut their audio (JobIntake::kPrepare) ----
  // Up to `limit` kPreparing jobs whose backoff has ended, oldest first, leaving out those another
  // coordinator took (TakePreparing with a holder other than `holder`).
  virtual Result<std::vector<PreparingJob>> ListPreparing(int limit, TimePoint now,
                                                          std::string_view holder) = 0;
  Result<std::vector<PreparingJob>> ListPreparing(int limit, TimePoint now) {
    return ListPreparing(limit, now, "");
  }
  // The coordinator whose base URL is `holder` prepares the kPreparing `job`: the chunks it
  // queues from it (QueueChunk, PlanChunks, QueuePreparedAgain) are held by it, and Claim names
  // it in their grants (Grant::audio_at). Empty: the store's only coordinator (SQLite).
  // kConflict unless the job is kPreparing and free or already `holder`'s.
  virtual Result<void> TakePreparing(JobId job, std::string_view holder) = 0;
  // Queues again a kPreparing job whose chunk (with its end) was prepared again after
  // ReclaimAudio: index, count and times stay. `relayed` false: it is queued for workers to cut
  // from the origin (a coordinator that relays nothing). kConflict unless the job is kPreparing;
  // kInvalidArgument when its chunk has no end (QueueChunk, PlanChunks are for those).
  virtual Result<void> QueuePreparedAgain(JobId job, bool relayed, TimePoint now) = 0;
  // Queues a kPreparing job as the chunks given, in order (at least one; index and count are
  // set here, from the job's next index on, see QueueChunk): the job becomes the first of them
  // and one new job is added per further chunk; every chunk of the episode gets the final count.
  // kConflict unless the job is kPreparing; kInvalidArgument for no chunks.
  virtual Result<std::vector<JobId>> PlanChunks(JobId job, const std::vector<Chunk>& chunks,
                                                TimePoint now) = 0;
  // Queues chunk `chunk.index` of a kPreparing job's episode as soon as it is ready, before the
  // rest of the episode is cut. The job becomes that chunk (queued) and a new kPreparing job,
  // returned, holds the rest of the episode: chunk index + 1 from `chunk.end` on (REQUIRES: an
  // end). Until the last chunk is queued (PlanChunks with one chunk, its index the next one), the
  // chunk count of queued chunks is `chunk.count` if higher than index + 1, else index + 2; the
  // last chunk sets every chunk's count. kConflict unless the job is kPreparing; kInvalidArgument
  // when the chunk has no end or its index is not the job's next one.
  virtual Result<JobId> QueueChunk(JobId job, const Chunk& chunk, TimePoint now) = 0;
  // The relay could not prepare the job. Permanent: job and episode fail. Retryable: it stays
  // kPreparing after a backoff, or fails once `policy.max_failures` is reached. kConflict unless
  // the job is kPreparing.
  virtual Result<void> FailPreparing(JobId job, const Failure& failure, const RetryPolicy& policy,
                                     TimePoint now) = 0;
  // The relay's download of the episode failed for good after some of its chunks were queued
  // (a live stream past its deadline): those chunks are withdrawn (their jobs, attempts and
  // results removed; a worker holding one loses its lease) and the episode fails with `reason`,
  // as one job for the whole audio that RetryEpisode gives back to the relay from the start.
  // kConflict unless the job is kPreparing.
  virtual Result<void> WithdrawPreparing(JobId job, std::string_view reason, TimePoint now) = 0;

  // ---- jobs and leases ----
  // Leases up to `max_jobs` claimable jobs (queued, not_before <= now) to `node`, oldest first,
  // leaving out those whose JobRequirement the node's registered engine and model cannot serve
  // (core/model.h CanServe; a node not registered serves only jobs that ask nothing).
  // Records that the node was heard from (TouchNode) in the same transaction. `filter` leaves out
  // the jobs a worker declared it cannot do (ClaimFilter).
  virtual Result<std::vector<Grant>> Claim(NodeId node, int max_jobs, Millis lease_for,
                                           TimePoint now, ClaimFilter filter) = 0;
  Result<std::vector<Grant>> Claim(NodeId node, int max_jobs, Millis lease_for, TimePoint now) {
    return Claim(node, max_jobs, lease_for, now, ClaimFilter{});
  }
  // Extends the leases of the attempts listed and stores their progress. Returns the leases that
  // were renewed; an entry whose attempt no longer holds its job is left out (the worker must stop
  // that job). Records that the node was heard from (TouchNode) in the same transaction, so a
  // heartbeat is one commit.
  virtual Result<std::vector<Lease>> Renew(NodeId node, const std::vector<Progress>& held,
                                           Millis lease_for, TimePoint now) = 0;
  // Stores the transcript and marks the job done; when every job of the episode is done, the
  // episode is done with its chunks' transcripts stitched (core/stitch.h; times of a chunk's
  // transcript are relative to its start). kConflict if the attempt does not hold the lease (and
  // did not already complete the job), with one exception, the late result: an attempt whose lease
  // expired (it was reaped, not released or failed) may still complete a job that is not done. Its
  // result is accepted, the attempt now running (if any) is ended as released (its worker learns
  // it at its next heartbeat), and a quarantine is lifted. The first result wins; a job is
  // completed once. In the same transaction, when the call completes the job: the node was heard
  // from (TouchNode), `report.waited` is stored as RecordWait does, and the node's speed moves a
  // fifth of the way towards this job's realtime factor (audio_duration / engine_time, when both
  // are positive; the factor itself when the node had no speed yet). A repeated Complete of a
  // done job changes nothing, its report included. Returns what it did (Completion).
  virtual Result<Completion> Complete(NodeId node, JobId job, AttemptId attempt,
                                      const Transcript& transcript, TimePoint now,
                                      const CompletionReport& report) = 0;
  // The same with nothing reported besides the transcript.
  Result<Completion> Complete(NodeId node, JobId job, AttemptId attempt,
                              const Transcript& transcript, TimePoint now) {
    return Complete(node, job, attempt, transcript, now, CompletionReport{});
  }
  // Completes several jobs of `node` in one transaction, each as Complete would, and answers each
  // on its own (same order as `results`): one result's error (kConflict for a stale attempt,
  // kNotFound, kInvalidArgument) leaves the others recorded. The outer error is the call's (the
  // store unavailable, damaged): then none was recorded.
  virtual Result<std::vector<Result<Completion>>> CompleteMany(
      NodeId node, const std::vector<CompletionInput>& results, TimePoint now) = 0;
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

  // ---- coordinators sharing the store (doc/scale.md) ----
  // Records that the coordinator whose base URL is `url` is alive at `now` (adding it when new).
  virtual Result<void> HeartbeatCoordinator(std::string_view url, TimePoint now) = 0;
  // What coordinators silent for longer than kCoordinatorSilence held, given to the living:
  // their queued relayed chunks go back to kPreparing (prepared again, by whoever takes them);
  // the kPreparing jobs they had taken are free again; the jobs not yet leased whose episode's
  // audio is an upload held by one of them (audio_url "<its URL>/api/media/...") fail for good,
  // naming it. Leased jobs are left to their leases. Returns how many jobs changed.
  virtual Result<int> ReclaimAudio(TimePoint now) = 0;

  // ---- bytes served ----
  // Adds `bytes` (carrying `audio` of audio, zero if unknown) served to `node` (NodeId(0): an
  // unauthenticated client) to the total of the hour holding `now`.
  virtual Result<void> RecordTransfer(NodeId node, int64_t bytes, Millis audio, TimePoint now) = 0;
  // Hourly totals per node for the hours that end after `since`, oldest hour first.
  virtual Result<std::vector<TransferTotal>> TransfersSince(TimePoint since) = 0;

  // ---- autoscaler decisions ----
  // Appends `decisions` (in order) to the decision log, then deletes all but the newest `keep`
  // rows. With PostgreSQL every coordinator of the database shares one log.
  // kInvalidArgument when `keep` is less than 1.
  virtual Result<void> AddDecisions(const std::vector<AutoscaleDecision>& decisions, int keep) = 0;
  // The newest `limit` decisions, oldest first (in the order they were added).
  virtual Result<std::vector<AutoscaleDecision>> ListDecisions(int limit) = 0;

  // ---- transcripts ----
  // The transcript shown: the fleet's, else the publisher's (engine "publisher").
  virtual Result<Transcript> GetTranscript(EpisodeId id) = 0;
  // What a done job reported, times relative to its chunk's start. A chunk's segments are kept
  // only until its episode's transcript is stitched; afterwards they come back empty.
  // kNotFound when the job has no result (yet).
  virtual Result<Transcript> GetJobResult(JobId id) = 0;
  virtual Result<TranscriptOrigin> GetTranscriptOrigin(EpisodeId id) = 0;
  // The publisher's transcript only; kNotFound when the feed linked none that could be used.
  virtual Result<Transcript> GetPublisherTranscript(EpisodeId id) = 0;
  virtual Result<PublisherSavings> CountPublisherSavings() = 0;
  // Segments matching `query`, best first (bm25; ties by episode, then time). A query matching
  // more than kRankedMatches segments (whatever its filters) is answered newest-indexed first
  // instead, with `ranked` false: every hit still matches. A transcript's segments are indexed in
  // the transaction that stores it (a chunked episode's once it is stitched), so a search never
  // sees part of one. kInvalidArgument for a query with nothing to search for, or a negative limit
  // or offset.
  virtual Result<std::vector<SearchHit>> Search(const SearchQuery& query) = 0;
  // Rebuilds the search index from the stored transcripts; returns how many segments it holds.
  virtual Result<int64_t> RebuildSearchIndex() = 0;

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

// Connects to the PostgreSQL database `conninfo` names (a postgres:// URI or a libpq connection
// string) and applies pending schema migrations (store_pg.h). kUnavailable when the server cannot
// be reached; kCorruption for a database holding other tables or a newer podfleet schema.
Result<std::unique_ptr<Store>> OpenPgStore(const std::string& conninfo);

}  // namespace podfleet
