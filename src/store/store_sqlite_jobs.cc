// SqliteStore: jobs, leases and their outcomes, and transcripts. The state machines these
// transitions implement are drawn in migrations.h.
#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "core/language.h"
#include "core/stitch.h"
#include "store/backoff.h"
#include "store/store_sqlite.h"
#include "store/store_sqlite_rows.h"

namespace podfleet {
namespace {

// How far one job's realtime factor moves its node's speed.
constexpr double kSpeedWeight = 0.2;

// Runs `sql`, which must change exactly one row: any other count means the store's invariants are
// broken, which is kInternal.
template <class... Args>
Result<void> UpdateOne(Db& db, std::string_view sql, const Args&... args) {
  Result<int64_t> changed = db.Run(sql, args...);
  if (!changed) return std::unexpected(changed.error());
  if (*changed != 1) return Internal(fmt::format("{}: changed {} rows, not 1", sql, *changed));
  return {};
}

// The state of the episode being updated (episodes.id), from its jobs' (model.h).
constexpr std::string_view kEpisodeStateOfJobs =
    "(SELECT CASE "
    "  WHEN sum(state = 'failed') > 0 THEN 'failed' "
    "  WHEN sum(state = 'done') = count(*) THEN 'done' "
    "  WHEN sum(state IN ('leased', 'done')) > 0 THEN 'running' "
    "  ELSE 'queued' END FROM jobs WHERE episode_id = episodes.id)";

// Sets episode ?1's state from its jobs', its error to coalesce(?2, error) and its updated_at to
// ?3.
const std::string& SyncEpisodeSql() {
  static const std::string sql = fmt::format(
      "UPDATE episodes SET state = {}, error = coalesce(?2, error), updated_at = ?3 WHERE id = ?1",
      kEpisodeStateOfJobs);
  return sql;
}

// The same for each episode of the JSON array ?1 (ids), keeping their errors; updated_at = ?2.
const std::string& SyncEpisodesSql() {
  static const std::string sql = fmt::format(
      "UPDATE episodes SET state = {}, updated_at = ?2 "
      "WHERE id IN (SELECT value FROM json_each(?1))",
      kEpisodeStateOfJobs);
  return sql;
}

// Sets the episode's state from its jobs' (model.h); `error` replaces its error text unless it
// is nullopt.
Result<void> SyncEpisode(Db& db, EpisodeId episode, std::optional<std::string_view> error,
                         TimePoint now) {
  return UpdateOne(db, SyncEpisodeSql(), episode.value(), error, ToUnixMillis(now));
}

Result<Job> LoadJob(Db& db, std::string_view where, int64_t key, std::string_view what) {
  return QueryOne(db, ReadJob, what,
                  fmt::format("SELECT {} FROM {} WHERE {}", kJobColumns, kJobFrom, where), key);
}

// Where an attempt stands with its job, for fencing.
struct Fence {
  EpisodeId episode;
  bool holds = false;      // the attempt holds the job's lease
  bool completed = false;  // the attempt completed the job
  bool late = false;       // the attempt's lease expired and the job is not done (a late result)
  TimePoint leased_at;     // when the attempt was leased
  Chunk chunk;             // the job's piece of its episode, read from the same row
};

// kNotFound if there is no such job.
Result<Fence> LoadFence(Db& db, NodeId node, JobId job, AttemptId attempt) {
  constexpr std::string_view kSql =
      "SELECT j.episode_id, "
      "  j.state = 'leased' AND j.attempts = ?2 AND a.outcome = 'running' AND a.node_id = ?3, "
      "  j.state = 'done' AND a.outcome = 'done' AND a.node_id = ?3, "
      "  j.state <> 'done' AND a.outcome = 'expired' AND a.node_id = ?3, "
      "  coalesce(a.leased_at, 0), "
      "  j.chunk_index, j.chunk_count, j.start_ms, j.end_ms, j.relayed, j.seam_ms "
      "FROM jobs j LEFT JOIN attempts a ON a.job_id = j.id AND a.number = ?2 WHERE j.id = ?1";
  auto read = [](const Statement& row) -> Result<Fence> {
    return Fence{EpisodeId(row.Int(0)),      row.Int(1) == 1,  row.Int(2) == 1, row.Int(3) == 1,
                 FromUnixMillis(row.Int(4)), ReadChunk(row, 5)};
  };
  return QueryOne(db, read, fmt::format("job {}", job.value()), kSql, job.value(), attempt.value(),
                  node.value());
}

std::unexpected<Error> LeaseConflict(NodeId node, JobId job, AttemptId attempt) {
  return Conflict(fmt::format("job {} attempt {} on node {} does not hold the lease", job.value(),
                              attempt.value(), node.value()));
}

// The episode of `job` if `attempt` on `node` holds its lease; kConflict if not.
Result<EpisodeId> RequireHolder(Db& db, NodeId node, JobId job, AttemptId attempt) {
  Result<Fence> fence = LoadFence(db, node, job, attempt);
  if (!fence) return std::unexpected(fence.error());
  if (!fence->holds) return LeaseConflict(node, job, attempt);
  return fence->episode;
}

Result<void> EndAttempt(Db& db, JobId job, AttemptId attempt, std::string_view outcome,
                        std::string_view error, TimePoint now) {
  return UpdateOne(db,
                   "UPDATE attempts SET outcome = ?3, error = ?4, finished_at = ?5 "
                   "WHERE job_id = ?1 AND number = ?2 AND outcome = 'running'",
                   job.value(), attempt.value(), outcome, error, ToUnixMillis(now));
}

// Leases `jobs` (queued, in claim order) to `node`, with four statements for all of them; the
// grants come in the same order. kNotFound if one is not queued.
Result<std::vector<Grant>> LeaseJobs(Db& db, const std::vector<int64_t>& jobs, NodeId node,
                                     Millis lease_for, TimePoint now) {
  struct Leased {
    int64_t job;
    int64_t attempt;
    EpisodeId episode;
    Chunk chunk;
    JobRequirement want;
    std::string audio_at;
  };
  if (jobs.empty()) return std::vector<Grant>();
  // RETURNING gives no order: the rows are matched to `jobs` by id.
  Result<std::vector<Leased>> leased = QueryAll(
      db,
      [](const Statement& row) -> Result<Leased> {
        return Leased{row.Int(0),
                      row.Int(1),
                      EpisodeId(row.Int(2)),
                      ReadChunk(row, 3),
                      JobRequirement{row.Text(9), row.Text(10), row.Text(11)},
                      row.Text(12)};
      },
      "UPDATE jobs SET state = 'leased', attempts = attempts + 1, not_before = NULL "
      "WHERE id IN (SELECT value FROM json_each(?1)) AND state = 'queued' "
      "RETURNING id, attempts, episode_id, chunk_index, chunk_count, start_ms, end_ms, relayed, "
      "seam_ms, want_engine, want_model, want_language, audio_at",
      JsonIds(jobs));
  if (!leased) return std::unexpected(leased.error());
  if (leased->size() != jobs.size()) return NotFound("queued job not found");
  const TimePoint expires = now + lease_for;
  std::string attempts;  // [[job, number], ...]
  std::vector<int64_t> episodes;
  for (const Leased& l : *leased) {
    attempts += fmt::format("{}[{},{}]", attempts.empty() ? "[" : ",", l.job, l.attempt);
    if (std::find(episodes.begin(), episodes.end(), l.episode.value()) == episodes.end())
      episodes.push_back(l.episode.value());
  }
  attempts += ']';
  Result<int64_t> changed = db.Run(
      "INSERT INTO attempts (job_id, number, node_id, leased_at, expires_at) "
      "SELECT value ->> 0, value ->> 1, ?2, ?3, ?4 FROM json_each(?1)",
      attempts, node.value(), ToUnixMillis(now), ToUnixMillis(expires));
  if (changed && *changed != static_cast<int64_t>(jobs.size()))
    return Internal(fmt::format("lease: added {} attempts for {} jobs", *changed, jobs.size()));
  if (changed) changed = db.Run(SyncEpisodesSql(), JsonIds(episodes), ToUnixMillis(now));
  if (!changed) return std::unexpected(changed.error());
  static const std::string load = fmt::format(
      "SELECT {} FROM episodes e WHERE e.id IN (SELECT value FROM json_each(?1))", kEpisodeColumns);
  Result<std::vector<Episode>> loaded = QueryAll(db, ReadEpisode, load, JsonIds(episodes));
  if (!loaded) return std::unexpected(loaded.error());
  if (*changed != static_cast<int64_t>(episodes.size()) || loaded->size() != episodes.size())
    return Internal(fmt::format("lease: {} of {} episodes found", loaded->size(), episodes.size()));
  std::vector<Grant> grants;
  grants.reserve(jobs.size());
  for (int64_t job : jobs) {
    auto l =
        std::find_if(leased->begin(), leased->end(), [&](const Leased& x) { return x.job == job; });
    if (l == leased->end()) return NotFound("queued job not found");
    auto e = std::find_if(loaded->begin(), loaded->end(),
                          [&](const Episode& x) { return x.id == l->episode; });
    grants.push_back(Grant{Lease{JobId(job), AttemptId(l->attempt), node, expires}, *e, l->chunk,
                           std::move(l->want), std::move(l->audio_at)});
  }
  return grants;
}

// Keeps the episode's transcript, its search index rows added to `index`; an episode whose length
// nobody declared (no itunes:duration, an upload FFmpeg could not time) takes the transcribed
// audio's.
Result<void> StoreTranscript(Db& db, EpisodeId episode, const Transcript& t, SearchRows& index,
                             TimePoint now) {
  if (t.audio_duration > Millis(0)) {
    Result<int64_t> filled =
        db.Run("UPDATE episodes SET duration_ms = ?2 WHERE id = ?1 AND duration_ms IS NULL",
               episode.value(), t.audio_duration.count());
    if (!filled) return std::unexpected(filled.error());
  }
  Result<void> r =
      UpdateOne(db,
                "INSERT OR REPLACE INTO transcripts (episode_id, language, engine, model, "
                "audio_duration_ms, engine_time_ms, segments, created_at) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                episode.value(), t.language, t.engine, t.model, t.audio_duration.count(),
                t.engine_time.count(), EncodeSegments(t.segments), ToUnixMillis(now));
  if (!r) return r;
  index.Add(episode, t.segments);
  return {};
}

// Keeps what a finished job reported; its segments only when `keep_segments` (a chunk whose
// episode is not stitched yet).
Result<void> StoreResult(Db& db, JobId job, const Transcript& t, bool keep_segments,
                         TimePoint now) {
  return UpdateOne(db,
                   "INSERT OR REPLACE INTO job_results (job_id, language, engine, model, "
                   "audio_duration_ms, engine_time_ms, segments, created_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                   job.value(), t.language, t.engine, t.model, t.audio_duration.count(),
                   t.engine_time.count(), keep_segments ? EncodeSegments(t.segments) : "[]",
                   ToUnixMillis(now));
}

// Once every job of `episode` is done, stitches their results into its transcript and lets the
// chunks' segments go.
Result<void> StitchIfDone(Db& db, EpisodeId episode, SearchRows& index, TimePoint now) {
  Result<int64_t> pending = QueryOne(
      db, ReadInt, "jobs", "SELECT count(*) FROM jobs WHERE episode_id = ?1 AND state != 'done'",
      episode.value());
  if (!pending) return std::unexpected(pending.error());
  if (*pending > 0) return {};
  auto read = [](const Statement& row) -> Result<ChunkTranscript> {
    Result<Transcript> t = ReadTranscript(row);
    if (!t) return std::unexpected(t.error());
    return ChunkTranscript{Millis(row.Int(6)), std::move(*t)};
  };
  Result<std::vector<ChunkTranscript>> chunks = QueryAll(
      db, read,
      "SELECT r.language, r.engine, r.model, r.audio_duration_ms, r.engine_time_ms, r.segments, "
      "j.start_ms FROM jobs j JOIN job_results r ON r.job_id = j.id WHERE j.episode_id = ?1 "
      "ORDER BY j.chunk_index",
      episode.value());
  if (!chunks) return std::unexpected(chunks.error());
  Result<void> r = StoreTranscript(db, episode, Stitch(std::move(*chunks)), index, now);
  if (!r) return r;
  Result<int64_t> cleared = db.Run(
      "UPDATE job_results SET segments = '[]' "
      "WHERE job_id IN (SELECT id FROM jobs WHERE episode_id = ?1)",
      episode.value());
  if (!cleared) return std::unexpected(cleared.error());
  return {};
}

Result<void> FailJob(Db& db, JobId job, EpisodeId episode, std::string_view reason, TimePoint now) {
  Result<void> r = UpdateOne(db, "UPDATE jobs SET state = 'failed', error = ?2 WHERE id = ?1",
                             job.value(), reason);
  if (r) r = SyncEpisode(db, episode, reason, now);
  return r;
}

// Counts a retryable failure, then puts the job back in `state` (queued, or preparing) after a
// backoff or, with no retries left, fails it.
Result<void> RetryLater(Db& db, JobId job, EpisodeId episode, std::string_view reason,
                        const RetryPolicy& policy, TimePoint now,
                        JobState state = JobState::kQueued) {
  Result<int64_t> failures = QueryOne(
      db, ReadInt, "job",
      "UPDATE jobs SET failures = failures + 1 WHERE id = ?1 RETURNING failures", job.value());
  if (!failures) return std::unexpected(failures.error());
  if (*failures >= policy.max_failures) {
    return FailJob(db, job, episode,
                   fmt::format("gave up after {} failures: {}", *failures, reason), now);
  }
  const TimePoint not_before = now + BackoffDelay(policy, job, static_cast<int>(*failures));
  Result<void> r = UpdateOne(db,
                             "UPDATE jobs SET state = ?4, not_before = ?2, error = ?3 "
                             "WHERE id = ?1",
                             job.value(), ToUnixMillis(not_before), reason, ToString(state));
  if (r) r = SyncEpisode(db, episode, reason, now);
  return r;
}

// Puts a job whose lease ended without an outcome back in the queue, claimable at once.
Result<void> Requeue(Db& db, JobId job, EpisodeId episode, bool expired, TimePoint now) {
  Result<void> r = UpdateOne(db,
                             "UPDATE jobs SET state = 'queued', not_before = NULL, "
                             "lease_expiries = lease_expiries + ?2 WHERE id = ?1",
                             job.value(), expired ? 1 : 0);
  if (r) r = SyncEpisode(db, episode, std::nullopt, now);
  return r;
}

// Turns an expired attempt's late result into the job's one completion: the attempt that holds
// the lease now, if any, is ended as released (its heartbeat then reports it lost).
Result<void> AcceptLate(Db& db, JobId job, AttemptId attempt, TimePoint now) {
  Result<int64_t> superseded = db.Run(
      "UPDATE attempts SET outcome = 'released', finished_at = ?3, "
      "error = 'superseded by the late result of attempt ' || ?2 "
      "WHERE job_id = ?1 AND outcome = 'running'",
      job.value(), attempt.value(), ToUnixMillis(now));
  if (!superseded) return std::unexpected(superseded.error());
  return UpdateOne(db,
                   "UPDATE attempts SET outcome = 'done', finished_at = ?3, "
                   "error = 'lease expired; late result accepted' "
                   "WHERE job_id = ?1 AND number = ?2 AND outcome = 'expired'",
                   job.value(), attempt.value(), ToUnixMillis(now));
}

Result<std::vector<Attempt>> LoadAttempts(Db& db, JobId job) {
  static const std::string sql = fmt::format(
      "SELECT {} FROM attempts a WHERE a.job_id = ?1 ORDER BY a.number", kAttemptColumns);
  return QueryAll(db, ReadAttempt, sql, job.value());
}

// "node 3 at 2026-01-01T00:01:00.000Z (attempt 2), ..." for each expired attempt.
std::string ExpiryEvidence(const std::vector<Attempt>& attempts) {
  std::string out;
  for (const Attempt& a : attempts) {
    if (a.outcome != AttemptOutcome::kExpired || !a.finished_at) continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("node {} at {} (attempt {})", a.node.value(), FormatIso8601(*a.finished_at),
                       a.number.value());
  }
  return out;
}

// Sets aside a job whose leases keep expiring: failed, so no worker takes it again until an
// operator retries it.
Result<void> Quarantine(Db& db, JobId job, EpisodeId episode, int expiries, TimePoint now) {
  Result<std::vector<Attempt>> attempts = LoadAttempts(db, job);
  if (!attempts) return std::unexpected(attempts.error());
  const std::string reason = fmt::format(
      "quarantined: its lease expired {} times, so workers may be crashing on it; expired on {}. "
      "Retry it once the cause is found",
      expiries, ExpiryEvidence(*attempts));
  Result<void> r = UpdateOne(
      db, "UPDATE jobs SET state = 'failed', quarantined_at = ?2, error = ?3 WHERE id = ?1",
      job.value(), ToUnixMillis(now), reason);
  if (r) r = SyncEpisode(db, episode, reason, now);
  return r;
}

// Requeues a job whose lease expired, counting the expiry, or quarantines it at the limit.
Result<void> RequeueExpired(Db& db, JobId job, EpisodeId episode, const RetryPolicy& policy,
                            TimePoint now) {
  if (Result<void> r = Requeue(db, job, episode, /*expired=*/true, now); !r) return r;
  Result<int64_t> expiries =
      QueryOne(db, ReadInt, "job", "SELECT lease_expiries FROM jobs WHERE id = ?1", job.value());
  if (!expiries) return std::unexpected(expiries.error());
  if (*expiries < policy.max_lease_expiries) return {};
  return Quarantine(db, job, episode, static_cast<int>(*expiries), now);
}

// What Complete records besides the result: the node was heard from (unless `seen`: already in
// this transaction), the reported wait, and the node's speed (store.h).
Result<void> AfterCompleted(Db& db, NodeId node, JobId job, AttemptId attempt, const Transcript& t,
                            const CompletionReport& report, bool seen, TimePoint now) {
  if (!seen) {
    if (Result<int64_t> r = MarkSeen(db, node, now); !r) return std::unexpected(r.error());
  }
  if (report.waited) {
    Result<int64_t> r =
        db.Run("UPDATE attempts SET waited_ms = ?3 WHERE job_id = ?1 AND number = ?2", job.value(),
               attempt.value(), report.waited->count());
    if (!r) return std::unexpected(r.error());
  }
  if (t.engine_time <= Millis(0) || t.audio_duration <= Millis(0)) return {};
  const double realtime =
      static_cast<double>(t.audio_duration.count()) / static_cast<double>(t.engine_time.count());
  Result<int64_t> r = db.Run(
      "UPDATE nodes SET speed = CASE WHEN speed > 0 THEN speed + ?3 * (?2 - speed) ELSE ?2 END "
      "WHERE id = ?1",
      node.value(), realtime, kSpeedWeight);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<bool> EpisodeDone(Db& db, EpisodeId episode) {
  Result<std::string> state = QueryOne(
      db, [](const Statement& row) -> Result<std::string> { return row.Text(0); }, "episode",
      "SELECT state FROM episodes WHERE id = ?1", episode.value());
  if (!state) return std::unexpected(state.error());
  return *state == ToString(EpisodeState::kDone);
}

// What a repeated Complete of a done job reports: nothing recorded.
Result<Completion> RepeatedCompletion(Db& db, const Fence& fence) {
  Result<bool> done = EpisodeDone(db, fence.episode);
  if (!done) return std::unexpected(done.error());
  return Completion{std::nullopt, fence.episode, fence.chunk, *done};
}

// SyncEpisode for a completion: whether the episode is now done, from the same UPDATE.
Result<bool> SyncCompletedEpisode(Db& db, EpisodeId episode, TimePoint now) {
  static const std::string sql = SyncEpisodeSql() + " RETURNING state";
  return QueryOne(
      db, [](const Statement& row) -> Result<bool> { return row.Text(0) == "done"; }, "episode",
      sql, episode.value(), "", ToUnixMillis(now));
}

// Stores the result of `job` and marks it, its attempt and its episode done (Store::Complete),
// then what Complete records besides; the search index rows go to `index`. Returns whether the
// episode is done.
Result<bool> RecordCompletion(Db& db, NodeId node, JobId job, AttemptId attempt, const Fence& fence,
                              const Transcript& t, const CompletionReport& report, bool seen,
                              SearchRows& index, TimePoint now) {
  const Chunk& chunk = fence.chunk;
  Result<void> r = StoreResult(db, job, t, /*keep_segments=*/chunk.count > 1, now);
  if (r) {
    r = UpdateOne(db,
                  "UPDATE jobs SET state = 'done', error = '', not_before = NULL, "
                  "quarantined_at = NULL WHERE id = ?1",
                  job.value());
  }
  if (r && fence.late) r = AcceptLate(db, job, attempt, now);
  if (r && fence.holds) r = EndAttempt(db, job, attempt, "done", "", now);
  if (r && chunk.count == 1) r = StoreTranscript(db, fence.episode, t, index, now);
  if (r && chunk.count > 1) r = StitchIfDone(db, fence.episode, index, now);
  if (!r) return std::unexpected(r.error());
  Result<bool> done = SyncCompletedEpisode(db, fence.episode, now);
  if (!done) return done;
  if (r = AfterCompleted(db, node, job, attempt, t, report, seen, now); !r)
    return std::unexpected(r.error());
  return *done;
}

// Complete's work inside a write transaction but the search index rows, which go to `index` for
// the caller to write at the end of its work; `seen`: the node was already recorded as heard from
// in it.
Result<Completion> CompleteInTransaction(Db& db, NodeId node, JobId job, AttemptId attempt,
                                         const Transcript& transcript,
                                         const CompletionReport& report, bool seen,
                                         SearchRows& index, TimePoint now) {
  if (report.waited && report.waited->count() < 0)
    return InvalidArgument("complete: negative wait");
  Result<Fence> fence = LoadFence(db, node, job, attempt);
  if (!fence) return std::unexpected(fence.error());
  if (fence->completed) return RepeatedCompletion(db, *fence);
  if (!fence->holds && !fence->late) return LeaseConflict(node, job, attempt);
  Result<bool> done =
      RecordCompletion(db, node, job, attempt, *fence, transcript, report, seen, index, now);
  if (!done) return std::unexpected(done.error());
  return Completion{CompletedJob{job, fence->episode, node, now, transcript.audio_duration,
                                 transcript.engine_time, now - fence->leased_at,
                                 report.waited.value_or(Millis(0))},
                    fence->episode, fence->chunk, *done};
}

// Whether a failed result of CompleteMany is that result's alone (the others stand).
bool OwnFailure(const Error& e) {
  return e.code == Code::kConflict || e.code == Code::kNotFound || e.code == Code::kInvalidArgument;
}

Result<CompletedJob> ReadCompleted(const Statement& row) {
  return CompletedJob{JobId(row.Int(0)),          EpisodeId(row.Int(1)), NodeId(row.Int(2)),
                      FromUnixMillis(row.Int(3)), Millis(row.Int(4)),    Millis(row.Int(5)),
                      Millis(row.Int(6)),         Millis(row.Int(7))};
}

}  // namespace

Result<void> SqliteStore::RetryEpisode(EpisodeId id, TimePoint now) {
  return Write([&](Db& db) -> Result<void> {
    Result<Episode> episode = LoadEpisode(db, id);
    if (!episode) return std::unexpected(episode.error());
    if (episode->state != EpisodeState::kFailed) {
      return Conflict(
          fmt::format("episode {} is {}, not failed", id.value(), ToString(episode->state)));
    }
    // attempts keeps counting: attempt numbers must never repeat. A relayed job the relay never
    // cut (no end yet) goes back to the relay.
    Result<int64_t> requeued = db.Run(
        "UPDATE jobs SET state = CASE WHEN relayed = 1 AND end_ms IS NULL THEN 'preparing' "
        "ELSE 'queued' END, failures = 0, lease_expiries = 0, not_before = NULL, "
        "quarantined_at = NULL, error = '' "
        "WHERE episode_id = ?1 AND state = 'failed'",
        id.value());
    if (!requeued) return std::unexpected(requeued.error());
    if (*requeued == 0)
      return Internal(fmt::format("failed episode {} has no failed job", id.value()));
    return SyncEpisode(db, id, "", now);
  });
}

Result<void> SqliteStore::TranscribeAgain(EpisodeId id, TimePoint now, JobIntake intake,
                                          const JobRequirement& want) {
  return Write([&](Db& db) -> Result<void> {
    Result<Episode> episode = LoadEpisode(db, id);
    if (!episode) return std::unexpected(episode.error());
    if (episode->state != EpisodeState::kDone) {
      return Conflict(fmt::format("episode {} is {}, not done (a failed one is retried)",
                                  id.value(), ToString(episode->state)));
    }
    if (episode->info.audio_url.empty())
      return InvalidArgument(fmt::format("episode {} has no audio URL", id.value()));
    // The first job stays (its attempt count goes on, so attempt numbers never repeat) as the
    // whole episode again; the other chunks go. The transcript stays until the new one is stored.
    Result<int64_t> r =
        db.Run("DELETE FROM jobs WHERE episode_id = ?1 AND chunk_index > 0", id.value());
    const bool prepare = intake == JobIntake::kPrepare;
    if (r) {
      r = db.Run(
          "UPDATE jobs SET state = ?2, relayed = ?3, chunk_count = 1, start_ms = 0, end_ms = NULL, "
          "seam_ms = 0, "
          "failures = 0, lease_expiries = 0, not_before = NULL, quarantined_at = NULL, error = '', "
          "want_engine = ?4, want_model = ?5, want_language = ?6 WHERE episode_id = ?1",
          id.value(), ToString(prepare ? JobState::kPreparing : JobState::kQueued), prepare,
          want.engine, want.model, want.language);
    }
    if (!r) return std::unexpected(r.error());
    if (*r == 0) {  // an episode done by its publisher's transcript has no job yet
      if (Result<void> added = InsertJob(db, id, intake, want); !added) return added;
    }
    return SyncEpisode(db, id, "", now);
  });
}

Result<Job> SqliteStore::GetJobForEpisode(EpisodeId id) {
  return Read([&](Db& db) {
    return LoadJob(db, "j.episode_id = ?1 ORDER BY j.chunk_index LIMIT 1", id.value(),
                   fmt::format("job of episode {}", id.value()));
  });
}

Result<std::vector<Job>> SqliteStore::ListJobsForEpisode(EpisodeId id) {
  static const std::string sql = fmt::format(
      "SELECT {} FROM {} WHERE j.episode_id = ?1 ORDER BY j.chunk_index", kJobColumns, kJobFrom);
  return Read([&](Db& db) { return QueryAll(db, ReadJob, sql, id.value()); });
}

Result<std::vector<PreparingJob>> SqliteStore::ListPreparing(int limit, TimePoint now,
                                                             std::string_view holder) {
  return Read([&](Db& db) -> Result<std::vector<PreparingJob>> {
    auto read = [](const Statement& row) -> Result<std::pair<int64_t, int64_t>> {
      return std::pair{row.Int(0), row.Int(1)};
    };
    auto rows = QueryAll(db, read,
                         "SELECT id, episode_id FROM jobs WHERE state = 'preparing' "
                         "AND (not_before IS NULL OR not_before <= ?1) AND audio_at IN ('', ?3) "
                         "ORDER BY priority DESC, id LIMIT ?2",
                         ToUnixMillis(now), limit, holder);
    if (!rows) return std::unexpected(rows.error());
    std::vector<PreparingJob> out;
    for (const auto& [job, episode] : *rows) {
      Result<Episode> e = LoadEpisode(db, EpisodeId(episode));
      if (!e) return std::unexpected(e.error());
      Result<Job> j = LoadJob(db, "j.id = ?1", job, fmt::format("job {}", job));
      if (!j) return std::unexpected(j.error());
      Chunk next;
      next.index = j->chunk.index;
      next.count = j->chunk.count;
      next.start = j->chunk.start;
      next.end = j->chunk.end;
      out.push_back(PreparingJob{JobId(job), std::move(*e), next});
    }
    return out;
  });
}

namespace {

// The kPreparing job `job`, or kConflict.
Result<Job> LoadPreparing(Db& db, JobId job) {
  Result<Job> current = LoadJob(db, "j.id = ?1", job.value(), fmt::format("job {}", job.value()));
  if (!current) return std::unexpected(current.error());
  if (current->state != JobState::kPreparing)
    return Conflict(
        fmt::format("job {} is {}, not preparing", job.value(), ToString(current->state)));
  return current;
}

// Makes the kPreparing `job` the queued chunk `chunk` (index, count, times as given).
Result<void> QueuePreparing(Db& db, JobId job, const Chunk& chunk) {
  std::optional<int64_t> end;
  if (chunk.end) end = chunk.end->count();
  return UpdateOne(db,
                   "UPDATE jobs SET state = 'queued', not_before = NULL, error = '', "
                   "chunk_index = ?2, chunk_count = ?3, start_ms = ?4, end_ms = ?5, "
                   "relayed = ?6, seam_ms = ?7 WHERE id = ?1",
                   job.value(), chunk.index, chunk.count, chunk.start.count(), end,
                   chunk.relayed ? 1 : 0, chunk.seam.count());
}

// Adds a job of `job`'s episode and priority in `state` as chunk `chunk`.
Result<int64_t> AddChunkJob(Db& db, JobId job, const Chunk& chunk, std::string_view state) {
  std::optional<int64_t> end;
  if (chunk.end) end = chunk.end->count();
  return QueryOne(db, ReadInt, "chunk job",
                  "INSERT INTO jobs (episode_id, state, priority, chunk_index, chunk_count, "
                  "start_ms, end_ms, relayed, seam_ms, want_engine, want_model, want_language, "
                  "audio_at) "
                  "SELECT episode_id, ?7, priority, ?2, ?3, ?4, ?5, ?6, ?8, want_engine, "
                  "want_model, want_language, audio_at FROM jobs WHERE id = ?1 RETURNING id",
                  job.value(), chunk.index, chunk.count, chunk.start.count(), end,
                  chunk.relayed ? 1 : 0, state, chunk.seam.count());
}

}  // namespace

Result<JobId> SqliteStore::QueueChunk(JobId job, const Chunk& chunk, TimePoint now) {
  if (!chunk.end) return InvalidArgument("queue chunk: a chunk before the last needs an end");
  return Write([&](Db& db) -> Result<JobId> {
    Result<Job> current = LoadPreparing(db, job);
    if (!current) return std::unexpected(current.error());
    if (chunk.index != current->chunk.index)
      return InvalidArgument(fmt::format("queue chunk: job {} is chunk {}, not {}", job.value(),
                                         current->chunk.index, chunk.index));
    Chunk queued = chunk;
    queued.count = std::max(chunk.count, chunk.index + 2);
    // The rest first: (episode, chunk_index) is unique, and the rest takes the next index.
    Chunk rest;
    rest.index = chunk.index + 1;
    rest.count = queued.count;
    rest.start = *chunk.end;
    Result<int64_t> id = AddChunkJob(db, job, rest, "preparing");
    if (!id) return std::unexpected(id.error());
    if (Result<void> r = QueuePreparing(db, job, queued); !r) return std::unexpected(r.error());
    if (Result<void> s = SyncEpisode(db, current->episode, "", now); !s)
      return std::unexpected(s.error());
    return JobId(*id);
  });
}

Result<std::vector<JobId>> SqliteStore::PlanChunks(JobId job, const std::vector<Chunk>& chunks,
                                                   TimePoint now) {
  if (chunks.empty()) return InvalidArgument("plan chunks: no chunks");
  return Write([&](Db& db) -> Result<std::vector<JobId>> {
    Result<Job> current = LoadPreparing(db, job);
    if (!current) return std::unexpected(current.error());
    const int first = current->chunk.index;
    const int count = first + static_cast<int>(chunks.size());
    std::vector<JobId> ids{job};
    for (size_t i = 0; i < chunks.size(); ++i) {
      Chunk c = chunks[i];
      c.index = first + static_cast<int>(i);
      c.count = count;
      if (i == 0) {
        if (Result<void> r = QueuePreparing(db, job, c); !r) return std::unexpected(r.error());
        continue;
      }
      Result<int64_t> id = AddChunkJob(db, job, c, "queued");
      if (!id) return std::unexpected(id.error());
      ids.push_back(JobId(*id));
    }
    if (Result<int64_t> r = db.Run("UPDATE jobs SET chunk_count = ?2 WHERE episode_id = ?1",
                                   current->episode.value(), count);
        !r)
      return std::unexpected(r.error());
    if (Result<void> s = SyncEpisode(db, current->episode, "", now); !s)
      return std::unexpected(s.error());
    return ids;
  });
}

Result<void> SqliteStore::TakePreparing(JobId job, std::string_view holder) {
  return Write([&](Db& db) -> Result<void> {
    Result<int64_t> taken = db.Run(
        "UPDATE jobs SET audio_at = ?2 WHERE id = ?1 AND state = 'preparing' "
        "AND audio_at IN ('', ?2)",
        job.value(), holder);
    if (!taken) return std::unexpected(taken.error());
    if (*taken == 0)
      return Conflict(
          fmt::format("job {} is not preparing, or another coordinator took it", job.value()));
    return {};
  });
}

Result<void> SqliteStore::QueuePreparedAgain(JobId job, bool relayed, TimePoint now) {
  return Write([&](Db& db) -> Result<void> {
    Result<Job> current = LoadPreparing(db, job);
    if (!current) return std::unexpected(current.error());
    if (!current->chunk.end)
      return InvalidArgument(fmt::format("job {} is no chunk to prepare again", job.value()));
    Chunk chunk = current->chunk;
    chunk.relayed = relayed;
    if (Result<void> r = QueuePreparing(db, job, chunk); !r) return r;
    return SyncEpisode(db, current->episode, "", now);
  });
}

Result<void> SqliteStore::FailPreparing(JobId job, const Failure& failure,
                                        const RetryPolicy& policy, TimePoint now) {
  return Write([&](Db& db) -> Result<void> {
    Result<Job> current = LoadJob(db, "j.id = ?1", job.value(), fmt::format("job {}", job.value()));
    if (!current) return std::unexpected(current.error());
    if (current->state != JobState::kPreparing)
      return Conflict(
          fmt::format("job {} is {}, not preparing", job.value(), ToString(current->state)));
    if (failure.permanent) return FailJob(db, job, current->episode, failure.reason, now);
    return RetryLater(db, job, current->episode, failure.reason, policy, now, JobState::kPreparing);
  });
}

Result<void> SqliteStore::WithdrawPreparing(JobId job, std::string_view reason, TimePoint now) {
  return Write([&](Db& db) -> Result<void> {
    Result<Job> current = LoadPreparing(db, job);
    if (!current) return std::unexpected(current.error());
    const int64_t episode = current->episode.value();
    // Chunk 0's job stays as the whole episode (its attempt numbers go on, as in TranscribeAgain);
    // the others go with their attempts and results (ON DELETE CASCADE).
    Result<int64_t> r =
        db.Run("DELETE FROM jobs WHERE episode_id = ?1 AND chunk_index > 0", episode);
    if (r)
      r = db.Run(
          "UPDATE attempts SET outcome = 'released', finished_at = ?2, error = 'withdrawn' "
          "WHERE outcome = 'running' AND job_id IN (SELECT id FROM jobs WHERE episode_id = ?1)",
          episode, ToUnixMillis(now));
    if (r)
      r = db.Run(
          "DELETE FROM job_results WHERE job_id IN (SELECT id FROM jobs WHERE episode_id = ?1)",
          episode);
    if (r)
      r = db.Run(
          "UPDATE jobs SET state = 'failed', relayed = 1, chunk_count = 1, start_ms = 0, "
          "end_ms = NULL, seam_ms = 0, not_before = NULL, error = ?2 WHERE episode_id = ?1",
          episode, reason);
    if (!r) return std::unexpected(r.error());
    return SyncEpisode(db, current->episode, reason, now);
  });
}

Result<Job> SqliteStore::GetJob(JobId id) {
  return Read([&](Db& db) {
    return LoadJob(db, "j.id = ?1", id.value(), fmt::format("job {}", id.value()));
  });
}

namespace {

// Up to `limit` claimable jobs that `node` can serve (CanServe, in SQL) and `filter` lets it
// take, in claim order.
Result<std::vector<int64_t>> ClaimableFor(Db& db, NodeId node, int limit, TimePoint now,
                                          ClaimFilter filter) {
  auto read = [](const Statement& row) -> Result<std::pair<std::string, std::string>> {
    return std::pair{row.Text(0), row.Text(1)};
  };
  auto found = QueryAll(db, read, "SELECT engine, model FROM nodes WHERE id = ?1", node.value());
  if (!found) return std::unexpected(found.error());
  const bool known = !found->empty();
  const auto [engine, model] = known ? found->front() : std::pair<std::string, std::string>();
  // '' for a multilingual model: it is told the language.
  const std::string language = FixedLanguage(engine, model).value_or("");
  // INDEXED BY: without statistics SQLite picks jobs_state, then reads and sorts every queued job
  // on each claim; the partial index walks them in claim order and stops at `limit`.
  return QueryAll(db, ReadInt,
                  "SELECT id FROM jobs INDEXED BY jobs_claimable "
                  "WHERE state = 'queued' AND (not_before IS NULL OR not_before <= ?1) "
                  "AND (?3 OR (want_engine = '' AND want_model = '' AND want_language = '')) "
                  "AND want_engine IN ('', ?4) AND want_model IN ('', ?5) "
                  "AND (want_language = '' OR ?6 IN ('', want_language)) "
                  "AND (audio_at = '' OR audio_at IN "
                  "(SELECT url FROM coordinators WHERE seen_at >= ?7)) "
                  "AND (?8 OR seam_ms = 0) "
                  "ORDER BY priority DESC, id LIMIT ?2",
                  ToUnixMillis(now), limit, known ? 1 : 0, engine, model, language,
                  ToUnixMillis(now - kCoordinatorSilence), filter.seam_chunks ? 1 : 0);
}

}  // namespace

Result<std::vector<Grant>> SqliteStore::Claim(NodeId node, int max_jobs, Millis lease_for,
                                              TimePoint now, ClaimFilter filter) {
  if (lease_for <= Millis(0)) return InvalidArgument("claim: the lease length must be positive");
  if (max_jobs <= 0) return std::vector<Grant>();
  return Write([&](Db& db) -> Result<std::vector<Grant>> {
    if (Result<int64_t> seen = MarkSeen(db, node, now); !seen) return std::unexpected(seen.error());
    Result<std::vector<int64_t>> jobs = ClaimableFor(db, node, max_jobs, now, filter);
    if (!jobs) return std::unexpected(jobs.error());
    return LeaseJobs(db, *jobs, node, lease_for, now);
  });
}

Result<void> SqliteStore::SetJobPriority(JobId id, int priority) {
  return Write([&](Db& db) -> Result<void> {
    Result<int64_t> changed =
        db.Run("UPDATE jobs SET priority = ?2 WHERE id = ?1", id.value(), priority);
    if (!changed) return std::unexpected(changed.error());
    if (*changed == 0) return NotFound(fmt::format("job {} not found", id.value()));
    return {};
  });
}

Result<std::vector<Lease>> SqliteStore::Renew(NodeId node, const std::vector<Progress>& held,
                                              Millis lease_for, TimePoint now) {
  if (lease_for <= Millis(0)) return InvalidArgument("renew: the lease length must be positive");
  // A 'running' attempt is always its job's current lease (migrations.h), so matching the
  // attempt row alone fences stale attempts.
  constexpr std::string_view kSql =
      "UPDATE attempts SET expires_at = ?4, stage = ?5, fraction = ?6 "
      "WHERE job_id = ?1 AND number = ?2 AND node_id = ?3 AND outcome = 'running'";
  const TimePoint expires = now + lease_for;
  return Write([&](Db& db) -> Result<std::vector<Lease>> {
    if (Result<int64_t> seen = MarkSeen(db, node, now); !seen) return std::unexpected(seen.error());
    std::vector<Lease> renewed;
    for (const Progress& p : held) {
      Result<int64_t> changed = db.Run(kSql, p.job.value(), p.attempt.value(), node.value(),
                                       ToUnixMillis(expires), ToString(p.stage), p.fraction);
      if (!changed) return std::unexpected(changed.error());
      if (*changed == 1) renewed.push_back(Lease{p.job, p.attempt, node, expires});
    }
    return renewed;
  });
}

Result<Completion> SqliteStore::Complete(NodeId node, JobId job, AttemptId attempt,
                                         const Transcript& transcript, TimePoint now,
                                         const CompletionReport& report) {
  return Write([&](Db& db) -> Result<Completion> {
    SearchRows index;
    Result<Completion> done = CompleteInTransaction(db, node, job, attempt, transcript, report,
                                                    /*seen=*/false, index, now);
    if (Result<void> r = done ? index.Write(db) : Result<void>{}; !r)
      return std::unexpected(r.error());
    return done;
  });
}

Result<std::vector<Result<Completion>>> SqliteStore::CompleteMany(
    NodeId node, const std::vector<CompletionInput>& results, TimePoint now) {
  return Write([&](Db& db) -> Result<std::vector<Result<Completion>>> {
    std::vector<Result<Completion>> out;
    out.reserve(results.size());
    bool seen = false;
    SearchRows index;  // every result's, written once at the end
    // Each result in its own savepoint, so that a refused one leaves no half of itself behind.
    for (const CompletionInput& in : results) {
      if (Result<int64_t> r = db.Run("SAVEPOINT complete_one"); !r)
        return std::unexpected(r.error());
      SearchRows mine;
      Result<Completion> done = CompleteInTransaction(db, node, in.job, in.attempt, in.transcript,
                                                      in.report, seen, mine, now);
      if (!done && !OwnFailure(done.error())) return std::unexpected(done.error());
      if (!done) {
        if (Result<int64_t> r = db.Run("ROLLBACK TO complete_one"); !r)
          return std::unexpected(r.error());
      }
      if (Result<int64_t> r = db.Run("RELEASE complete_one"); !r) return std::unexpected(r.error());
      if (done && done->completed) seen = true;
      if (done) index.Append(std::move(mine));
      out.push_back(std::move(done));
    }
    if (Result<void> r = index.Write(db); !r) return std::unexpected(r.error());
    return out;
  });
}

Result<void> SqliteStore::Fail(NodeId node, JobId job, AttemptId attempt, const Failure& failure,
                               const RetryPolicy& policy, TimePoint now) {
  return Write([&](Db& db) -> Result<void> {
    Result<EpisodeId> episode = RequireHolder(db, node, job, attempt);
    if (!episode) return std::unexpected(episode.error());
    Result<void> r = EndAttempt(db, job, attempt, "failed", failure.reason, now);
    if (!r) return r;
    if (failure.permanent) return FailJob(db, job, *episode, failure.reason, now);
    return RetryLater(db, job, *episode, failure.reason, policy, now);
  });
}

Result<void> SqliteStore::Release(NodeId node, JobId job, AttemptId attempt, TimePoint now) {
  return Write([&](Db& db) -> Result<void> {
    Result<EpisodeId> episode = RequireHolder(db, node, job, attempt);
    if (!episode) return std::unexpected(episode.error());
    Result<void> r = EndAttempt(db, job, attempt, "released", "", now);
    if (r) r = Requeue(db, job, *episode, /*expired=*/false, now);
    return r;
  });
}

Result<int> SqliteStore::ExpireLeases(TimePoint now, const RetryPolicy& policy) {
  return Write([&](Db& db) -> Result<int> {
    struct Expired {
      JobId job;
      EpisodeId episode;
    };
    auto read = [](const Statement& row) -> Result<Expired> {
      return Expired{JobId(row.Int(0)), EpisodeId(row.Int(1))};
    };
    Result<std::vector<Expired>> expired = QueryAll(
        db, read,
        "UPDATE attempts SET outcome = 'expired', error = 'lease expired', finished_at = ?1 "
        "WHERE outcome = 'running' AND expires_at < ?1 "
        "RETURNING job_id, (SELECT episode_id FROM jobs WHERE id = attempts.job_id)",
        ToUnixMillis(now));
    if (!expired) return std::unexpected(expired.error());
    for (const Expired& e : *expired) {
      if (Result<void> r = RequeueExpired(db, e.job, e.episode, policy, now); !r) {
        return std::unexpected(r.error());
      }
    }
    return static_cast<int>(expired->size());
  });
}

Result<std::vector<Attempt>> SqliteStore::ListAttempts(JobId job) {
  return Read([&](Db& db) -> Result<std::vector<Attempt>> {
    Result<Job> found = LoadJob(db, "j.id = ?1", job.value(), fmt::format("job {}", job.value()));
    if (!found) return std::unexpected(found.error());
    return LoadAttempts(db, job);
  });
}

Result<std::vector<Job>> SqliteStore::ListLeasedJobs() {
  static const std::string sql = fmt::format(
      "SELECT {} FROM {} WHERE j.state = 'leased' ORDER BY j.id", kJobColumns, kJobFrom);
  return Read([&](Db& db) { return QueryAll(db, ReadJob, sql); });
}

Result<QueueCounts> SqliteStore::CountJobs() {
  struct StateCount {
    std::string state;
    int64_t count;
  };
  auto read = [](const Statement& row) -> Result<StateCount> {
    return StateCount{row.Text(0), row.Int(1)};
  };
  return Read([&](Db& db) -> Result<QueueCounts> {
    Result<std::vector<StateCount>> rows =
        QueryAll(db, read, "SELECT state, count(*) FROM jobs GROUP BY state");
    if (!rows) return std::unexpected(rows.error());
    QueueCounts counts;
    for (const auto& [state, count] : *rows) {
      if (state == ToString(JobState::kQueued) || state == ToString(JobState::kPreparing))
        counts.queued += count;
      if (state == ToString(JobState::kLeased)) counts.running = count;
      if (state == ToString(JobState::kDone)) counts.completed = count;
      if (state == ToString(JobState::kFailed)) counts.failed = count;
    }
    return counts;
  });
}

Result<std::vector<CompletedJob>> SqliteStore::CompletedSince(TimePoint since) {
  constexpr std::string_view kSql =
      "SELECT a.job_id, j.episode_id, a.node_id, a.finished_at, r.audio_duration_ms, "
      "r.engine_time_ms, a.finished_at - a.leased_at, coalesce(a.waited_ms, 0) "
      "FROM attempts a JOIN jobs j ON j.id = a.job_id "
      "JOIN job_results r ON r.job_id = j.id "
      "WHERE a.outcome = 'done' AND a.finished_at >= ?1 ORDER BY a.finished_at, a.job_id";
  return Read([&](Db& db) { return QueryAll(db, ReadCompleted, kSql, ToUnixMillis(since)); });
}

Result<std::vector<FailedAttempt>> SqliteStore::FailedSince(TimePoint since) {
  auto read = [](const Statement& row) -> Result<FailedAttempt> {
    return FailedAttempt{JobId(row.Int(0)), NodeId(row.Int(1)), FromUnixMillis(row.Int(2))};
  };
  return Read([&](Db& db) {
    return QueryAll(db, read,
                    "SELECT job_id, node_id, finished_at FROM attempts "
                    "WHERE outcome = 'failed' AND finished_at >= ?1 ORDER BY finished_at, job_id",
                    ToUnixMillis(since));
  });
}

Result<Transcript> SqliteStore::GetTranscript(EpisodeId id) {
  // The fleet's (rank 0) before the publisher's (rank 1).
  static const std::string sql = fmt::format(
      "SELECT {}, 0 FROM transcripts t WHERE t.episode_id = ?1 UNION ALL "
      "SELECT language, 'publisher', type, audio_duration_ms, 0, segments, 1 "
      "FROM publisher_transcripts WHERE episode_id = ?1 ORDER BY 7 LIMIT 1",
      kTranscriptColumns);
  return Read([&](Db& db) {
    return QueryOne(db, ReadTranscript, fmt::format("transcript of episode {}", id.value()), sql,
                    id.value());
  });
}

Result<Transcript> SqliteStore::GetJobResult(JobId id) {
  static const std::string sql =
      fmt::format("SELECT {} FROM job_results t WHERE t.job_id = ?1", kTranscriptColumns);
  return Read([&](Db& db) {
    return QueryOne(db, ReadTranscript, fmt::format("result of job {}", id.value()), sql,
                    id.value());
  });
}

// ---- coordinators sharing the store ------------------------------------------------------------

Result<void> SqliteStore::HeartbeatCoordinator(std::string_view url, TimePoint now) {
  return Write([&](Db& db) -> Result<void> {
    return UpdateOne(db,
                     "INSERT INTO coordinators (url, seen_at) VALUES (?1, ?2) "
                     "ON CONFLICT (url) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)",
                     url, ToUnixMillis(now));
  });
}

Result<int> SqliteStore::ReclaimAudio(TimePoint now) {
  constexpr std::string_view kSilent = "(SELECT url FROM coordinators WHERE seen_at < ?1)";
  static const std::string requeue = fmt::format(
      "UPDATE jobs SET state = 'preparing', audio_at = '', not_before = NULL "
      "WHERE state = 'queued' AND relayed = 1 AND audio_at IN {}",
      kSilent);
  static const std::string free = fmt::format(
      "UPDATE jobs SET audio_at = '' WHERE state = 'preparing' AND audio_at IN {}", kSilent);
  // Jobs that still need an upload only a silent coordinator held.
  static const std::string orphans = fmt::format(
      "SELECT j.id, j.episode_id, k.url FROM jobs j JOIN episodes e ON e.id = j.episode_id "
      "JOIN coordinators k ON substr(e.audio_url, 1, length(k.url) + 11) = k.url || '/api/media/' "
      "WHERE k.seen_at < ?1 AND (j.state = 'preparing' OR (j.state = 'queued' AND j.relayed = 0)) "
      "ORDER BY j.id");
  struct Orphan {
    JobId job;
    EpisodeId episode;
    std::string holder;
  };
  const int64_t silent_since = ToUnixMillis(now - kCoordinatorSilence);
  return Write([&](Db& db) -> Result<int> {
    Result<int64_t> requeued = db.Run(requeue, silent_since);
    if (!requeued) return std::unexpected(requeued.error());
    Result<int64_t> freed = db.Run(free, silent_since);
    if (!freed) return std::unexpected(freed.error());
    auto read = [](const Statement& row) -> Result<Orphan> {
      return Orphan{JobId(row.Int(0)), EpisodeId(row.Int(1)), row.Text(2)};
    };
    Result<std::vector<Orphan>> lost = QueryAll(db, read, orphans, silent_since);
    if (!lost) return std::unexpected(lost.error());
    for (const Orphan& o : *lost) {
      const std::string why = fmt::format(
          "its uploaded audio was held only by coordinator {}, which stopped; upload it again",
          o.holder);
      if (Result<void> r = FailJob(db, o.job, o.episode, why, now); !r)
        return std::unexpected(r.error());
    }
    return static_cast<int>(*requeued + *freed) + static_cast<int>(lost->size());
  });
}

}  // namespace podfleet
