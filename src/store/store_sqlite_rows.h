// How SqliteStore maps rows and JSON columns to the model types (internal to src/store).
//
// Each k*Columns string lists, in order, the columns its Read* function expects, qualified by the
// table alias the queries use (f feeds, e episodes, j jobs, a attempts, t transcripts, n nodes).
// Read* return kCorruption when a stored value cannot be decoded (an unknown state name, broken
// JSON), since only a damaged or foreign-edited database holds one.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace podfleet {

inline constexpr std::string_view kFeedColumns =
    "f.id, f.url, f.title, f.added_at, f.polled_at, f.last_error, "
    "(SELECT count(*) FROM episodes c WHERE c.feed_id = f.id), "
    "f.podcast_guid, f.etag, f.last_modified, f.failures, f.next_poll_at";
Result<Feed> ReadFeed(const Statement& row);

inline constexpr std::string_view kEpisodeColumns =
    "e.id, e.feed_id, e.guid, e.title, e.audio_url, e.audio_type, e.audio_length, e.duration_ms, "
    "e.published_at, e.transcript_links, e.state, e.error, e.created_at, e.updated_at";
Result<Episode> ReadEpisode(const Statement& row);
// kNotFound if there is no such episode.
Result<Episode> LoadEpisode(Db& db, EpisodeId id);
// Adds the episode's first job, claimable (kQueue) or held for the relay (kPrepare), asking
// `want` of the worker that claims it.
Result<void> InsertJob(Db& db, EpisodeId id, JobIntake intake, const JobRequirement& want);

// A job with its current lease: the attempt numbered jobs.attempts while the job is leased.
inline constexpr std::string_view kJobFrom =
    "jobs j LEFT JOIN attempts a "
    "ON a.job_id = j.id AND a.number = j.attempts AND j.state = 'leased'";
inline constexpr std::string_view kJobColumns =
    "j.id, j.episode_id, j.state, j.attempts, j.failures, j.lease_expiries, j.not_before, "
    "j.error, a.node_id, a.expires_at, a.stage, a.fraction, "
    "j.chunk_index, j.chunk_count, j.start_ms, j.end_ms, j.relayed, j.seam_ms, j.quarantined_at, "
    "j.want_engine, j.want_model, j.want_language";
// How many columns kJobColumns names: where columns selected after them start.
inline constexpr int kJobColumnCount = 1 + static_cast<int>(std::ranges::count(kJobColumns, ','));
Result<Job> ReadJob(const Statement& row);
// The chunk columns (chunk_index, chunk_count, start_ms, end_ms, relayed, seam_ms) from `col`.
Chunk ReadChunk(const Statement& row, int col);

inline constexpr std::string_view kAttemptColumns =
    "a.job_id, a.number, a.node_id, a.leased_at, a.expires_at, a.outcome, a.finished_at, a.error";
Result<Attempt> ReadAttempt(const Statement& row);

inline constexpr std::string_view kTranscriptColumns =
    "t.language, t.engine, t.model, t.audio_duration_ms, t.engine_time_ms, t.segments";
Result<Transcript> ReadTranscript(const Statement& row);

inline constexpr std::string_view kNodeColumns =
    "n.id, n.name, n.engine, n.model, n.version, n.hardware, n.speed, n.blocked_reason, "
    "n.registered_at, n.last_seen, n.retired_at, n.price_per_hour, n.engine_states";
Result<Node> ReadNode(const Statement& row);
// Records that the node was heard from at `now`, unless that was recorded less than a second
// before (so an idle worker's frequent calls change nothing, and a transaction that changes
// nothing costs no sync); last_seen never moves back. How many rows changed.
Result<int64_t> MarkSeen(Db& db, NodeId node, TimePoint now);

// JSON column codecs (formats in migrations.h). Encoders replace invalid UTF-8 with U+FFFD rather
// than fail: titles and engine output are outside input.
std::string EncodeSegments(const std::vector<Segment>& segments);
Result<std::vector<Segment>> DecodeSegments(std::string_view json);
std::string EncodeLinks(const std::vector<TranscriptLink>& links);
// `ids` as a JSON array, for json_each: "[1,2,3]".
std::string JsonIds(const std::vector<int64_t>& ids);
// One search index row of `episode`: [episode, start, end, speaker, text] (SearchRows).
std::string EncodeSearchRow(EpisodeId episode, const Segment& s);
Result<std::vector<TranscriptLink>> DecodeLinks(std::string_view json);
std::string EncodeHardware(const Hardware& hardware);
Result<Hardware> DecodeHardware(std::string_view json);

}  // namespace podfleet
