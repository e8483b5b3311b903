// PgStore: jobs, leases and their outcomes, and the relay's chunks. The state machines are
// migrations.h's; the SQL follows SqliteStore's (store_sqlite_jobs.cc). Every call that decides
// on a job's state locks the job's row first (FOR UPDATE), so concurrent calls from other
// threads or coordinators see the decision made; Claim skips rows another claim has locked.
#include <fmt/format.h>

#include <string>

#include "core/language.h"
#include "store/backoff.h"
#include "store/row_decode.h"
#include "store/store_pg.h"

namespace podfleet {

using namespace pg;  // NOLINT: the shared helpers of the PgStore files

namespace {

// How far one job's realtime factor moves its node's speed (as SqliteStore).
constexpr double kSpeedWeight = 0.2;

Result<void> SyncEpisode(PgConn& c, EpisodeId episode, std::optional<std::string_view> error,
                         TimePoint now) {
  return UpdateOne(c,
                   "UPDATE episodes SET state = (SELECT CASE "
                   "  WHEN count(*) FILTER (WHERE state = 'failed') > 0 THEN 'failed' "
                   "  WHEN count(*) FILTER (WHERE state = 'done') = count(*) THEN 'done' "
                   "  WHEN count(*) FILTER (WHERE state IN ('leased', 'done')) > 0 THEN 'running' "
                   "  ELSE 'queued' END FROM jobs WHERE episode_id = $1), "
                   "error = coalesce($2, error), updated_at = $3 WHERE id = $1",
                   episode.value(), error, ToUnixMillis(now));
}

// The job matching `where` ($1 is `key`); `lock` adds FOR UPDATE OF j.
Result<Job> LoadJob(PgConn& c, std::string_view where, int64_t key, std::string_view what,
                    bool lock = false) {
  return QueryOne(c, DecodeJob<PgRow>, what,
                  fmt::format("SELECT {} FROM {} WHERE {}{}", kJobColumns, kJobFrom, where,
                              lock ? " FOR UPDATE OF j" : ""),
                  key);
}

struct Fence {
  EpisodeId episode;
  bool holds = false;
  bool completed = false;
  bool late = false;
  TimePoint leased_at;  // when the attempt was leased
};

// Where `attempt` stands with its job (SqliteStore's LoadFence), with the job's row locked.
Result<Fence> LoadFence(PgConn& c, NodeId node, JobId job, AttemptId attempt) {
  constexpr std::string_view kSql =
      "SELECT j.episode_id, "
      "  coalesce(j.state = 'leased' AND j.attempts = $2 AND a.outcome = 'running' "
      "    AND a.node_id = $3, false), "
      "  coalesce(j.state = 'done' AND a.outcome = 'done' AND a.node_id = $3, false), "
      "  coalesce(j.state <> 'done' AND a.outcome = 'expired' AND a.node_id = $3, false), "
      "  coalesce(a.leased_at, 0) "
      "FROM jobs j LEFT JOIN attempts a ON a.job_id = j.id AND a.number = $2 WHERE j.id = $1 "
      "FOR UPDATE OF j";
  auto read = [](const PgRow& row) -> Result<Fence> {
    return Fence{EpisodeId(row.Int(0)), row.Int(1) == 1, row.Int(2) == 1, row.Int(3) == 1,
                 FromUnixMillis(row.Int(4))};
  };
  return QueryOne(c, read, fmt::format("job {}", job.value()), kSql, job.value(), attempt.value(),
                  node.value());
}

std::unexpected<Error> LeaseConflict(NodeId node, JobId job, AttemptId attempt) {
  return Conflict(fmt::format("job {} attempt {} on node {} does not hold the lease", job.value(),
                              attempt.value(), node.value()));
}

Result<EpisodeId> RequireHolder(PgConn& c, NodeId node, JobId job, AttemptId attempt) {
  Result<Fence> fence = LoadFence(c, node, job, attempt);
  if (!fence) return std::unexpected(fence.error());
  if (!fence->holds) return LeaseConflict(node, job, attempt);
  return fence->episode;
}

Result<void> EndAttempt(PgConn& c, JobId job, AttemptId attempt, std::string_view outcome,
                        std::string_view error, TimePoint now) {
  return UpdateOne(c,
                   "UPDATE attempts SET outcome = $3, error = $4, finished_at = $5 "
                   "WHERE job_id = $1 AND number = $2 AND outcome = 'running'",
                   job.value(), attempt.value(), outcome, error, ToUnixMillis(now));
}

Result<Grant> LeaseJob(PgConn& c, JobId job, NodeId node, Millis lease_for, TimePoint now) {
  struct Leased {
    int64_t attempt;
    EpisodeId episode;
    Chunk chunk;
    JobRequirement want;
    std::string audio_at;
  };
  const TimePoint expires = now + lease_for;
  // The job and its new attempt in one statement: one round trip less on the way to a parked
  // claim's answer (doc/scale.md, dispatch latency).
  Result<Leased> leased = QueryOne(
      c,
      [](const PgRow& row) -> Result<Leased> {
        return Leased{row.Int(0), EpisodeId(row.Int(1)), DecodeChunk(row, 2),
                      JobRequirement{row.Text(8), row.Text(9), row.Text(10)}, row.Text(11)};
      },
      "queued job",
      "WITH leased AS (UPDATE jobs SET state = 'leased', attempts = attempts + 1, "
      "not_before = NULL WHERE id = $1 AND state = 'queued' "
      "RETURNING id, attempts, episode_id, chunk_index, chunk_count, start_ms, end_ms, relayed, "
      "seam_ms, want_engine, want_model, want_language, audio_at), "
      "attempt AS (INSERT INTO attempts (job_id, number, node_id, leased_at, expires_at) "
      "SELECT id, attempts, $2, $3, $4 FROM leased) "
      "SELECT attempts, episode_id, chunk_index, chunk_count, start_ms, end_ms, relayed, "
      "seam_ms, want_engine, want_model, want_language, audio_at FROM leased",
      job.value(), node.value(), ToUnixMillis(now), ToUnixMillis(expires));
  if (!leased) return std::unexpected(leased.error());
  Result<void> r = SyncEpisode(c, leased->episode, std::nullopt, now);
  if (!r) return std::unexpected(r.error());
  Result<Episode> episode = LoadEpisode(c, leased->episode);
  if (!episode) return std::unexpected(episode.error());
  return Grant{Lease{job, AttemptId(leased->attempt), node, expires}, std::move(*episode),
               leased->chunk, std::move(leased->want), std::move(leased->audio_at)};
}

Result<void> StoreResult(PgConn& c, JobId job, const Transcript& t, bool keep_segments,
                         TimePoint now) {
  return UpdateOne(c,
                   "INSERT INTO job_results (job_id, language, engine, model, "
                   "audio_duration_ms, engine_time_ms, segments, created_at) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (job_id) DO UPDATE SET "
                   "language = excluded.language, engine = excluded.engine, "
                   "model = excluded.model, audio_duration_ms = excluded.audio_duration_ms, "
                   "engine_time_ms = excluded.engine_time_ms, segments = excluded.segments, "
                   "created_at = excluded.created_at",
                   job.value(), t.language, t.engine, t.model, t.audio_duration.count(),
                   t.engine_time.count(), keep_segments ? EncodeSegments(t.segments) : "[]",
                   ToUnixMillis(now));
}

Result<void> FailJob(PgConn& c, JobId job, EpisodeId episode, std::string_view reason,
                     TimePoint now) {
  Result<void> r = UpdateOne(c, "UPDATE jobs SET state = 'failed', error = $2 WHERE id = $1",
                             job.value(), reason);
  if (r) r = SyncEpisode(c, episode, reason, now);
  return r;
}

Result<void> RetryLater(PgConn& c, JobId job, EpisodeId episode, std::string_view reason,
                        const RetryPolicy& policy, TimePoint now,
                        JobState state = JobState::kQueued) {
  Result<int64_t> failures = QueryOne(
      c, ReadPgInt, "job",
      "UPDATE jobs SET failures = failures + 1 WHERE id = $1 RETURNING failures", job.value());
  if (!failures) return std::unexpected(failures.error());
  if (*failures >= policy.max_failures) {
    return FailJob(c, job, episode, fmt::format("gave up after {} failures: {}", *failures, reason),
                   now);
  }
  const TimePoint not_before = now + BackoffDelay(policy, job, static_cast<int>(*failures));
  Result<void> r = UpdateOne(c,
                             "UPDATE jobs SET state = $4, not_before = $2, error = $3 "
                             "WHERE id = $1",
                             job.value(), ToUnixMillis(not_before), reason, ToString(state));
  if (r) r = SyncEpisode(c, episode, reason, now);
  return r;
}

Result<void> Requeue(PgConn& c, JobId job, EpisodeId episode, bool expired, TimePoint now) {
  Result<void> r = UpdateOne(c,
                             "UPDATE jobs SET state = 'queued', not_before = NULL, "
                             "lease_expiries = lease_expiries + $2 WHERE id = $1",
                             job.value(), expired ? 1 : 0);
  if (r) r = SyncEpisode(c, episode, std::nullopt, now);
  if (r) r = NotifyWork(c);
  return r;
}

Result<void> AcceptLate(PgConn& c, JobId job, AttemptId attempt, TimePoint now) {
  Result<int64_t> superseded = c.Run(
      "UPDATE attempts SET outcome = 'released', finished_at = $3, "
      "error = 'superseded by the late result of attempt ' || $2 "
      "WHERE job_id = $1 AND outcome = 'running'",
      job.value(), attempt.value(), ToUnixMillis(now));
  if (!superseded) return std::unexpected(superseded.error());
  return UpdateOne(c,
                   "UPDATE attempts SET outcome = 'done', finished_at = $3, "
                   "error = 'lease expired; late result accepted' "
                   "WHERE job_id = $1 AND number = $2 AND outcome = 'expired'",
                   job.value(), attempt.value(), ToUnixMillis(now));
}

Result<std::vector<Attempt>> LoadAttempts(PgConn& c, JobId job) {
  static const std::string sql = fmt::format(
      "SELECT {} FROM attempts a WHERE a.job_id = $1 ORDER BY a.number", kAttemptColumns);
  return QueryAll(c, DecodeAttempt<PgRow>, sql, job.value());
}

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

Result<void> Quarantine(PgConn& c, JobId job, EpisodeId episode, int expiries, TimePoint now) {
  Result<std::vector<Attempt>> attempts = LoadAttempts(c, job);
  if (!attempts) return std::unexpected(attempts.error());
  const std::string reason = fmt::format(
      "quarantined: its lease expired {} times, so workers may be crashing on it; expired on {}. "
      "Retry it once the cause is found",
      expiries, ExpiryEvidence(*attempts));
  Result<void> r = UpdateOne(
      c, "UPDATE jobs SET state = 'failed', quarantined_at = $2, error = $3 WHERE id = $1",
      job.value(), ToUnixMillis(now), reason);
  if (r) r = SyncEpisode(c, episode, reason, now);
  return r;
}

Result<void> RequeueExpired(PgConn& c, JobId job, EpisodeId episode, const RetryPolicy& policy,
                            TimePoint now) {
  if (Result<void> r = Requeue(c, job, episode, /*expired=*/true, now); !r) return r;
  Result<int64_t> expiries =
      QueryOne(c, ReadPgInt, "job", "SELECT lease_expiries FROM jobs WHERE id = $1", job.value());
  if (!expiries) return std::unexpected(expiries.error());
  if (*expiries < policy.max_lease_expiries) return {};
  return Quarantine(c, job, episode, static_cast<int>(*expiries), now);
}

Result<void> AfterCompleted(PgConn& c, NodeId node, JobId job, AttemptId attempt,
                            const Transcript& t, const CompletionReport& report, TimePoint now) {
  if (Result<int64_t> seen = MarkSeen(c, node, now); !seen) return std::unexpected(seen.error());
  if (report.waited) {
    Result<int64_t> r =
        c.Run("UPDATE attempts SET waited_ms = $3 WHERE job_id = $1 AND number = $2", job.value(),
              attempt.value(), report.waited->count());
    if (!r) return std::unexpected(r.error());
  }
  if (t.engine_time <= Millis(0) || t.audio_duration <= Millis(0)) return {};
  const double realtime =
      static_cast<double>(t.audio_duration.count()) / static_cast<double>(t.engine_time.count());
  Result<int64_t> r = c.Run(
      "UPDATE nodes SET speed = CASE WHEN speed > 0 THEN speed + $3 * ($2 - speed) ELSE $2 END "
      "WHERE id = $1",
      node.value(), realtime, kSpeedWeight);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<Job> LoadPreparing(PgConn& c, JobId job) {
  Result<Job> current =
      LoadJob(c, "j.id = $1", job.value(), fmt::format("job {}", job.value()), /*lock=*/true);
  if (!current) return std::unexpected(current.error());
  if (current->state != JobState::kPreparing)
    return Conflict(
        fmt::format("job {} is {}, not preparing", job.value(), ToString(current->state)));
  return current;
}

Result<void> QueuePreparing(PgConn& c, JobId job, const Chunk& chunk) {
  std::optional<int64_t> end;
  if (chunk.end) end = chunk.end->count();
  Result<void> r = UpdateOne(c,
                             "UPDATE jobs SET state = 'queued', not_before = NULL, error = '', "
                             "chunk_index = $2, chunk_count = $3, start_ms = $4, end_ms = $5, "
                             "relayed = $6, seam_ms = $7 WHERE id = $1",
                             job.value(), chunk.index, chunk.count, chunk.start.count(), end,
                             chunk.relayed, chunk.seam.count());
  if (r) r = NotifyWork(c);
  return r;
}

Result<int64_t> AddChunkJob(PgConn& c, JobId job, const Chunk& chunk, std::string_view state) {
  std::optional<int64_t> end;
  if (chunk.end) end = chunk.end->count();
  return QueryOne(c, ReadPgInt, "chunk job",
                  "INSERT INTO jobs (episode_id, state, priority, chunk_index, chunk_count, "
                  "start_ms, end_ms, relayed, seam_ms, want_engine, want_model, want_language, "
                  "audio_at) "
                  "SELECT episode_id, $7, priority, $2, $3, $4, $5::bigint, $6, $8, want_engine, "
                  "want_model, want_language, audio_at FROM jobs WHERE id = $1 RETURNING id",
                  job.value(), chunk.index, chunk.count, chunk.start.count(), end, chunk.relayed,
                  state, chunk.seam.count());
}

// The job's chunk, before Complete changes anything.
Result<Chunk> LoadChunk(PgConn& c, JobId job) {
  return QueryOne(
      c, [](const PgRow& row) -> Result<Chunk> { return DecodeChunk(row, 0); }, "job",
      "SELECT chunk_index, chunk_count, start_ms, end_ms, relayed, seam_ms FROM jobs WHERE id = $1",
      job.value());
}

Result<bool> EpisodeDone(PgConn& c, EpisodeId episode) {
  Result<std::string> state = QueryOne(
      c, [](const PgRow& row) -> Result<std::string> { return row.Text(0); }, "episode",
      "SELECT state FROM episodes WHERE id = $1", episode.value());
  if (!state) return std::unexpected(state.error());
  return *state == ToString(EpisodeState::kDone);
}

// What a repeated Complete of a done job reports: nothing recorded.
Result<Completion> RepeatedCompletion(PgConn& c, JobId job, EpisodeId episode) {
  Completion out;
  out.episode = episode;
  Result<Chunk> chunk = LoadChunk(c, job);
  if (!chunk) return std::unexpected(chunk.error());
  out.chunk = *chunk;
  Result<bool> done = EpisodeDone(c, episode);
  if (!done) return std::unexpected(done.error());
  out.episode_done = *done;
  return out;
}

// Stores the result of `job` and marks it, its attempt and its episode done (Store::Complete),
// then what Complete records besides.
Result<void> RecordCompletion(PgConn& c, NodeId node, JobId job, AttemptId attempt,
                              const Fence& fence, const Chunk& chunk, const Transcript& t,
                              const CompletionReport& report, TimePoint now) {
  Result<void> r = StoreResult(c, job, t, /*keep_segments=*/chunk.count > 1, now);
  if (r) {
    r = UpdateOne(c,
                  "UPDATE jobs SET state = 'done', error = '', not_before = NULL, "
                  "quarantined_at = NULL WHERE id = $1",
                  job.value());
  }
  if (r && fence.late) r = AcceptLate(c, job, attempt, now);
  if (r && fence.holds) r = EndAttempt(c, job, attempt, "done", "", now);
  if (r && chunk.count == 1) r = StoreTranscript(c, fence.episode, t, now);
  if (r && chunk.count > 1) r = StitchIfDone(c, fence.episode, now);
  if (r) r = SyncEpisode(c, fence.episode, "", now);
  if (r) r = AfterCompleted(c, node, job, attempt, t, report, now);
  return r;
}

}  // namespace

// ---- episodes' jobs -----------------------------------------------------------------------------

Result<void> PgStore::RetryEpisode(EpisodeId id, TimePoint now) {
  return Write([&](PgConn& c) -> Result<void> {
    if (Result<void> locked = LockEpisode(c, id); !locked) return locked;
    Result<Episode> episode = LoadEpisode(c, id);
    if (!episode) return std::unexpected(episode.error());
    if (episode->state != EpisodeState::kFailed) {
      return Conflict(
          fmt::format("episode {} is {}, not failed", id.value(), ToString(episode->state)));
    }
    Result<int64_t> requeued = c.Run(
        "UPDATE jobs SET state = CASE WHEN relayed = 1 AND end_ms IS NULL THEN 'preparing' "
        "ELSE 'queued' END, failures = 0, lease_expiries = 0, not_before = NULL, "
        "quarantined_at = NULL, error = '' "
        "WHERE episode_id = $1 AND state = 'failed'",
        id.value());
    if (!requeued) return std::unexpected(requeued.error());
    if (*requeued == 0)
      return Internal(fmt::format("failed episode {} has no failed job", id.value()));
    if (Result<void> n = NotifyWork(c); !n) return n;
    return SyncEpisode(c, id, "", now);
  });
}

Result<void> PgStore::TranscribeAgain(EpisodeId id, TimePoint now, JobIntake intake,
                                      const JobRequirement& want) {
  return Write([&](PgConn& c) -> Result<void> {
    if (Result<void> locked = LockEpisode(c, id); !locked) return locked;
    Result<Episode> episode = LoadEpisode(c, id);
    if (!episode) return std::unexpected(episode.error());
    if (episode->state != EpisodeState::kDone) {
      return Conflict(fmt::format("episode {} is {}, not done (a failed one is retried)",
                                  id.value(), ToString(episode->state)));
    }
    if (episode->info.audio_url.empty())
      return InvalidArgument(fmt::format("episode {} has no audio URL", id.value()));
    Result<int64_t> r =
        c.Run("DELETE FROM jobs WHERE episode_id = $1 AND chunk_index > 0", id.value());
    const bool prepare = intake == JobIntake::kPrepare;
    const std::string_view state = ToString(prepare ? JobState::kPreparing : JobState::kQueued);
    if (r) {
      r = c.Run(
          "UPDATE jobs SET state = $2, relayed = $3, chunk_count = 1, start_ms = 0, end_ms = NULL, "
          "seam_ms = 0, "
          "failures = 0, lease_expiries = 0, not_before = NULL, quarantined_at = NULL, error = '', "
          "want_engine = $4, want_model = $5, want_language = $6 WHERE episode_id = $1",
          id.value(), state, prepare, want.engine, want.model, want.language);
    }
    if (!r) return std::unexpected(r.error());
    if (*r == 0) {  // an episode done by its publisher's transcript has no job yet
      if (Result<void> added = InsertJob(c, id, intake, want); !added) return added;
    } else if (Result<void> n = NotifyWork(c); !n) {
      return n;
    }
    return SyncEpisode(c, id, "", now);
  });
}

Result<Job> PgStore::GetJobForEpisode(EpisodeId id) {
  return Read([&](PgConn& c) {
    return LoadJob(c, "j.episode_id = $1 ORDER BY j.chunk_index LIMIT 1", id.value(),
                   fmt::format("job of episode {}", id.value()));
  });
}

Result<std::vector<Job>> PgStore::ListJobsForEpisode(EpisodeId id) {
  static const std::string sql = fmt::format(
      "SELECT {} FROM {} WHERE j.episode_id = $1 ORDER BY j.chunk_index", kJobColumns, kJobFrom);
  return Read([&](PgConn& c) { return QueryAll(c, DecodeJob<PgRow>, sql, id.value()); });
}

// ---- relay
// ----------------------------------------------------------------------------------------

Result<std::vector<PreparingJob>> PgStore::ListPreparing(int limit, TimePoint now,
                                                         std::string_view holder) {
  static const std::string sql = fmt::format(
      "SELECT {}, {} FROM {} JOIN episodes e ON e.id = j.episode_id "
      "WHERE j.state = 'preparing' AND (j.not_before IS NULL OR j.not_before <= $1) "
      "AND j.audio_at IN ('', $3) ORDER BY j.priority DESC, j.id LIMIT $2",
      kJobColumns, kEpisodeColumns, kJobFrom);
  auto read = [](const PgRow& row) -> Result<PreparingJob> {
    Result<Job> j = DecodeJob(row);
    if (!j) return std::unexpected(j.error());
    Result<Episode> e = DecodeEpisode(PgRow::Shifted(row, kJobColumnCount));
    if (!e) return std::unexpected(e.error());
    Chunk next;
    next.index = j->chunk.index;
    next.count = j->chunk.count;
    next.start = j->chunk.start;
    next.end = j->chunk.end;
    return PreparingJob{j->id, std::move(*e), next};
  };
  return Read([&](PgConn& c) { return QueryAll(c, read, sql, ToUnixMillis(now), limit, holder); });
}

Result<void> PgStore::TakePreparing(JobId job, std::string_view holder) {
  return Write([&](PgConn& c) -> Result<void> {
    Result<int64_t> taken = c.Run(
        "UPDATE jobs SET audio_at = $2 WHERE id = $1 AND state = 'preparing' "
        "AND audio_at IN ('', $2)",
        job.value(), holder);
    if (!taken) return std::unexpected(taken.error());
    if (*taken == 0)
      return Conflict(
          fmt::format("job {} is not preparing, or another coordinator took it", job.value()));
    return {};
  });
}

Result<void> PgStore::QueuePreparedAgain(JobId job, bool relayed, TimePoint now) {
  return Write([&](PgConn& c) -> Result<void> {
    Result<Job> current = LoadPreparing(c, job);
    if (!current) return std::unexpected(current.error());
    if (!current->chunk.end)
      return InvalidArgument(fmt::format("job {} is no chunk to prepare again", job.value()));
    Chunk chunk = current->chunk;
    chunk.relayed = relayed;
    if (Result<void> r = QueuePreparing(c, job, chunk); !r) return r;
    return SyncEpisode(c, current->episode, "", now);
  });
}

Result<JobId> PgStore::QueueChunk(JobId job, const Chunk& chunk, TimePoint now) {
  if (!chunk.end) return InvalidArgument("queue chunk: a chunk before the last needs an end");
  return Write([&](PgConn& c) -> Result<JobId> {
    Result<Job> current = LoadPreparing(c, job);
    if (!current) return std::unexpected(current.error());
    if (chunk.index != current->chunk.index)
      return InvalidArgument(fmt::format("queue chunk: job {} is chunk {}, not {}", job.value(),
                                         current->chunk.index, chunk.index));
    Chunk queued = chunk;
    queued.count = std::max(chunk.count, chunk.index + 2);
    Chunk rest;
    rest.index = chunk.index + 1;
    rest.count = queued.count;
    rest.start = *chunk.end;
    Result<int64_t> id = AddChunkJob(c, job, rest, "preparing");
    if (!id) return std::unexpected(id.error());
    if (Result<void> r = QueuePreparing(c, job, queued); !r) return std::unexpected(r.error());
    if (Result<void> s = SyncEpisode(c, current->episode, "", now); !s)
      return std::unexpected(s.error());
    return JobId(*id);
  });
}

Result<std::vector<JobId>> PgStore::PlanChunks(JobId job, const std::vector<Chunk>& chunks,
                                               TimePoint now) {
  if (chunks.empty()) return InvalidArgument("plan chunks: no chunks");
  return Write([&](PgConn& c) -> Result<std::vector<JobId>> {
    Result<Job> current = LoadPreparing(c, job);
    if (!current) return std::unexpected(current.error());
    const int first = current->chunk.index;
    const int count = first + static_cast<int>(chunks.size());
    std::vector<JobId> ids{job};
    for (size_t i = 0; i < chunks.size(); ++i) {
      Chunk ch = chunks[i];
      ch.index = first + static_cast<int>(i);
      ch.count = count;
      if (i == 0) {
        if (Result<void> r = QueuePreparing(c, job, ch); !r) return std::unexpected(r.error());
        continue;
      }
      Result<int64_t> id = AddChunkJob(c, job, ch, "queued");
      if (!id) return std::unexpected(id.error());
      ids.push_back(JobId(*id));
    }
    if (Result<int64_t> r = c.Run("UPDATE jobs SET chunk_count = $2 WHERE episode_id = $1",
                                  current->episode.value(), count);
        !r)
      return std::unexpected(r.error());
    if (Result<void> s = SyncEpisode(c, current->episode, "", now); !s)
      return std::unexpected(s.error());
    return ids;
  });
}

Result<void> PgStore::FailPreparing(JobId job, const Failure& failure, const RetryPolicy& policy,
                                    TimePoint now) {
  return Write([&](PgConn& c) -> Result<void> {
    Result<Job> current = LoadPreparing(c, job);
    if (!current) return std::unexpected(current.error());
    if (failure.permanent) return FailJob(c, job, current->episode, failure.reason, now);
    return RetryLater(c, job, current->episode, failure.reason, policy, now, JobState::kPreparing);
  });
}

Result<void> PgStore::WithdrawPreparing(JobId job, std::string_view reason, TimePoint now) {
  return Write([&](PgConn& c) -> Result<void> {
    Result<Job> current = LoadPreparing(c, job);
    if (!current) return std::unexpected(current.error());
    const int64_t episode = current->episode.value();
    // As SqliteStore::WithdrawPreparing: chunk 0's job stays as the whole episode.
    Result<int64_t> r =
        c.Run("DELETE FROM jobs WHERE episode_id = $1 AND chunk_index > 0", episode);
    if (r)
      r = c.Run(
          "UPDATE attempts SET outcome = 'released', finished_at = $2, error = 'withdrawn' "
          "WHERE outcome = 'running' AND job_id IN (SELECT id FROM jobs WHERE episode_id = $1)",
          episode, ToUnixMillis(now));
    if (r)
      r = c.Run(
          "DELETE FROM job_results WHERE job_id IN (SELECT id FROM jobs WHERE episode_id = $1)",
          episode);
    if (r)
      r = c.Run(
          "UPDATE jobs SET state = 'failed', relayed = 1, chunk_count = 1, start_ms = 0, "
          "end_ms = NULL, seam_ms = 0, not_before = NULL, error = $2 WHERE episode_id = $1",
          episode, reason);
    if (!r) return std::unexpected(r.error());
    return SyncEpisode(c, current->episode, reason, now);
  });
}

// ---- jobs and leases
// --------------------------------------------------------------------------------

Result<Job> PgStore::GetJob(JobId id) {
  return Read([&](PgConn& c) {
    return LoadJob(c, "j.id = $1", id.value(), fmt::format("job {}", id.value()));
  });
}

namespace {

// Up to `limit` claimable jobs that `node` can serve (CanServe, in SQL) and `filter` lets it
// take, in claim order, locked; records that the node was heard from (MarkSeen) in the statement
// that reads its engine.
// SKIP LOCKED: a job another transaction is claiming (or completing) is passed over, so
// concurrent claims neither wait for each other nor take the same job.
Result<std::vector<int64_t>> ClaimableFor(PgConn& c, NodeId node, int limit, TimePoint now,
                                          ClaimFilter filter) {
  auto read = [](const PgRow& row) -> Result<std::pair<std::string, std::string>> {
    return std::pair{row.Text(0), row.Text(1)};
  };
  auto found = QueryAll(c, read,
                        "WITH seen AS (UPDATE nodes SET last_seen = $2 "
                        "WHERE id = $1 AND last_seen <= $2::bigint - 1000) "
                        "SELECT engine, model FROM nodes WHERE id = $1",
                        node.value(), ToUnixMillis(now));
  if (!found) return std::unexpected(found.error());
  const bool known = !found->empty();
  const auto [engine, model] = known ? found->front() : std::pair<std::string, std::string>();
  // '' for a multilingual model: it is told the language.
  const std::string language = FixedLanguage(engine, model).value_or("");
  return QueryAll(
      c, ReadPgInt,
      "SELECT id FROM jobs WHERE state = 'queued' AND (not_before IS NULL OR not_before <= $1) "
      "AND ($3 OR (want_engine = '' AND want_model = '' AND want_language = '')) "
      "AND want_engine IN ('', $4) AND want_model IN ('', $5) "
      "AND (want_language = '' OR $6 IN ('', want_language)) "
      "AND (audio_at = '' OR audio_at IN (SELECT url FROM coordinators WHERE seen_at >= $7)) "
      "AND ($8 OR seam_ms = 0) "
      "ORDER BY priority DESC, id LIMIT $2 FOR UPDATE SKIP LOCKED",
      ToUnixMillis(now), limit, known, engine, model, language,
      ToUnixMillis(now - kCoordinatorSilence), filter.seam_chunks);
}

}  // namespace

Result<std::vector<Grant>> PgStore::Claim(NodeId node, int max_jobs, Millis lease_for,
                                          TimePoint now, ClaimFilter filter) {
  if (lease_for <= Millis(0)) return InvalidArgument("claim: the lease length must be positive");
  if (max_jobs <= 0) return std::vector<Grant>();
  return Write([&](PgConn& c) -> Result<std::vector<Grant>> {
    Result<std::vector<int64_t>> jobs = ClaimableFor(c, node, max_jobs, now, filter);
    if (!jobs) return std::unexpected(jobs.error());
    std::vector<Grant> grants;
    for (int64_t job : *jobs) {
      Result<Grant> grant = LeaseJob(c, JobId(job), node, lease_for, now);
      if (!grant) return std::unexpected(grant.error());
      grants.push_back(std::move(*grant));
    }
    return grants;
  });
}

Result<void> PgStore::SetJobPriority(JobId id, int priority) {
  return Write([&](PgConn& c) {
    return RequireChanged(
        c.Run("UPDATE jobs SET priority = $2 WHERE id = $1", id.value(), priority),
        fmt::format("job {}", id.value()));
  });
}

Result<std::vector<Lease>> PgStore::Renew(NodeId node, const std::vector<Progress>& held,
                                          Millis lease_for, TimePoint now) {
  if (lease_for <= Millis(0)) return InvalidArgument("renew: the lease length must be positive");
  constexpr std::string_view kSql =
      "UPDATE attempts SET expires_at = $4, stage = $5, fraction = $6 "
      "WHERE job_id = $1 AND number = $2 AND node_id = $3 AND outcome = 'running'";
  const TimePoint expires = now + lease_for;
  return Write([&](PgConn& c) -> Result<std::vector<Lease>> {
    if (Result<int64_t> seen = MarkSeen(c, node, now); !seen) return std::unexpected(seen.error());
    std::vector<Lease> renewed;
    for (const Progress& p : held) {
      Result<int64_t> changed = c.Run(kSql, p.job.value(), p.attempt.value(), node.value(),
                                      ToUnixMillis(expires), ToString(p.stage), p.fraction);
      if (!changed) return std::unexpected(changed.error());
      if (*changed == 1) renewed.push_back(Lease{p.job, p.attempt, node, expires});
    }
    return renewed;
  });
}

namespace {

// Complete's work inside a write transaction.
Result<Completion> CompleteInTransaction(PgConn& c, NodeId node, JobId job, AttemptId attempt,
                                         const Transcript& transcript,
                                         const CompletionReport& report, TimePoint now) {
  if (report.waited && report.waited->count() < 0)
    return InvalidArgument("complete: negative wait");
  Result<Fence> fence = LoadFence(c, node, job, attempt);
  if (!fence) return std::unexpected(fence.error());
  if (fence->completed) return RepeatedCompletion(c, job, fence->episode);
  if (!fence->holds && !fence->late) return LeaseConflict(node, job, attempt);
  // The episode's row: the last of its chunks to complete sees the others done and stitches.
  if (Result<void> locked = LockEpisode(c, fence->episode); !locked)
    return std::unexpected(locked.error());
  Result<Chunk> chunk = LoadChunk(c, job);
  if (!chunk) return std::unexpected(chunk.error());
  Result<void> r = RecordCompletion(c, node, job, attempt, *fence, *chunk, transcript, report, now);
  if (!r) return std::unexpected(r.error());
  Result<bool> done = EpisodeDone(c, fence->episode);
  if (!done) return std::unexpected(done.error());
  return Completion{CompletedJob{job, fence->episode, node, now, transcript.audio_duration,
                                 transcript.engine_time, now - fence->leased_at,
                                 report.waited.value_or(Millis(0))},
                    fence->episode, *chunk, *done};
}

// Whether a failed result of CompleteMany is that result's alone (the others stand).
bool OwnFailure(const Error& e) {
  return e.code == Code::kConflict || e.code == Code::kNotFound || e.code == Code::kInvalidArgument;
}

}  // namespace

Result<Completion> PgStore::Complete(NodeId node, JobId job, AttemptId attempt,
                                     const Transcript& transcript, TimePoint now,
                                     const CompletionReport& report) {
  return Write([&](PgConn& c) {
    return CompleteInTransaction(c, node, job, attempt, transcript, report, now);
  });
}

Result<std::vector<Result<Completion>>> PgStore::CompleteMany(
    NodeId node, const std::vector<CompletionInput>& results, TimePoint now) {
  return Write([&](PgConn& c) -> Result<std::vector<Result<Completion>>> {
    std::vector<Result<Completion>> out;
    out.reserve(results.size());
    // Each result in its own savepoint: a refused one leaves no half of itself, and the
    // transaction goes on.
    for (const CompletionInput& in : results) {
      if (Result<int64_t> r = c.Run("SAVEPOINT complete_one"); !r)
        return std::unexpected(r.error());
      Result<Completion> done =
          CompleteInTransaction(c, node, in.job, in.attempt, in.transcript, in.report, now);
      if (!done && !OwnFailure(done.error())) return std::unexpected(done.error());
      if (!done) {
        if (Result<int64_t> r = c.Run("ROLLBACK TO SAVEPOINT complete_one"); !r)
          return std::unexpected(r.error());
      }
      if (Result<int64_t> r = c.Run("RELEASE SAVEPOINT complete_one"); !r)
        return std::unexpected(r.error());
      out.push_back(std::move(done));
    }
    return out;
  });
}

Result<void> PgStore::Fail(NodeId node, JobId job, AttemptId attempt, const Failure& failure,
                           const RetryPolicy& policy, TimePoint now) {
  return Write([&](PgConn& c) -> Result<void> {
    Result<EpisodeId> episode = RequireHolder(c, node, job, attempt);
    if (!episode) return std::unexpected(episode.error());
    Result<void> r = EndAttempt(c, job, attempt, "failed", failure.reason, now);
    if (!r) return r;
    if (failure.permanent) return FailJob(c, job, *episode, failure.reason, now);
    return RetryLater(c, job, *episode, failure.reason, policy, now);
  });
}

Result<void> PgStore::Release(NodeId node, JobId job, AttemptId attempt, TimePoint now) {
  return Write([&](PgConn& c) -> Result<void> {
    Result<EpisodeId> episode = RequireHolder(c, node, job, attempt);
    if (!episode) return std::unexpected(episode.error());
    Result<void> r = EndAttempt(c, job, attempt, "released", "", now);
    if (r) r = Requeue(c, job, *episode, /*expired=*/false, now);
    return r;
  });
}

Result<int> PgStore::ExpireLeases(TimePoint now, const RetryPolicy& policy) {
  return Write([&](PgConn& c) -> Result<int> {
    struct Expired {
      JobId job;
      EpisodeId episode;
    };
    auto read = [](const PgRow& row) -> Result<Expired> {
      return Expired{JobId(row.Int(0)), EpisodeId(row.Int(1))};
    };
    // Jobs first (the order every call locks in); one being completed or claimed right now is
    // left to the next reap.
    Result<std::vector<Expired>> expired =
        QueryAll(c, read,
                 "SELECT j.id, j.episode_id FROM jobs j JOIN attempts a "
                 "ON a.job_id = j.id AND a.number = j.attempts "
                 "WHERE j.state = 'leased' AND a.outcome = 'running' AND a.expires_at < $1 "
                 "ORDER BY j.id FOR UPDATE OF j SKIP LOCKED",
                 ToUnixMillis(now));
    if (!expired) return std::unexpected(expired.error());
    for (const Expired& e : *expired) {
      Result<int64_t> ended = c.Run(
          "UPDATE attempts SET outcome = 'expired', error = 'lease expired', finished_at = $2 "
          "WHERE job_id = $1 AND outcome = 'running'",
          e.job.value(), ToUnixMillis(now));
      if (!ended) return std::unexpected(ended.error());
      if (Result<void> r = RequeueExpired(c, e.job, e.episode, policy, now); !r) {
        return std::unexpected(r.error());
      }
    }
    return static_cast<int>(expired->size());
  });
}

Result<std::vector<Attempt>> PgStore::ListAttempts(JobId job) {
  return Read([&](PgConn& c) -> Result<std::vector<Attempt>> {
    Result<Job> found = LoadJob(c, "j.id = $1", job.value(), fmt::format("job {}", job.value()));
    if (!found) return std::unexpected(found.error());
    return LoadAttempts(c, job);
  });
}

Result<std::vector<Job>> PgStore::ListLeasedJobs() {
  static const std::string sql = fmt::format(
      "SELECT {} FROM {} WHERE j.state = 'leased' ORDER BY j.id", kJobColumns, kJobFrom);
  return Read([&](PgConn& c) { return QueryAll(c, DecodeJob<PgRow>, sql); });
}

Result<QueueCounts> PgStore::CountJobs() {
  auto read = [](const PgRow& row) -> Result<QueueCounts> {
    return QueueCounts{row.Int(0), row.Int(1), row.Int(2), row.Int(3)};
  };
  return Read([&](PgConn& c) {
    return QueryOne(c, read, "jobs",
                    "SELECT count(*) FILTER (WHERE state IN ('queued', 'preparing')), "
                    "count(*) FILTER (WHERE state = 'leased'), "
                    "count(*) FILTER (WHERE state = 'done'), "
                    "count(*) FILTER (WHERE state = 'failed') FROM jobs");
  });
}

Result<std::vector<CompletedJob>> PgStore::CompletedSince(TimePoint since) {
  auto read = [](const PgRow& row) -> Result<CompletedJob> {
    return CompletedJob{JobId(row.Int(0)),          EpisodeId(row.Int(1)), NodeId(row.Int(2)),
                        FromUnixMillis(row.Int(3)), Millis(row.Int(4)),    Millis(row.Int(5)),
                        Millis(row.Int(6)),         Millis(row.Int(7))};
  };
  return Read([&](PgConn& c) {
    return QueryAll(c, read,
                    "SELECT a.job_id, j.episode_id, a.node_id, a.finished_at, "
                    "r.audio_duration_ms, r.engine_time_ms, a.finished_at - a.leased_at, "
                    "coalesce(a.waited_ms, 0) FROM attempts a JOIN jobs j ON j.id = a.job_id "
                    "JOIN job_results r ON r.job_id = j.id "
                    "WHERE a.outcome = 'done' AND a.finished_at >= $1 "
                    "ORDER BY a.finished_at, a.job_id",
                    ToUnixMillis(since));
  });
}

Result<std::vector<FailedAttempt>> PgStore::FailedSince(TimePoint since) {
  auto read = [](const PgRow& row) -> Result<FailedAttempt> {
    return FailedAttempt{JobId(row.Int(0)), NodeId(row.Int(1)), FromUnixMillis(row.Int(2))};
  };
  return Read([&](PgConn& c) {
    return QueryAll(c, read,
                    "SELECT job_id, node_id, finished_at FROM attempts "
                    "WHERE outcome = 'failed' AND finished_at >= $1 ORDER BY finished_at, job_id",
                    ToUnixMillis(since));
  });
}

// ---- coordinators sharing the store ------------------------------------------------------------

Result<void> PgStore::HeartbeatCoordinator(std::string_view url, TimePoint now) {
  return Write([&](PgConn& c) -> Result<void> {
    return UpdateOne(c,
                     "INSERT INTO coordinators (url, seen_at) VALUES ($1, $2) "
                     "ON CONFLICT (url) DO UPDATE SET seen_at = GREATEST(coordinators.seen_at, "
                     "excluded.seen_at)",
                     url, ToUnixMillis(now));
  });
}

Result<int> PgStore::ReclaimAudio(TimePoint now) {
  constexpr std::string_view kSilent = "(SELECT url FROM coordinators WHERE seen_at < $1)";
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
      "WHERE k.seen_at < $1 AND (j.state = 'preparing' OR (j.state = 'queued' AND j.relayed = 0)) "
      "ORDER BY j.id FOR UPDATE OF j");
  struct Orphan {
    JobId job;
    EpisodeId episode;
    std::string holder;
  };
  const int64_t silent_since = ToUnixMillis(now - kCoordinatorSilence);
  return Write([&](PgConn& c) -> Result<int> {
    Result<int64_t> requeued = c.Run(requeue, silent_since);
    if (!requeued) return std::unexpected(requeued.error());
    Result<int64_t> freed = c.Run(free, silent_since);
    if (!freed) return std::unexpected(freed.error());
    auto read = [](const PgRow& row) -> Result<Orphan> {
      return Orphan{JobId(row.Int(0)), EpisodeId(row.Int(1)), row.Text(2)};
    };
    Result<std::vector<Orphan>> lost = QueryAll(c, read, orphans, silent_since);
    if (!lost) return std::unexpected(lost.error());
    for (const Orphan& o : *lost) {
      const std::string why = fmt::format(
          "its uploaded audio was held only by coordinator {}, which stopped; upload it again",
          o.holder);
      if (Result<void> r = FailJob(c, o.job, o.episode, why, now); !r)
        return std::unexpected(r.error());
    }
    if (*requeued + *freed > 0)
      if (Result<void> n = NotifyWork(c); !n) return std::unexpected(n.error());
    return static_cast<int>(*requeued + *freed) + static_cast<int>(lost->size());
  });
}

}  // namespace podfleet
