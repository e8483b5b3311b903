// The SQLite schema of the store, as numbered migrations (doc/store.md tells the same story).
//
// A podfleet database carries PRAGMA application_id = kApplicationId and records the last
// migration applied in PRAGMA user_version. Migrate applies the pending migrations in order inside
// one BEGIN IMMEDIATE transaction: a crash leaves the old version whole, and two processes opening
// one new file cannot both migrate it. A released migration is never edited; a schema change is a
// new migration appended to the list.
//
// Schema, version 1. Times are INTEGER Unix milliseconds (UTC); "?" marks a nullable column.
//   feeds              id, url UNIQUE, title, added_at, polled_at?, last_error
//   episodes           id, feed_id? -> feeds, guid, title, audio_url, audio_type, audio_length,
//                      duration_ms?, published_at?, transcript_links (JSON), state, error,
//                      created_at, updated_at
//                      identity: UNIQUE (feed_id, guid) among feed episodes, UNIQUE guid among
//                      feed-less ones (SQLite treats NULLs as distinct, hence two partial indexes)
//   jobs               id, episode_id UNIQUE -> episodes, state, priority, attempts, failures,
//                      lease_expiries, not_before?, error, quarantined_at? (version 3)
//   attempts           (job_id -> jobs, number) PRIMARY KEY, node_id, leased_at, expires_at,
//                      stage?, fraction?, outcome, finished_at?, error
//   transcripts        episode_id PRIMARY KEY -> episodes, language, engine, model,
//                      audio_duration_ms, engine_time_ms, segments (JSON), created_at
//   nodes              id, name, engine, model, version, hardware (JSON), speed, blocked_reason,
//                      token_hash UNIQUE, registered_at, last_seen, retired_at?
//   enrollment_tokens  token_hash PRIMARY KEY, label, created_at, revoked (0 or 1)
// Version 2 adds:
//   transfers          (node_id, hour) PRIMARY KEY, bytes, audio_ms, requests: audio bytes the
//                      coordinator served, summed per node and hour (hour = start, Unix ms);
//                      node_id 0 = an unauthenticated client, hence no foreign key
// Version 4 rebuilds jobs (same ids) and adds:
//   jobs               + chunk_index, chunk_count, start_ms, end_ms?, relayed (0 or 1); state may
//                      be 'preparing'; identity UNIQUE (episode_id, chunk_index) instead of
//                      UNIQUE episode_id: an episode cut by the relay has one job per chunk
//   job_results        job_id PRIMARY KEY -> jobs, language, engine, model, audio_duration_ms,
//                      engine_time_ms, segments (JSON, kept only until the episode is stitched),
//                      created_at: what each finished job reported
// Version 5 adds:
//   attempts           + waited_ms?: how long the decoded audio waited in the worker's prefetch
//   nodes              + price_per_hour?: the node operator's price (else the price table's)
// Version 6 adds:
//   transcript_segments  id, episode_id -> episodes, start_ms, end_ms, speaker, text: each segment
//                      of each stored transcript as a row, written in the transcript's own
//                      transaction (store.h, Search)
//   transcript_search  FTS5 over transcript_segments.text (external content, rowid = segment id),
//                      tokenizer unicode61 without diacritics; triggers on transcript_segments
//                      keep it in step; 'rebuild' remakes it from the segments
//   publisher_transcripts  episode_id PRIMARY KEY -> episodes, url, type (MIME), language,
//                      audio_duration_ms, segments (JSON as transcripts.segments), fetched_at:
//                      the transcript the episode's feed item linked, as fetched and parsed
//   feeds              + transcribe_anyway (0 or 1): queue items that link a transcript too
//   episodes           + transcript_note: why a linked transcript was not used
// Version 8 adds nodes.engine_states. Version 9 adds:
//   jobs               + want_engine, want_model, want_language ('' asks nothing): what the job
//                      asks of the worker that claims it (JobRequirement); chunks copy their
//                      episode's first job's
// Version 12 adds:
//   jobs               + seam_ms (0 = exact edges): a chunk planned for its worker to read from
//                      the origin and cut at seams searched this far either side (Chunk::seam)
// An episode with a publisher's transcript and no fleet transcript is done without a job; the
// transcript shown is the fleet's when there is one, and the search index holds the one shown.
// Every "-> table" is a foreign key with ON DELETE CASCADE: removing a feed removes its episodes,
// their jobs, attempts and transcripts. attempts.node_id has no foreign key: nodes are never
// deleted (only retired), and the lease check compares ids anyway.
//
// State machines. A job's current lease is its attempt numbered jobs.attempts, and
//   jobs.state = 'leased'  <=>  that attempt's outcome = 'running'.
//
//   job      preparing --relay cut the audio--> queued (one job per chunk, the first keeps the id)
//            preparing --relay failed: retryable (not_before = backoff) or permanent--> failed
//            queued --claim--> leased --complete--> done
//            leased --release, lease expiry, retryable failure--> queued (not_before = backoff)
//            leased --permanent failure, or failures >= max_failures--> failed
//            leased --lease expiry, lease_expiries >= max_lease_expiries--> failed, quarantined_at
//            queued, leased or failed --late result of an expired attempt--> done
//            failed --retry (operator)--> queued, failures = lease_expiries = 0, quarantined_at
//            NULL
//   attempt  running --> done | failed | released | expired   (finished_at set when it ends)
//            expired --late result accepted--> done; running --superseded by a late result-->
//            released
//   episode  follows its jobs: failed if any failed, done if all are done (its transcript is
//            then the chunks' results stitched), running if any is leased or done, else queued;
//            an episode without an audio URL is 'skipped' and has no job.
// jobs.attempts only ever grows, retries included, so an attempt number is never handed out twice:
// that is what fences stale workers.
//
// transcripts.segments is JSON: [{"start": ms, "end": ms, "text": "...", "speaker": "...",
// "words": [[start_ms, end_ms, "text", confidence], ...]}, ...]. A transcript is always written
// and read whole and no query looks inside one, so one row per transcript beats ~10k word rows
// per hour of audio inserted under the write lock. Words are arrays, not objects, to halve them.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/error.h"
#include "store/sqlite_db.h"

namespace podfleet {

inline constexpr int64_t kApplicationId = 0x706f6466;  // "podf"

struct Migration {
  int version;               // 1, 2, ... increasing (a gap is harmless)
  std::string_view summary;  // one line, for the log
  std::string_view sql;      // a script of statements
};

// podfleet's migrations, in order.
std::span<const Migration> SchemaMigrations();

// Brings `db` up to the last of `migrations` and returns the version it is at now. A new, empty
// file is stamped with kApplicationId first. After applying any migration it runs
// PRAGMA foreign_key_check, so migrations may rebuild tables with foreign keys off.
// kCorruption if the file belongs to another application (another application id, or tables
// without one) or its version is newer than the last migration; errors of the migrations' SQL
// otherwise, with nothing applied.
// REQUIRES: no transaction is open on `db`; foreign keys are off (they cannot change inside the
// migration's transaction).
Result<int> Migrate(Db& db, std::span<const Migration> migrations = SchemaMigrations());

}  // namespace podfleet
