#include "store/migrations.h"

#include <fmt/format.h>

#include <array>
#include <string>

namespace podfleet {
namespace {

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE feeds (
  id INTEGER PRIMARY KEY,
  url TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL DEFAULT '',
  added_at INTEGER NOT NULL,
  polled_at INTEGER,
  last_error TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE episodes (
  id INTEGER PRIMARY KEY,
  feed_id INTEGER REFERENCES feeds(id) ON DELETE CASCADE,
  guid TEXT NOT NULL,
  title TEXT NOT NULL,
  audio_url TEXT NOT NULL,
  audio_type TEXT NOT NULL,
  audio_length INTEGER NOT NULL,
  duration_ms INTEGER,
  published_at INTEGER,
  transcript_links TEXT NOT NULL DEFAULT '[]',
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'skipped')),
  error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX episodes_feed_guid ON episodes(feed_id, guid) WHERE feed_id IS NOT NULL;
CREATE UNIQUE INDEX episodes_loose_guid ON episodes(guid) WHERE feed_id IS NULL;
CREATE INDEX episodes_newest ON episodes(coalesce(published_at, created_at) DESC, id DESC);
CREATE INDEX episodes_state ON episodes(state);

CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  episode_id INTEGER NOT NULL UNIQUE REFERENCES episodes(id) ON DELETE CASCADE,
  state TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done', 'failed')),
  priority INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  lease_expiries INTEGER NOT NULL DEFAULT 0,
  not_before INTEGER,
  error TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX jobs_claimable ON jobs(priority DESC, id) WHERE state = 'queued';
CREATE INDEX jobs_state ON jobs(state);

CREATE TABLE attempts (
  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  number INTEGER NOT NULL,
  node_id INTEGER NOT NULL,
  leased_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  stage TEXT,
  fraction REAL,
  outcome TEXT NOT NULL DEFAULT 'running'
      CHECK (outcome IN ('running', 'done', 'failed', 'released', 'expired')),
  finished_at INTEGER,
  error TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (job_id, number)
) STRICT;
CREATE INDEX attempts_running_expiry ON attempts(expires_at) WHERE outcome = 'running';
CREATE INDEX attempts_done_at ON attempts(finished_at) WHERE outcome = 'done';

CREATE TABLE transcripts (
  episode_id INTEGER PRIMARY KEY REFERENCES episodes(id) ON DELETE CASCADE,
  language TEXT NOT NULL,
  engine TEXT NOT NULL,
  model TEXT NOT NULL,
  audio_duration_ms INTEGER NOT NULL,
  engine_time_ms INTEGER NOT NULL,
  segments TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE nodes (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  engine TEXT NOT NULL,
  model TEXT NOT NULL,
  version TEXT NOT NULL,
  hardware TEXT NOT NULL,
  speed REAL NOT NULL,
  blocked_reason TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  registered_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  retired_at INTEGER
) STRICT;

CREATE TABLE enrollment_tokens (
  token_hash TEXT PRIMARY KEY,
  label TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT;
)sql";

// Node 0 stands for unauthenticated clients, so node_id has no foreign key; retired nodes keep
// their history.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE transfers (
  node_id INTEGER NOT NULL,
  hour INTEGER NOT NULL,
  bytes INTEGER NOT NULL DEFAULT 0,
  audio_ms INTEGER NOT NULL DEFAULT 0,
  requests INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (node_id, hour)
) STRICT;
)sql";

// Quarantine (store.h, RetryPolicy::max_lease_expiries): when a job was set aside because its
// leases kept expiring. The evidence (which nodes, when) is the job's expired attempts.
constexpr std::string_view kSchemaV3 = R"sql(
ALTER TABLE jobs ADD COLUMN quarantined_at INTEGER;
)sql";

// Jobs become chunks of episodes: (episode_id, chunk_index) is unique instead of episode_id, so
// jobs is rebuilt (foreign keys are off during migrations, see migrations.h); attempts keep their
// job ids. job_results keeps what each finished job reported.
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE jobs_v4 (
  id INTEGER PRIMARY KEY,
  episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
  state TEXT NOT NULL CHECK (state IN ('preparing', 'queued', 'leased', 'done', 'failed')),
  priority INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  lease_expiries INTEGER NOT NULL DEFAULT 0,
  not_before INTEGER,
  error TEXT NOT NULL DEFAULT '',
  chunk_index INTEGER NOT NULL DEFAULT 0,
  chunk_count INTEGER NOT NULL DEFAULT 1,
  start_ms INTEGER NOT NULL DEFAULT 0,
  end_ms INTEGER,
  relayed INTEGER NOT NULL DEFAULT 0 CHECK (relayed IN (0, 1)),
  quarantined_at INTEGER,
  UNIQUE (episode_id, chunk_index)
) STRICT;
INSERT INTO jobs_v4 (id, episode_id, state, priority, attempts, failures, lease_expiries,
                     not_before, error, quarantined_at)
  SELECT id, episode_id, state, priority, attempts, failures, lease_expiries, not_before, error,
         quarantined_at
  FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v4 RENAME TO jobs;
CREATE INDEX jobs_claimable ON jobs(priority DESC, id) WHERE state = 'queued';
CREATE INDEX jobs_state ON jobs(state);

CREATE TABLE job_results (
  job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
  language TEXT NOT NULL,
  engine TEXT NOT NULL,
  model TEXT NOT NULL,
  audio_duration_ms INTEGER NOT NULL,
  engine_time_ms INTEGER NOT NULL,
  segments TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL
) STRICT;
INSERT INTO job_results (job_id, language, engine, model, audio_duration_ms, engine_time_ms,
                         created_at)
  SELECT j.id, t.language, t.engine, t.model, t.audio_duration_ms, t.engine_time_ms, t.created_at
  FROM jobs j JOIN transcripts t ON t.episode_id = j.episode_id WHERE j.state = 'done';
)sql";

// Analytics: the prefetch wait a worker reports per attempt (NULL: not reported) and a price per
// hour the node's operator set (NULL: the coordinator's price table decides).
constexpr std::string_view kSchemaV5 = R"sql(
ALTER TABLE attempts ADD COLUMN waited_ms INTEGER;
ALTER TABLE nodes ADD COLUMN price_per_hour REAL;
)sql";

// Feed identity and polite polling: feed_urls holds every (normalized) URL a feed was known by,
// its current one included, so a feed added again under an old URL is recognised; podcast_guid
// and fingerprint recognise it under any URL. etag and last_modified are sent back as conditional
// request headers; failures and next_poll_at drive backoff and the jittered schedule. Episodes are
// also looked up by audio URL within their feed.
constexpr std::string_view kSchemaV6 = R"sql(
ALTER TABLE feeds ADD COLUMN podcast_guid TEXT NOT NULL DEFAULT '';
ALTER TABLE feeds ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
ALTER TABLE feeds ADD COLUMN etag TEXT NOT NULL DEFAULT '';
ALTER TABLE feeds ADD COLUMN last_modified TEXT NOT NULL DEFAULT '';
ALTER TABLE feeds ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN next_poll_at INTEGER;
CREATE INDEX feeds_podcast_guid ON feeds(podcast_guid) WHERE podcast_guid != '';
CREATE INDEX feeds_fingerprint ON feeds(fingerprint) WHERE fingerprint != '';
CREATE TABLE feed_urls (
  url TEXT PRIMARY KEY,
  feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE
) STRICT;
CREATE INDEX feed_urls_feed ON feed_urls(feed_id);
INSERT INTO feed_urls (url, feed_id) SELECT url, id FROM feeds;
CREATE INDEX episodes_feed_audio ON episodes(feed_id, audio_url) WHERE feed_id IS NOT NULL;
)sql";

// Transcripts as the product. Search: every transcript segment as a row, its text in an FTS5
// index over that row (external content, kept in step by triggers), filled from the transcripts
// stored so far; the store writes a transcript's segments in the transaction that writes the
// transcript. Publishers' transcripts (linked by feed items) beside the fleet's, a per-feed
// choice to transcribe anyway, and why a linked transcript was not used.
constexpr std::string_view kSchemaV7 = R"sql(
CREATE TABLE publisher_transcripts (
  episode_id INTEGER PRIMARY KEY REFERENCES episodes(id) ON DELETE CASCADE,
  url TEXT NOT NULL,
  type TEXT NOT NULL,
  language TEXT NOT NULL,
  audio_duration_ms INTEGER NOT NULL,
  segments TEXT NOT NULL,
  fetched_at INTEGER NOT NULL
) STRICT;
ALTER TABLE feeds ADD COLUMN transcribe_anyway INTEGER NOT NULL DEFAULT 0;
ALTER TABLE episodes ADD COLUMN transcript_note TEXT NOT NULL DEFAULT '';

CREATE TABLE transcript_segments (
  id INTEGER PRIMARY KEY,
  episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  speaker TEXT NOT NULL DEFAULT '',
  text TEXT NOT NULL
) STRICT;
CREATE INDEX transcript_segments_episode ON transcript_segments(episode_id, start_ms);
CREATE VIRTUAL TABLE transcript_search USING fts5(
  text, content='transcript_segments', content_rowid='id',
  tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER transcript_segments_indexed AFTER INSERT ON transcript_segments BEGIN
  INSERT INTO transcript_search (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER transcript_segments_unindexed AFTER DELETE ON transcript_segments BEGIN
  INSERT INTO transcript_search (transcript_search, rowid, text) VALUES ('delete', old.id, old.text);
END;
INSERT INTO transcript_segments (episode_id, start_ms, end_ms, speaker, text)
  SELECT t.episode_id, coalesce(json_extract(s.value, '$.start'), 0),
         coalesce(json_extract(s.value, '$.end'), 0), coalesce(json_extract(s.value, '$.speaker'), ''),
         coalesce(json_extract(s.value, '$.text'), '')
  FROM transcripts t, json_each(t.segments) s
  WHERE json_valid(t.segments)
  ORDER BY t.episode_id, s.key;
)sql";

// Engine states a node runs on one loaded model (= jobs it takes at once; engine.h).
constexpr std::string_view kSchemaV8 = R"sql(
ALTER TABLE nodes ADD COLUMN engine_states INTEGER NOT NULL DEFAULT 1;
)sql";

// What a job asks of the worker that claims it (JobRequirement); '' asks nothing.
constexpr std::string_view kSchemaV9 = R"sql(
ALTER TABLE jobs ADD COLUMN want_engine TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN want_model TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN want_language TEXT NOT NULL DEFAULT '';
)sql";

// The autoscaler's decision log (the newest rows only: AddDecisions prunes the rest).
constexpr std::string_view kSchemaV10 = R"sql(
CREATE TABLE autoscale_decisions (
  id INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  text TEXT NOT NULL
);
)sql";

// Several coordinators' audio (PostgreSQL only in practice: SQLite has one coordinator, which
// records nothing here): their heartbeats, and which one holds each relayed chunk's audio or
// prepares a job ('' for none). PostgreSQL schema 3.
constexpr std::string_view kSchemaV11 = R"sql(
CREATE TABLE coordinators (
  url TEXT PRIMARY KEY,
  seen_at INTEGER NOT NULL
) STRICT;
ALTER TABLE jobs ADD COLUMN audio_at TEXT NOT NULL DEFAULT '';
)sql";

// Chunks planned for workers to read from the origin and cut at seams (Chunk::seam, origin-range
// mode): how far either side of each planned boundary the cut is searched; 0: exact edges.
// PostgreSQL schema 4.
constexpr std::string_view kSchemaV12 = R"sql(
ALTER TABLE jobs ADD COLUMN seam_ms INTEGER NOT NULL DEFAULT 0;
)sql";

constexpr std::array kMigrations{
    Migration{1, "feeds, episodes, jobs, attempts, transcripts, nodes, enrollment tokens",
              kSchemaV1},
    Migration{2, "hourly totals of audio bytes served per node", kSchemaV2},
    Migration{3, "jobs.quarantined_at", kSchemaV3},
    Migration{4, "jobs are chunks of episodes; job results", kSchemaV4},
    Migration{5, "prefetch wait per attempt, price per hour per node", kSchemaV5},
    Migration{6, "feed identity (aliases, podcast:guid, fingerprint) and polling state", kSchemaV6},
    Migration{7, "transcript search index, publishers' transcripts", kSchemaV7},
    Migration{8, "engine states per node", kSchemaV8},
    Migration{9, "what each job asks of its worker (engine, model, language)", kSchemaV9},
    Migration{10, "the autoscaler's decision log", kSchemaV10},
    Migration{11, "coordinators and the audio each holds", kSchemaV11},
    Migration{12, "seam chunks read from the origin (jobs.seam_ms)", kSchemaV12},
};

Result<int64_t> PragmaInt(Db& db, std::string_view name) {
  Result<Statement> stmt = db.Prepare(fmt::format("PRAGMA {}", name));
  if (!stmt) return std::unexpected(stmt.error());
  if (Result<void> r = stmt->StepRow(name); !r) return std::unexpected(r.error());
  return stmt->Int(0);
}

// Stamps a new, empty file as podfleet's; refuses a file some other program made.
Result<void> ClaimFile(Db& db) {
  Result<int64_t> app_id = PragmaInt(db, "application_id");
  if (!app_id) return std::unexpected(app_id.error());
  if (*app_id == kApplicationId) return {};
  if (*app_id != 0) {
    return Corruption(fmt::format("not a podfleet database (application_id {:#x})", *app_id));
  }
  Result<Statement> tables = db.Prepare("SELECT count(*) FROM sqlite_schema");
  if (!tables) return std::unexpected(tables.error());
  if (Result<void> r = tables->StepRow("schema"); !r) return std::unexpected(r.error());
  if (tables->Int(0) != 0) return Corruption("not a podfleet database (tables but no podfleet id)");
  return db.Exec(fmt::format("PRAGMA application_id = {}", kApplicationId));
}

Result<void> CheckForeignKeys(Db& db) {
  Result<Statement> check = db.Prepare("PRAGMA foreign_key_check");
  if (!check) return std::unexpected(check.error());
  Result<bool> row = check->Step();
  if (!row) return std::unexpected(row.error());
  if (*row)
    return Internal(fmt::format("migration broke a foreign key in table {}", check->Text(0)));
  return {};
}

Result<void> Apply(Db& db, const Migration& m) {
  Result<void> r = db.Exec(std::string(m.sql));
  if (r) r = db.Exec(fmt::format("PRAGMA user_version = {}", m.version));
  return WithContext(r, fmt::format("schema migration {} ({})", m.version, m.summary));
}

}  // namespace

std::span<const Migration> SchemaMigrations() { return kMigrations; }

Result<int> Migrate(Db& db, std::span<const Migration> migrations) {
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  Result<Transaction> tx = Transaction::Begin(db, Transaction::Kind::kWrite);
  if (!tx) return std::unexpected(tx.error());
  if (Result<void> r = ClaimFile(db); !r) return std::unexpected(r.error());
  Result<int64_t> version = PragmaInt(db, "user_version");
  if (!version) return std::unexpected(version.error());
  if (*version > latest) {
    return Corruption(
        fmt::format("database schema version {} is newer than this program's {}; upgrade podfleet",
                    *version, latest));
  }
  for (const Migration& m : migrations) {
    if (m.version <= *version) continue;
    if (Result<void> r = Apply(db, m); !r) return std::unexpected(r.error());
  }
  if (*version < latest) {
    if (Result<void> r = CheckForeignKeys(db); !r) return std::unexpected(r.error());
  }
  if (Result<void> r = tx->Commit(); !r) return std::unexpected(r.error());
  return latest;
}

}  // namespace podfleet
