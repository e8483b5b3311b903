// Row decoders shared by the SQLite and PostgreSQL stores (internal to src/store). `Row` is
// sqlite_db.h's Statement or pg_conn.h's PgRow: both read a column by 0-based index with IsNull,
// Int, Real, Text and OptionalInt. The columns each decoder expects are store_sqlite_rows.h's
// k*Columns lists, in order. Each returns kCorruption for a value it cannot decode (an unknown
// state name, broken JSON): only a damaged or foreign-edited database holds one.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "store/store_sqlite_rows.h"

namespace podfleet {

template <class Row>
std::optional<TimePoint> OptionalTime(const Row& row, int col) {
  std::optional<int64_t> ms = row.OptionalInt(col);
  if (!ms) return std::nullopt;
  return FromUnixMillis(*ms);
}

inline std::optional<JobState> ParseJobState(std::string_view s) {
  for (JobState state : {JobState::kQueued, JobState::kLeased, JobState::kDone, JobState::kFailed,
                         JobState::kPreparing}) {
    if (ToString(state) == s) return state;
  }
  return std::nullopt;
}

template <class Row>
Result<Feed> DecodeFeed(const Row& row) {
  return Feed{FeedId(row.Int(0)),   row.Text(1), row.Text(2), FromUnixMillis(row.Int(3)),
              OptionalTime(row, 4), row.Text(5), row.Int(6),  row.Text(7),
              row.Text(8),          row.Text(9), row.Int(10), OptionalTime(row, 11)};
}

template <class Row>
Result<Episode> DecodeEpisode(const Row& row) {
  Episode e;
  e.id = EpisodeId(row.Int(0));
  if (std::optional<int64_t> feed = row.OptionalInt(1)) e.feed_id = FeedId(*feed);
  e.info.guid = row.Text(2);
  e.info.title = row.Text(3);
  e.info.audio_url = row.Text(4);
  e.info.audio_type = row.Text(5);
  e.info.audio_length = row.Int(6);
  if (std::optional<int64_t> ms = row.OptionalInt(7)) e.info.duration = Millis(*ms);
  e.info.published_at = OptionalTime(row, 8);
  Result<std::vector<TranscriptLink>> links = DecodeLinks(row.Text(9));
  if (!links) return std::unexpected(links.error());
  e.info.transcript_links = std::move(*links);
  std::optional<EpisodeState> state = ParseEpisodeState(row.Text(10));
  if (!state) return Corruption(fmt::format("episode {}: unknown state", e.id.value()));
  e.state = *state;
  e.error = row.Text(11);
  e.created_at = FromUnixMillis(row.Int(12));
  e.updated_at = FromUnixMillis(row.Int(13));
  return e;
}

template <class Row>
Chunk DecodeChunk(const Row& row, int col) {
  Chunk c;
  c.index = static_cast<int>(row.Int(col));
  c.count = static_cast<int>(row.Int(col + 1));
  c.start = Millis(row.Int(col + 2));
  if (std::optional<int64_t> end = row.OptionalInt(col + 3)) c.end = Millis(*end);
  c.relayed = row.Int(col + 4) == 1;
  c.seam = Millis(row.Int(col + 5));
  return c;
}

template <class Row>
Result<Job> DecodeJob(const Row& row) {
  Job job;
  job.id = JobId(row.Int(0));
  job.episode = EpisodeId(row.Int(1));
  std::optional<JobState> state = ParseJobState(row.Text(2));
  if (!state) return Corruption(fmt::format("job {}: unknown state", job.id.value()));
  job.state = *state;
  job.attempts = static_cast<int>(row.Int(3));
  job.failures = static_cast<int>(row.Int(4));
  job.lease_expiries = static_cast<int>(row.Int(5));
  job.not_before = OptionalTime(row, 6);
  job.error = row.Text(7);
  job.chunk = DecodeChunk(row, 12);
  job.quarantined_at = OptionalTime(row, 18);
  job.want = JobRequirement{row.Text(19), row.Text(20), row.Text(21)};
  if (row.IsNull(8)) return job;  // not leased
  const AttemptId attempt(job.attempts);
  job.lease = Lease{job.id, attempt, NodeId(row.Int(8)), FromUnixMillis(row.Int(9))};
  if (row.IsNull(10)) return job;  // no progress reported yet
  std::optional<Stage> stage = ParseStage(row.Text(10));
  if (!stage) return Corruption(fmt::format("job {}: unknown stage", job.id.value()));
  job.progress = Progress{job.id, attempt, *stage, row.Real(11)};
  return job;
}

template <class Row>
Result<Attempt> DecodeAttempt(const Row& row) {
  Attempt a;
  a.job = JobId(row.Int(0));
  a.number = AttemptId(row.Int(1));
  a.node = NodeId(row.Int(2));
  a.leased_at = FromUnixMillis(row.Int(3));
  a.expires_at = FromUnixMillis(row.Int(4));
  std::optional<AttemptOutcome> outcome = ParseAttemptOutcome(row.Text(5));
  if (!outcome) {
    return Corruption(
        fmt::format("job {} attempt {}: unknown outcome", a.job.value(), a.number.value()));
  }
  a.outcome = *outcome;
  a.finished_at = OptionalTime(row, 6);
  a.error = row.Text(7);
  return a;
}

template <class Row>
Result<Transcript> DecodeTranscript(const Row& row) {
  Result<std::vector<Segment>> segments = DecodeSegments(row.Text(5));
  if (!segments) return std::unexpected(segments.error());
  return Transcript{row.Text(0),        row.Text(1),        row.Text(2),
                    Millis(row.Int(3)), Millis(row.Int(4)), std::move(*segments)};
}

template <class Row>
Result<Node> DecodeNode(const Row& row) {
  Result<Hardware> hardware = DecodeHardware(row.Text(5));
  if (!hardware) return std::unexpected(hardware.error());
  NodeInfo info{row.Text(1), row.Text(2), row.Text(3), row.Text(4),
                *hardware,   row.Real(6), row.Text(7)};
  if (!row.IsNull(11)) info.price_per_hour = row.Real(11);
  info.engine_states = static_cast<int>(row.Int(12));
  return Node{NodeId(row.Int(0)), std::move(info), FromUnixMillis(row.Int(8)),
              FromUnixMillis(row.Int(9)), !row.IsNull(10)};
}

}  // namespace podfleet
