// SqliteStore: opening, feeds, episodes, nodes and enrollment tokens. Jobs and leases are in
// store_sqlite_jobs.cc.
#include "store/store_sqlite.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>

#include "store/migrations.h"
#include "store/search_query.h"
#include "store/store_sqlite_rows.h"

namespace podfleet {
namespace {

// Long enough to ride out a CLI command holding the write lock; short enough that a wedged
// process surfaces as kUnavailable rather than a hung coordinator.
constexpr int kBusyTimeoutMs = 5'000;

// synchronous = FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss. A
// forgotten Claim would let the same attempt number be granted again after the reboot, breaking
// the fencing workers rely on, and a forgotten Complete loses a transcript already acknowledged.
// FULL costs one fsync per write call; the coordinator makes tens of them a second at most.
constexpr char kConnectionPragmas[] = "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;";

std::optional<int64_t> OptionalMillis(std::optional<TimePoint> t) {
  if (!t) return std::nullopt;
  return ToUnixMillis(*t);
}

Result<void> EnableWal(Db& db) {
  Result<Statement> stmt = db.Prepare("PRAGMA journal_mode = WAL");
  if (!stmt) return std::unexpected(stmt.error());
  if (Result<void> r = stmt->StepRow("journal mode"); !r) return std::unexpected(r.error());
  if (const std::string mode = stmt->Text(0); mode != "wal") {
    return Unavailable(fmt::format("cannot use WAL mode (journal mode stays {})", mode));
  }
  return {};
}

// The problems PRAGMA quick_check or integrity_check reports (at most `limit`), empty when none;
// damage that stops the check itself is its one problem.
Result<std::vector<std::string>> Check(Db& db, bool full, int limit) {
  auto rows = QueryAll(
      db, [](const Statement& row) -> Result<std::string> { return row.Text(0); },
      fmt::format("PRAGMA {}({})", full ? "integrity_check" : "quick_check", limit));
  if (!rows && rows.error().code == Code::kCorruption)
    return std::vector<std::string>{rows.error().message};
  if (!rows) return rows;
  if (rows->size() == 1 && rows->front() == "ok") rows->clear();
  return rows;
}

// Refuses a database that fails its quick check: a damaged file must not take new writes.
Result<void> QuickCheck(Db& db, const std::string& path) {
  auto problems = Check(db, /*full=*/false, 5);
  if (!problems) return std::unexpected(problems.error());
  if (problems->empty()) return {};
  std::string list;
  for (const std::string& p : *problems) list += (list.empty() ? "" : "; ") + p;
  return Corruption(
      fmt::format("{} fails its quick check ({}): restore a backup (`podfleet store "
                  "restore`) or run `podfleet store check`",
                  path, list));
}

Result<std::unique_ptr<Store>> Open(const std::string& path) {
  Result<Db> db = Db::Open(path, kBusyTimeoutMs);
  if (!db) return std::unexpected(db.error());
  if (Result<void> r = EnableWal(*db); !r) return std::unexpected(r.error());
  if (Result<void> r = QuickCheck(*db, path); !r) return std::unexpected(r.error());
  if (Result<int> r = Migrate(*db); !r) return std::unexpected(r.error());
  if (Result<void> r = db->Exec(kConnectionPragmas); !r) return std::unexpected(r.error());
  return std::make_unique<SqliteStore>(std::move(*db), path);
}

Result<Feed> LoadFeed(Db& db, FeedId id) {
  static const std::string sql =
      fmt::format("SELECT {} FROM feeds f WHERE f.id = ?1", kFeedColumns);
  return QueryOne(db, ReadFeed, fmt::format("feed {}", id.value()), sql, id.value());
}

}  // namespace

Result<void> InsertJob(Db& db, EpisodeId id, JobIntake intake, const JobRequirement& want) {
  Result<int64_t> r = db.Run(
      "INSERT INTO jobs (episode_id, state, relayed, want_engine, want_model, want_language) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
      id.value(),
      ToString(intake == JobIntake::kPrepare ? JobState::kPreparing : JobState::kQueued),
      intake == JobIntake::kPrepare ? 1 : 0, want.engine, want.model, want.language);
  if (!r) return std::unexpected(r.error());
  return {};
}

namespace {

Result<Node> LoadNode(Db& db, NodeId id) {
  static const std::string sql =
      fmt::format("SELECT {} FROM nodes n WHERE n.id = ?1", kNodeColumns);
  return QueryOne(db, ReadNode, fmt::format("node {}", id.value()), sql, id.value());
}

// The feed's episode with this guid, else with this audio URL: its id and audio URL.
Result<std::optional<std::pair<int64_t, std::string>>> FindFeedEpisode(Db& db, FeedId feed,
                                                                       const EpisodeInfo& info) {
  constexpr std::string_view kSql =
      "SELECT id, audio_url FROM episodes WHERE feed_id = ?1 "
      "AND (guid = ?2 OR (?3 != '' AND audio_url = ?3)) ORDER BY guid = ?2 DESC, id LIMIT 1";
  auto read = [](const Statement& row) -> Result<std::pair<int64_t, std::string>> {
    return std::pair{row.Int(0), row.Text(1)};
  };
  auto found = QueryAll(db, read, kSql, feed.value(), info.guid, info.audio_url);
  if (!found) return std::unexpected(found.error());
  if (found->empty()) return std::nullopt;
  return found->front();
}

// A known episode follows its item: a new audio URL (with its type and length), and the title,
// duration and date when the item gives them.
Result<void> RefreshEpisode(Db& db, int64_t id, const std::string& stored_audio_url,
                            const EpisodeInfo& info, TimePoint now) {
  const bool moved = !info.audio_url.empty() && info.audio_url != stored_audio_url;
  std::optional<int64_t> duration_ms;
  if (info.duration) duration_ms = info.duration->count();
  Result<int64_t> r = db.Run(
      "UPDATE episodes SET audio_url = iif(?2, ?3, audio_url), "
      "audio_type = iif(?2, ?4, audio_type), audio_length = iif(?2, ?5, audio_length), "
      "title = iif(?6 = '', title, ?6), duration_ms = coalesce(?7, duration_ms), "
      "published_at = coalesce(?8, published_at), updated_at = ?9 "
      "WHERE id = ?1 AND (?2 OR title IS NOT iif(?6 = '', title, ?6) "
      "OR duration_ms IS NOT coalesce(?7, duration_ms) "
      "OR published_at IS NOT coalesce(?8, published_at))",
      id, moved ? 1 : 0, info.audio_url, info.audio_type, info.audio_length, info.title,
      duration_ms, OptionalMillis(info.published_at), ToUnixMillis(now));
  if (!r) return std::unexpected(r.error());
  return {};
}

// Inserts the episode unless its identity is known (then refreshes it); returns its id when it
// was new. An episode with an audio URL gets a queued job unless `hold` gives a reason to store
// it skipped; one without is stored skipped.
Result<std::optional<EpisodeId>> InsertEpisode(Db& db, std::optional<FeedId> feed,
                                               const EpisodeInfo& info, JobIntake intake,
                                               std::string_view hold, TimePoint now,
                                               bool queue = true, const JobRequirement& want = {}) {
  if (feed) {
    auto known = FindFeedEpisode(db, *feed, info);
    if (!known) return std::unexpected(known.error());
    if (*known) {
      if (auto r = RefreshEpisode(db, (*known)->first, (*known)->second, info, now); !r)
        return std::unexpected(r.error());
      return std::nullopt;
    }
  }
  constexpr std::string_view kSql =
      "INSERT INTO episodes (feed_id, guid, title, audio_url, audio_type, audio_length, "
      "duration_ms, published_at, transcript_links, state, error, created_at, updated_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12) "
      "ON CONFLICT DO NOTHING RETURNING id";
  const bool skipped = info.audio_url.empty() || !hold.empty();
  std::optional<int64_t> feed_id;
  if (feed) feed_id = feed->value();
  std::optional<int64_t> duration_ms;
  if (info.duration) duration_ms = info.duration->count();
  Result<std::vector<int64_t>> ids =
      QueryAll(db, ReadInt, kSql, feed_id, info.guid, info.title, info.audio_url, info.audio_type,
               info.audio_length, duration_ms, OptionalMillis(info.published_at),
               EncodeLinks(info.transcript_links),
               ToString(skipped ? EpisodeState::kSkipped : EpisodeState::kQueued),
               info.audio_url.empty() ? std::string_view("no enclosure") : hold, ToUnixMillis(now));
  if (!ids) return std::unexpected(ids.error());
  if (ids->empty()) return std::nullopt;  // known already
  const EpisodeId id(ids->front());
  if (!skipped && queue) {
    if (auto r = InsertJob(db, id, intake, want); !r) return std::unexpected(r.error());
  }
  return id;
}

// Replaces a uniqueness conflict's SQL text with `message`.
template <class T>
Result<T> OnDuplicate(Result<T> r, std::string message) {
  if (!r && r.error().code == Code::kConflict) r.error().message = std::move(message);
  return r;
}

Result<void> RequireChanged(Result<int64_t> changed, std::string_view what) {
  if (!changed) return std::unexpected(changed.error());
  if (*changed == 0) return NotFound(fmt::format("{} not found", what));
  return {};
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  return WithContext(Open(path), "open store " + path);
}

Result<std::vector<std::string>> CheckSqliteDatabase(const std::string& path, bool full) {
  Result<Db> db = Db::OpenExisting(path, kBusyTimeoutMs);
  if (!db) return std::unexpected(db.error());
  return Check(*db, full, 100);
}

Result<void> CopySqliteDatabase(const std::string& from, const std::string& to) {
  Result<Db> source = Db::OpenExisting(from, kBusyTimeoutMs);
  if (!source) return std::unexpected(source.error());
  std::error_code ec;
  for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(to + suffix, ec);
  Result<Db> dest = Db::Open(to, kBusyTimeoutMs);
  if (!dest) return std::unexpected(dest.error());
  return WithContext(BackupInto(*source, *dest), fmt::format("copy {} to {}", from, to));
}

// ---- feeds -------------------------------------------------------------------------------------

Result<Feed> SqliteStore::AddFeed(std::string_view url, TimePoint now) {
  return Write([&](Db& db) -> Result<Feed> {
    const std::string duplicate = fmt::format("feed {} is already added", url);
    Result<int64_t> r =
        db.Run("INSERT INTO feeds (url, added_at) VALUES (?1, ?2)", url, ToUnixMillis(now));
    r = OnDuplicate(std::move(r), duplicate);
    if (!r) return std::unexpected(r.error());
    const FeedId id(db.LastInsertId());
    r = OnDuplicate(db.Run("INSERT INTO feed_urls (url, feed_id) VALUES (?1, ?2)", url, id.value()),
                    duplicate);
    if (!r) return std::unexpected(r.error());
    return LoadFeed(db, id);
  });
}

Result<std::optional<Feed>> SqliteStore::FindFeed(const FeedIdentity& identity) {
  static const std::string by_url = fmt::format(
      "SELECT {} FROM feed_urls u JOIN feeds f ON f.id = u.feed_id WHERE u.url = ?1", kFeedColumns);
  static const std::string by_guid = fmt::format(
      "SELECT {} FROM feeds f WHERE f.podcast_guid = ?1 AND ?1 != '' ORDER BY f.id LIMIT 1",
      kFeedColumns);
  static const std::string by_fingerprint = fmt::format(
      "SELECT {} FROM feeds f WHERE f.fingerprint = ?1 AND ?1 != '' ORDER BY f.id LIMIT 1",
      kFeedColumns);
  return Read([&](Db& db) -> Result<std::optional<Feed>> {
    std::vector<std::pair<const std::string*, const std::string*>> lookups;
    lookups.emplace_back(&by_url, &identity.url);
    for (const std::string& alias : identity.aliases) lookups.emplace_back(&by_url, &alias);
    lookups.emplace_back(&by_guid, &identity.podcast_guid);
    lookups.emplace_back(&by_fingerprint, &identity.fingerprint);
    for (const auto& [sql, key] : lookups) {
      Result<std::vector<Feed>> found = QueryAll(db, ReadFeed, *sql, *key);
      if (!found) return std::unexpected(found.error());
      if (!found->empty()) return found->front();
    }
    return std::nullopt;
  });
}

Result<void> SqliteStore::UpdateFeedIdentity(FeedId id, const FeedIdentity& identity) {
  return Write([&](Db& db) -> Result<void> {
    Result<int64_t> r = db.Run(
        "UPDATE feeds SET url = iif(?2 = '', url, ?2), "
        "podcast_guid = iif(?3 = '', podcast_guid, ?3), "
        "fingerprint = iif(?4 = '', fingerprint, ?4) WHERE id = ?1",
        id.value(), identity.url, identity.podcast_guid, identity.fingerprint);
    r = OnDuplicate(std::move(r), fmt::format("feed {} cannot move to {}: another feed has it",
                                              id.value(), identity.url));
    if (auto changed = RequireChanged(std::move(r), fmt::format("feed {}", id.value())); !changed)
      return changed;
    std::vector<std::string> urls = identity.aliases;
    urls.push_back(identity.url);
    for (const std::string& url : urls) {
      if (url.empty()) continue;
      Result<int64_t> added =
          db.Run("INSERT INTO feed_urls (url, feed_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING", url,
                 id.value());
      if (!added) return std::unexpected(added.error());
    }
    return {};
  });
}

Result<Feed> SqliteStore::GetFeed(FeedId id) {
  return Read([&](Db& db) { return LoadFeed(db, id); });
}

Result<std::vector<Feed>> SqliteStore::ListFeeds() {
  return Read([&](Db& db) {
    static const std::string sql =
        fmt::format("SELECT {} FROM feeds f ORDER BY f.id", kFeedColumns);
    return QueryAll(db, ReadFeed, sql);
  });
}

Result<void> SqliteStore::RemoveFeed(FeedId id) {
  return Write([&](Db& db) {
    return RequireChanged(db.Run("DELETE FROM feeds WHERE id = ?1", id.value()),
                          fmt::format("feed {}", id.value()));
  });
}

Result<void> SqliteStore::RecordFeedPoll(FeedId id, const FeedPoll& poll) {
  constexpr std::string_view kSql =
      "UPDATE feeds SET polled_at = ?2, title = iif(?3 = '', title, ?3), last_error = ?4, "
      "etag = iif(?5, ?6, etag), last_modified = iif(?5, ?7, last_modified), failures = ?8, "
      "next_poll_at = ?9 WHERE id = ?1";
  return Write([&](Db& db) {
    return RequireChanged(db.Run(kSql, id.value(), ToUnixMillis(poll.polled_at), poll.title,
                                 poll.error, poll.validators ? 1 : 0, poll.etag, poll.last_modified,
                                 poll.failures, OptionalMillis(poll.next_poll_at)),
                          fmt::format("feed {}", id.value()));
  });
}

// ---- episodes ----------------------------------------------------------------------------------

Result<std::vector<EpisodeId>> SqliteStore::AddEpisodes(std::optional<FeedId> feed,
                                                        const std::vector<EpisodeInfo>& episodes,
                                                        TimePoint now, JobIntake intake,
                                                        const std::vector<std::string>& hold,
                                                        const JobRequirement& want) {
  return Write([&](Db& db) -> Result<std::vector<EpisodeId>> {
    if (feed) {
      if (Result<Feed> f = LoadFeed(db, *feed); !f) return std::unexpected(f.error());
    }
    std::vector<EpisodeId> added;
    for (size_t i = 0; i < episodes.size(); ++i) {
      const std::string_view reason = i < hold.size() ? std::string_view(hold[i]) : "";
      Result<std::optional<EpisodeId>> id =
          InsertEpisode(db, feed, episodes[i], intake, reason, now, true, want);
      if (!id) return std::unexpected(id.error());
      if (*id) added.push_back(**id);
    }
    return added;
  });
}

Result<void> SqliteStore::QueueEpisode(EpisodeId id, TimePoint now, JobIntake intake) {
  return Write([&](Db& db) -> Result<void> {
    Result<Episode> episode = LoadEpisode(db, id);
    if (!episode) return std::unexpected(episode.error());
    if (episode->state != EpisodeState::kSkipped || episode->info.audio_url.empty()) {
      return Conflict(fmt::format("episode {} is {}{}, not skipped with audio", id.value(),
                                  ToString(episode->state),
                                  episode->info.audio_url.empty() ? " without audio" : ""));
    }
    Result<int64_t> r =
        db.Run("UPDATE episodes SET state = 'queued', error = '', updated_at = ?2 WHERE id = ?1",
               id.value(), ToUnixMillis(now));
    if (!r) return std::unexpected(r.error());
    return InsertJob(db, id, intake, {});
  });
}

Result<std::vector<EpisodeId>> SqliteStore::AddFeedItems(FeedId feed,
                                                         const std::vector<FeedItem>& items,
                                                         TimePoint now, JobIntake intake,
                                                         const std::vector<std::string>& hold) {
  return Write([&](Db& db) -> Result<std::vector<EpisodeId>> {
    Result<int64_t> anyway =
        QueryOne(db, ReadInt, fmt::format("feed {}", feed.value()),
                 "SELECT transcribe_anyway FROM feeds WHERE id = ?1", feed.value());
    if (!anyway) return std::unexpected(anyway.error());
    std::vector<EpisodeId> added;
    for (size_t i = 0; i < items.size(); ++i) {
      const FeedItem& item = items[i];
      const bool published = item.publisher.has_value();
      const bool queue = !published || *anyway != 0;
      const std::string_view reason = i < hold.size() ? std::string_view(hold[i]) : "";
      Result<std::optional<EpisodeId>> id =
          InsertEpisode(db, feed, item.info, intake, reason, now, queue);
      if (!id) return std::unexpected(id.error());
      if (!*id) continue;
      Result<int64_t> r = db.Run(
          "UPDATE episodes SET transcript_note = ?2, state = iif(?3, 'done', state), "
          "error = iif(?3, '', error) WHERE id = ?1",
          (*id)->value(), item.publisher_note, published && !queue);
      if (!r) return std::unexpected(r.error());
      if (published) {
        Result<void> stored =
            StorePublisherTranscript(db, **id, *item.publisher, item.publisher_link, now);
        if (!stored) return std::unexpected(stored.error());
      }
      added.push_back(**id);
    }
    return added;
  });
}

Result<void> SqliteStore::SetTranscribeAnyway(FeedId id, bool on) {
  return Write([&](Db& db) {
    return RequireChanged(
        db.Run("UPDATE feeds SET transcribe_anyway = ?2 WHERE id = ?1", id.value(), on),
        fmt::format("feed {}", id.value()));
  });
}

Result<bool> SqliteStore::TranscribesAnyway(FeedId id) {
  return Read([&](Db& db) -> Result<bool> {
    Result<int64_t> on = QueryOne(db, ReadInt, fmt::format("feed {}", id.value()),
                                  "SELECT transcribe_anyway FROM feeds WHERE id = ?1", id.value());
    if (!on) return std::unexpected(on.error());
    return *on != 0;
  });
}

Result<std::vector<std::string>> SqliteStore::ListGuids(FeedId feed) {
  auto read = [](const Statement& row) -> Result<std::string> { return row.Text(0); };
  return Read([&](Db& db) {
    return QueryAll(db, read, "SELECT guid FROM episodes WHERE feed_id = ?1", feed.value());
  });
}

Result<void> SqliteStore::DeleteEpisode(EpisodeId id) {
  // Jobs, attempts, results, transcripts and search rows go by ON DELETE CASCADE.
  return Write([&](Db& db) {
    return RequireChanged(db.Run("DELETE FROM episodes WHERE id = ?1", id.value()),
                          fmt::format("episode {}", id.value()));
  });
}

Result<QueueCounts> SqliteStore::CountEpisodes() {
  auto read = [](const Statement& row) -> Result<QueueCounts> {
    return QueueCounts{row.Int(0), row.Int(1), row.Int(2), row.Int(3)};
  };
  return Read([&](Db& db) {
    return QueryOne(
        db, read, "episodes",
        "SELECT coalesce(sum(state = 'queued'), 0), coalesce(sum(state = 'running'), 0), "
        "coalesce(sum(state = 'done'), 0), coalesce(sum(state = 'failed'), 0) "
        "FROM episodes");
  });
}

Result<Episode> SqliteStore::GetEpisode(EpisodeId id) {
  return Read([&](Db& db) { return LoadEpisode(db, id); });
}

Result<std::vector<Episode>> SqliteStore::ListEpisodes(const EpisodeFilter& filter) {
  if (filter.limit < 0 || filter.offset < 0) {
    return InvalidArgument("episode filter: limit and offset must not be negative");
  }
  // lower() folds ASCII only, so the title search is case-insensitive for ASCII letters. ?6 is the
  // search as an FTS5 query, or NULL when it holds nothing to search for (the title still may).
  static const std::string sql = fmt::format(
      "SELECT {} FROM episodes e "
      "WHERE (?1 IS NULL OR e.feed_id = ?1) AND (?2 IS NULL OR e.state = ?2) "
      "AND (?3 = '' OR instr(lower(e.title), lower(?3)) > 0 "
      "     OR (?6 IS NOT NULL AND e.id IN ({}))) "
      "ORDER BY coalesce(e.published_at, e.created_at) DESC, e.id DESC LIMIT ?4 OFFSET ?5",
      kEpisodeColumns, EpisodesMatchingSql(6));
  std::optional<int64_t> feed;
  if (filter.feed) feed = filter.feed->value();
  std::optional<std::string_view> state;
  if (filter.state) state = ToString(*filter.state);
  std::optional<std::string> match;
  if (!filter.search.empty()) {
    if (Result<std::string> q = ToFtsQuery(filter.search)) match = std::move(*q);
  }
  return Read([&](Db& db) {
    return QueryAll(db, ReadEpisode, sql, feed, state, filter.search, filter.limit, filter.offset,
                    match);
  });
}

// ---- nodes and tokens --------------------------------------------------------------------------

Result<Node> SqliteStore::RegisterNode(const NodeInfo& info, std::string_view token_hash,
                                       TimePoint now) {
  if (token_hash.empty()) return InvalidArgument("register node: empty token hash");
  constexpr std::string_view kSql =
      "INSERT INTO nodes (name, engine, model, version, hardware, speed, blocked_reason, "
      "token_hash, registered_at, last_seen, price_per_hour, engine_states) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)";
  return Write([&](Db& db) -> Result<Node> {
    Result<int64_t> r = db.Run(
        kSql, info.name, info.engine, info.model, info.version, EncodeHardware(info.hardware),
        info.speed, info.blocked_reason, token_hash, ToUnixMillis(now),
        info.price_per_hour >= 0 ? std::optional(info.price_per_hour) : std::nullopt,
        int64_t{std::max(1, info.engine_states)});
    r = OnDuplicate(std::move(r), "register node: token already in use");
    if (!r) return std::unexpected(r.error());
    return LoadNode(db, NodeId(db.LastInsertId()));
  });
}

Result<Node> SqliteStore::FindNodeByToken(std::string_view token_hash) {
  static const std::string sql = fmt::format(
      "SELECT {} FROM nodes n WHERE n.token_hash = ?1 AND n.retired_at IS NULL", kNodeColumns);
  return Read([&](Db& db) -> Result<Node> {
    Result<Node> node = QueryOne(db, ReadNode, "node token", sql, token_hash);
    if (!node && node.error().code == Code::kNotFound) {
      return PermissionDenied("unknown or retired node token");
    }
    return node;
  });
}

Result<std::vector<Node>> SqliteStore::ListNodes() {
  static const std::string sql = fmt::format("SELECT {} FROM nodes n ORDER BY n.id", kNodeColumns);
  return Read([&](Db& db) { return QueryAll(db, ReadNode, sql); });
}

Result<void> SqliteStore::RecordWait(JobId job, AttemptId attempt, Millis waited) {
  if (waited.count() < 0) return InvalidArgument("wait: negative duration");
  return Write([&](Db& db) {
    return RequireChanged(
        db.Run("UPDATE attempts SET waited_ms = ?3 WHERE job_id = ?1 AND number = ?2", job.value(),
               attempt.value(), waited.count()),
        fmt::format("attempt {} of job {}", attempt.value(), job.value()));
  });
}

Result<void> SqliteStore::SetNodeSpeed(NodeId id, double speed) {
  return Write([&](Db& db) {
    return RequireChanged(db.Run("UPDATE nodes SET speed = ?2 WHERE id = ?1", id.value(), speed),
                          fmt::format("node {}", id.value()));
  });
}

Result<void> SqliteStore::TouchNode(NodeId id, TimePoint now) {
  return Write([&](Db& db) {
    return RequireChanged(db.Run("UPDATE nodes SET last_seen = max(last_seen, ?2) WHERE id = ?1",
                                 id.value(), ToUnixMillis(now)),
                          fmt::format("node {}", id.value()));
  });
}

Result<void> SqliteStore::RetireNode(NodeId id, TimePoint now) {
  return Write([&](Db& db) {
    return RequireChanged(
        db.Run("UPDATE nodes SET retired_at = coalesce(retired_at, ?2) WHERE id = ?1", id.value(),
               ToUnixMillis(now)),
        fmt::format("node {}", id.value()));
  });
}

Result<void> SqliteStore::AddEnrollmentToken(std::string_view token_hash, std::string_view label,
                                             TimePoint now) {
  if (token_hash.empty()) return InvalidArgument("enrollment token: empty hash");
  return Write([&](Db& db) -> Result<void> {
    Result<int64_t> r =
        db.Run("INSERT INTO enrollment_tokens (token_hash, label, created_at) VALUES (?1, ?2, ?3)",
               token_hash, label, ToUnixMillis(now));
    r = OnDuplicate(std::move(r), "enrollment token already exists");
    if (!r) return std::unexpected(r.error());
    return {};
  });
}

Result<bool> SqliteStore::CheckEnrollmentToken(std::string_view token_hash) {
  return Read([&](Db& db) -> Result<bool> {
    Result<int64_t> live = QueryOne(
        db, ReadInt, "token count",
        "SELECT count(*) FROM enrollment_tokens WHERE token_hash = ?1 AND revoked = 0", token_hash);
    if (!live) return std::unexpected(live.error());
    return *live > 0;
  });
}

Result<int64_t> SqliteStore::CountEnrollmentTokens() {
  return Read([&](Db& db) {
    return QueryOne(db, ReadInt, "token count", "SELECT count(*) FROM enrollment_tokens");
  });
}

namespace {

constexpr size_t kTokenIdLength = 12;

Result<EnrollmentToken> ReadEnrollmentToken(const Statement& row) {
  return EnrollmentToken{row.Text(0).substr(0, kTokenIdLength), row.Text(1),
                         FromUnixMillis(row.Int(2)), row.Int(3) != 0};
}

}  // namespace

Result<std::vector<EnrollmentToken>> SqliteStore::ListEnrollmentTokens() {
  return Read([&](Db& db) {
    return QueryAll(db, ReadEnrollmentToken,
                    "SELECT token_hash, label, created_at, revoked FROM enrollment_tokens "
                    "ORDER BY created_at, token_hash");
  });
}

Result<void> SqliteStore::RevokeEnrollmentToken(std::string_view hash_prefix) {
  if (hash_prefix.size() < 8 || hash_prefix.size() > 64 ||
      hash_prefix.find_first_not_of("0123456789abcdef") != std::string_view::npos)
    return InvalidArgument("a token id is 8 to 64 lower-case hex characters");
  // The prefix is hex only, so it holds no LIKE wildcards.
  const std::string pattern = std::string(hash_prefix) + "%";
  return Write([&](Db& db) -> Result<void> {
    Result<int64_t> matches = QueryOne(db, ReadInt, "token count",
                                       "SELECT count(*) FROM enrollment_tokens WHERE token_hash "
                                       "LIKE ?1",
                                       pattern);
    if (!matches) return std::unexpected(matches.error());
    if (*matches == 0) return NotFound(fmt::format("no enrollment token with id {}", hash_prefix));
    if (*matches > 1)
      return InvalidArgument(
          fmt::format("id {} names {} tokens; give more of it", hash_prefix, *matches));
    Result<int64_t> r =
        db.Run("UPDATE enrollment_tokens SET revoked = 1 WHERE token_hash LIKE ?1", pattern);
    if (!r) return std::unexpected(r.error());
    return {};
  });
}

namespace {

constexpr int64_t kHourMs = 3'600'000;

Result<TransferTotal> ReadTransfer(const Statement& row) {
  TransferTotal t;
  t.node = NodeId(row.Int(0));
  t.hour = FromUnixMillis(row.Int(1));
  t.bytes = row.Int(2);
  t.audio = Millis(row.Int(3));
  t.requests = row.Int(4);
  return t;
}

}  // namespace

Result<void> SqliteStore::RecordTransfer(NodeId node, int64_t bytes, Millis audio, TimePoint now) {
  if (bytes < 0 || audio.count() < 0) return InvalidArgument("transfer: negative size");
  const int64_t at = ToUnixMillis(now);
  return Write([&](Db& db) -> Result<void> {
    Result<int64_t> r = db.Run(
        "INSERT INTO transfers (node_id, hour, bytes, audio_ms, requests) "
        "VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT (node_id, hour) DO UPDATE SET "
        "bytes = bytes + excluded.bytes, audio_ms = audio_ms + excluded.audio_ms, "
        "requests = requests + 1",
        node.value(), at - at % kHourMs, bytes, audio.count());
    if (!r) return std::unexpected(r.error());
    return {};
  });
}

Result<std::vector<TransferTotal>> SqliteStore::TransfersSince(TimePoint since) {
  return Read([&](Db& db) {
    return QueryAll(db, ReadTransfer,
                    "SELECT node_id, hour, bytes, audio_ms, requests FROM transfers "
                    "WHERE hour + ?2 > ?1 ORDER BY hour, node_id",
                    ToUnixMillis(since), kHourMs);
  });
}

// ---- autoscaler decisions ----------------------------------------------------------------------

Result<void> SqliteStore::AddDecisions(const std::vector<AutoscaleDecision>& decisions, int keep) {
  if (keep < 1) return InvalidArgument("decisions: keep at least one");
  if (decisions.empty()) return {};
  return Write([&](Db& db) -> Result<void> {
    for (const AutoscaleDecision& d : decisions) {
      Result<int64_t> r = db.Run("INSERT INTO autoscale_decisions (at_ms, text) VALUES (?1, ?2)",
                                 ToUnixMillis(d.at), d.text);
      if (!r) return std::unexpected(r.error());
    }
    Result<int64_t> r = db.Run(
        "DELETE FROM autoscale_decisions WHERE id < (SELECT id FROM autoscale_decisions "
        "ORDER BY id DESC LIMIT 1 OFFSET ?1)",
        int64_t{keep} - 1);
    if (!r) return std::unexpected(r.error());
    return {};
  });
}

Result<std::vector<AutoscaleDecision>> SqliteStore::ListDecisions(int limit) {
  auto read = [](const Statement& row) -> Result<AutoscaleDecision> {
    return AutoscaleDecision{FromUnixMillis(row.Int(0)), row.Text(1)};
  };
  return Read([&](Db& db) {
    return QueryAll(db, read,
                    "SELECT at_ms, text FROM (SELECT id, at_ms, text FROM autoscale_decisions "
                    "ORDER BY id DESC LIMIT ?1) ORDER BY id",
                    int64_t{std::max(limit, 0)});
  });
}

// ---- health ------------------------------------------------------------------------------------

Error SqliteStore::Damaged(const Error& cause) {
  return Error{Code::kUnavailable,
               fmt::format("the store stopped writing: the database is damaged ({}); stop the "
                           "coordinator, run `podfleet store check` and restore a backup "
                           "(`podfleet store restore`)",
                           cause.message)};
}

}  // namespace podfleet
