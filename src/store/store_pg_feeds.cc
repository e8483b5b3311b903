// PgStore: feeds and episodes (store.h). The SQL follows SqliteStore's (store_sqlite.cc) in
// PostgreSQL's dialect.
#include <fmt/format.h>

#include <string>

#include "store/row_decode.h"
#include "store/store_pg.h"

namespace podfleet {

using namespace pg;  // NOLINT: the shared helpers of the PgStore files

namespace {

Result<Feed> LoadFeed(PgConn& c, FeedId id) {
  static const std::string sql =
      fmt::format("SELECT {} FROM feeds f WHERE f.id = $1", kFeedColumns);
  return QueryOne(c, DecodeFeed<PgRow>, fmt::format("feed {}", id.value()), sql, id.value());
}

// The feed's episode with this guid, else with this audio URL: its id and audio URL.
Result<std::optional<std::pair<int64_t, std::string>>> FindFeedEpisode(PgConn& c, FeedId feed,
                                                                       const EpisodeInfo& info) {
  constexpr std::string_view kSql =
      "SELECT id, audio_url FROM episodes WHERE feed_id = $1 "
      "AND (guid = $2 OR ($3 <> '' AND audio_url = $3)) ORDER BY guid = $2 DESC, id LIMIT 1";
  auto read = [](const PgRow& row) -> Result<std::pair<int64_t, std::string>> {
    return std::pair{row.Int(0), row.Text(1)};
  };
  auto found = QueryAll(c, read, kSql, feed.value(), info.guid, info.audio_url);
  if (!found) return std::unexpected(found.error());
  if (found->empty()) return std::nullopt;
  return found->front();
}

// A known episode follows its item (SqliteStore's RefreshEpisode).
Result<void> RefreshEpisode(PgConn& c, int64_t id, const std::string& stored_audio_url,
                            const EpisodeInfo& info, TimePoint now) {
  const bool moved = !info.audio_url.empty() && info.audio_url != stored_audio_url;
  std::optional<int64_t> duration_ms;
  if (info.duration) duration_ms = info.duration->count();
  Result<int64_t> r = c.Run(
      "UPDATE episodes SET "
      "audio_url = CASE WHEN $2::int = 1 THEN $3 ELSE audio_url END, "
      "audio_type = CASE WHEN $2::int = 1 THEN $4 ELSE audio_type END, "
      "audio_length = CASE WHEN $2::int = 1 THEN $5::bigint ELSE audio_length END, "
      "title = CASE WHEN $6 = '' THEN title ELSE $6 END, "
      "duration_ms = coalesce($7::bigint, duration_ms), "
      "published_at = coalesce($8::bigint, published_at), updated_at = $9 "
      "WHERE id = $1 AND ($2::int = 1 OR title IS DISTINCT FROM (CASE WHEN $6 = '' THEN title "
      "ELSE $6 END) OR duration_ms IS DISTINCT FROM coalesce($7::bigint, duration_ms) "
      "OR published_at IS DISTINCT FROM coalesce($8::bigint, published_at))",
      id, moved, info.audio_url, info.audio_type, info.audio_length, info.title, duration_ms,
      OptionalMillis(info.published_at), ToUnixMillis(now));
  if (!r) return std::unexpected(r.error());
  return {};
}

// Inserts the episode unless its identity is known (then refreshes it); its id when it was new
// (SqliteStore's InsertEpisode).
Result<std::optional<EpisodeId>> InsertEpisode(PgConn& c, std::optional<FeedId> feed,
                                               const EpisodeInfo& info, JobIntake intake,
                                               std::string_view hold, TimePoint now,
                                               bool queue = true, const JobRequirement& want = {}) {
  if (feed) {
    auto known = FindFeedEpisode(c, *feed, info);
    if (!known) return std::unexpected(known.error());
    if (*known) {
      if (auto r = RefreshEpisode(c, (*known)->first, (*known)->second, info, now); !r)
        return std::unexpected(r.error());
      return std::nullopt;
    }
  }
  constexpr std::string_view kSql =
      "INSERT INTO episodes (feed_id, guid, title, audio_url, audio_type, audio_length, "
      "duration_ms, published_at, transcript_links, state, error, created_at, updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) "
      "ON CONFLICT DO NOTHING RETURNING id";
  const bool skipped = info.audio_url.empty() || !hold.empty();
  std::optional<int64_t> feed_id;
  if (feed) feed_id = feed->value();
  std::optional<int64_t> duration_ms;
  if (info.duration) duration_ms = info.duration->count();
  Result<std::vector<int64_t>> ids =
      QueryAll(c, ReadPgInt, kSql, feed_id, info.guid, info.title, info.audio_url, info.audio_type,
               info.audio_length, duration_ms, OptionalMillis(info.published_at),
               EncodeLinks(info.transcript_links),
               ToString(skipped ? EpisodeState::kSkipped : EpisodeState::kQueued),
               info.audio_url.empty() ? std::string_view("no enclosure") : hold, ToUnixMillis(now));
  if (!ids) return std::unexpected(ids.error());
  if (ids->empty()) return std::nullopt;  // known already
  const EpisodeId id(ids->front());
  if (!skipped && queue) {
    if (auto r = InsertJob(c, id, intake, want); !r) return std::unexpected(r.error());
  }
  return id;
}

}  // namespace

// ---- feeds -------------------------------------------------------------------------------------

Result<Feed> PgStore::AddFeed(std::string_view url, TimePoint now) {
  return Write([&](PgConn& c) -> Result<Feed> {
    const std::string duplicate = fmt::format("feed {} is already added", url);
    Result<int64_t> id = QueryOne(c, ReadPgInt, "feed",
                                  "INSERT INTO feeds (url, added_at) VALUES ($1, $2) RETURNING id",
                                  url, ToUnixMillis(now));
    id = OnDuplicate(std::move(id), duplicate);
    if (!id) return std::unexpected(id.error());
    Result<int64_t> r = OnDuplicate(
        c.Run("INSERT INTO feed_urls (url, feed_id) VALUES ($1, $2)", url, *id), duplicate);
    if (!r) return std::unexpected(r.error());
    return LoadFeed(c, FeedId(*id));
  });
}

Result<std::optional<Feed>> PgStore::FindFeed(const FeedIdentity& identity) {
  static const std::string by_url = fmt::format(
      "SELECT {} FROM feed_urls u JOIN feeds f ON f.id = u.feed_id WHERE u.url = $1", kFeedColumns);
  static const std::string by_guid = fmt::format(
      "SELECT {} FROM feeds f WHERE f.podcast_guid = $1 AND $1 <> '' ORDER BY f.id LIMIT 1",
      kFeedColumns);
  static const std::string by_fingerprint = fmt::format(
      "SELECT {} FROM feeds f WHERE f.fingerprint = $1 AND $1 <> '' ORDER BY f.id LIMIT 1",
      kFeedColumns);
  return Read([&](PgConn& c) -> Result<std::optional<Feed>> {
    std::vector<std::pair<const std::string*, const std::string*>> lookups;
    lookups.emplace_back(&by_url, &identity.url);
    for (const std::string& alias : identity.aliases) lookups.emplace_back(&by_url, &alias);
    lookups.emplace_back(&by_guid, &identity.podcast_guid);
    lookups.emplace_back(&by_fingerprint, &identity.fingerprint);
    for (const auto& [sql, key] : lookups) {
      Result<std::vector<Feed>> found = QueryAll(c, DecodeFeed<PgRow>, *sql, *key);
      if (!found) return std::unexpected(found.error());
      if (!found->empty()) return found->front();
    }
    return std::nullopt;
  });
}

Result<void> PgStore::UpdateFeedIdentity(FeedId id, const FeedIdentity& identity) {
  return Write([&](PgConn& c) -> Result<void> {
    Result<int64_t> r = c.Run(
        "UPDATE feeds SET url = CASE WHEN $2 = '' THEN url ELSE $2 END, "
        "podcast_guid = CASE WHEN $3 = '' THEN podcast_guid ELSE $3 END, "
        "fingerprint = CASE WHEN $4 = '' THEN fingerprint ELSE $4 END WHERE id = $1",
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
          c.Run("INSERT INTO feed_urls (url, feed_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", url,
                id.value());
      if (!added) return std::unexpected(added.error());
    }
    return {};
  });
}

Result<Feed> PgStore::GetFeed(FeedId id) {
  return Read([&](PgConn& c) { return LoadFeed(c, id); });
}

Result<std::vector<Feed>> PgStore::ListFeeds() {
  static const std::string sql = fmt::format("SELECT {} FROM feeds f ORDER BY f.id", kFeedColumns);
  return Read([&](PgConn& c) { return QueryAll(c, DecodeFeed<PgRow>, sql); });
}

Result<void> PgStore::RemoveFeed(FeedId id) {
  return Write([&](PgConn& c) {
    return RequireChanged(c.Run("DELETE FROM feeds WHERE id = $1", id.value()),
                          fmt::format("feed {}", id.value()));
  });
}

Result<void> PgStore::RecordFeedPoll(FeedId id, const FeedPoll& poll) {
  constexpr std::string_view kSql =
      "UPDATE feeds SET polled_at = $2, title = CASE WHEN $3 = '' THEN title ELSE $3 END, "
      "last_error = $4, etag = CASE WHEN $5::int = 1 THEN $6 ELSE etag END, "
      "last_modified = CASE WHEN $5::int = 1 THEN $7 ELSE last_modified END, failures = $8, "
      "next_poll_at = $9 WHERE id = $1";
  return Write([&](PgConn& c) {
    return RequireChanged(c.Run(kSql, id.value(), ToUnixMillis(poll.polled_at), poll.title,
                                poll.error, poll.validators, poll.etag, poll.last_modified,
                                poll.failures, OptionalMillis(poll.next_poll_at)),
                          fmt::format("feed {}", id.value()));
  });
}

Result<void> PgStore::SetTranscribeAnyway(FeedId id, bool on) {
  return Write([&](PgConn& c) {
    return RequireChanged(
        c.Run("UPDATE feeds SET transcribe_anyway = $2 WHERE id = $1", id.value(), on),
        fmt::format("feed {}", id.value()));
  });
}

Result<bool> PgStore::TranscribesAnyway(FeedId id) {
  return Read([&](PgConn& c) -> Result<bool> {
    Result<int64_t> on = QueryOne(c, ReadPgInt, fmt::format("feed {}", id.value()),
                                  "SELECT transcribe_anyway FROM feeds WHERE id = $1", id.value());
    if (!on) return std::unexpected(on.error());
    return *on != 0;
  });
}

Result<std::vector<std::string>> PgStore::ListGuids(FeedId feed) {
  auto read = [](const PgRow& row) -> Result<std::string> { return row.Text(0); };
  return Read([&](PgConn& c) {
    return QueryAll(c, read, "SELECT guid FROM episodes WHERE feed_id = $1", feed.value());
  });
}

// ---- episodes ----------------------------------------------------------------------------------

Result<std::vector<EpisodeId>> PgStore::AddEpisodes(std::optional<FeedId> feed,
                                                    const std::vector<EpisodeInfo>& episodes,
                                                    TimePoint now, JobIntake intake,
                                                    const std::vector<std::string>& hold,
                                                    const JobRequirement& want) {
  return Write([&](PgConn& c) -> Result<std::vector<EpisodeId>> {
    if (feed) {
      if (Result<Feed> f = LoadFeed(c, *feed); !f) return std::unexpected(f.error());
    }
    std::vector<EpisodeId> added;
    for (size_t i = 0; i < episodes.size(); ++i) {
      const std::string_view reason = i < hold.size() ? std::string_view(hold[i]) : "";
      Result<std::optional<EpisodeId>> id =
          InsertEpisode(c, feed, episodes[i], intake, reason, now, true, want);
      if (!id) return std::unexpected(id.error());
      if (*id) added.push_back(**id);
    }
    return added;
  });
}

Result<std::vector<EpisodeId>> PgStore::AddFeedItems(FeedId feed,
                                                     const std::vector<FeedItem>& items,
                                                     TimePoint now, JobIntake intake,
                                                     const std::vector<std::string>& hold) {
  return Write([&](PgConn& c) -> Result<std::vector<EpisodeId>> {
    Result<int64_t> anyway =
        QueryOne(c, ReadPgInt, fmt::format("feed {}", feed.value()),
                 "SELECT transcribe_anyway FROM feeds WHERE id = $1", feed.value());
    if (!anyway) return std::unexpected(anyway.error());
    std::vector<EpisodeId> added;
    for (size_t i = 0; i < items.size(); ++i) {
      const FeedItem& item = items[i];
      const bool published = item.publisher.has_value();
      const bool queue = !published || *anyway != 0;
      const std::string_view reason = i < hold.size() ? std::string_view(hold[i]) : "";
      Result<std::optional<EpisodeId>> id =
          InsertEpisode(c, feed, item.info, intake, reason, now, queue);
      if (!id) return std::unexpected(id.error());
      if (!*id) continue;
      Result<int64_t> r = c.Run(
          "UPDATE episodes SET transcript_note = $2, "
          "state = CASE WHEN $3::int = 1 THEN 'done' ELSE state END, "
          "error = CASE WHEN $3::int = 1 THEN '' ELSE error END WHERE id = $1",
          (*id)->value(), item.publisher_note, published && !queue);
      if (!r) return std::unexpected(r.error());
      if (published) {
        Result<void> stored =
            StorePublisherTranscript(c, **id, *item.publisher, item.publisher_link, now);
        if (!stored) return std::unexpected(stored.error());
      }
      added.push_back(**id);
    }
    return added;
  });
}

Result<void> PgStore::QueueEpisode(EpisodeId id, TimePoint now, JobIntake intake) {
  return Write([&](PgConn& c) -> Result<void> {
    if (Result<void> locked = LockEpisode(c, id); !locked) return locked;
    Result<Episode> episode = LoadEpisode(c, id);
    if (!episode) return std::unexpected(episode.error());
    if (episode->state != EpisodeState::kSkipped || episode->info.audio_url.empty()) {
      return Conflict(fmt::format("episode {} is {}{}, not skipped with audio", id.value(),
                                  ToString(episode->state),
                                  episode->info.audio_url.empty() ? " without audio" : ""));
    }
    Result<int64_t> r =
        c.Run("UPDATE episodes SET state = 'queued', error = '', updated_at = $2 WHERE id = $1",
              id.value(), ToUnixMillis(now));
    if (!r) return std::unexpected(r.error());
    return InsertJob(c, id, intake, {});
  });
}

Result<Episode> PgStore::GetEpisode(EpisodeId id) {
  return Read([&](PgConn& c) { return LoadEpisode(c, id); });
}

Result<void> PgStore::DeleteEpisode(EpisodeId id) {
  // Jobs, attempts, results, transcripts and search rows go by ON DELETE CASCADE.
  return Write([&](PgConn& c) {
    return RequireChanged(c.Run("DELETE FROM episodes WHERE id = $1", id.value()),
                          fmt::format("episode {}", id.value()));
  });
}

Result<QueueCounts> PgStore::CountEpisodes() {
  auto read = [](const PgRow& row) -> Result<QueueCounts> {
    return QueueCounts{row.Int(0), row.Int(1), row.Int(2), row.Int(3)};
  };
  return Read([&](PgConn& c) {
    return QueryOne(c, read, "episodes",
                    "SELECT count(*) FILTER (WHERE state = 'queued'), "
                    "count(*) FILTER (WHERE state = 'running'), "
                    "count(*) FILTER (WHERE state = 'done'), "
                    "count(*) FILTER (WHERE state = 'failed') FROM episodes");
  });
}

Result<std::vector<Episode>> PgStore::ListEpisodes(const EpisodeFilter& filter) {
  if (filter.limit < 0 || filter.offset < 0) {
    return InvalidArgument("episode filter: limit and offset must not be negative");
  }
  // $6 is the search as a tsquery, or NULL when it holds nothing to search for (the title still
  // may match). The title match is a plain substring (strpos: % and _ are literal).
  static const std::string sql = fmt::format(
      "SELECT {} FROM episodes e "
      "WHERE ($1::bigint IS NULL OR e.feed_id = $1) AND ($2::text IS NULL OR e.state = $2) "
      "AND ($3 = '' OR strpos(lower(e.title), lower($3)) > 0 "
      "     OR ($6::tsquery IS NOT NULL AND e.id IN (SELECT s.episode_id FROM "
      "transcript_segments s WHERE s.words @@ $6::tsquery))) "
      "ORDER BY coalesce(e.published_at, e.created_at) DESC, e.id DESC LIMIT $4 OFFSET $5",
      kEpisodeColumns);
  std::optional<int64_t> feed;
  if (filter.feed) feed = filter.feed->value();
  std::optional<std::string_view> state;
  if (filter.state) state = ToString(*filter.state);
  return Read([&](PgConn& c) -> Result<std::vector<Episode>> {
    std::optional<std::string> match;
    if (!filter.search.empty()) {
      if (Result<std::string> q = ToTsQuery(c, filter.search)) match = std::move(*q);
    }
    return QueryAll(c, DecodeEpisode<PgRow>, sql, feed, state, filter.search, filter.limit,
                    filter.offset, match);
  });
}

}  // namespace podfleet
