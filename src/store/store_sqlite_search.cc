// SqliteStore: the full-text index over transcript segments and the publishers' transcripts
// (schema: migrations.h, version 6).
#include <fmt/format.h>

#include <string>

#include "store/search_query.h"
#include "store/store_sqlite.h"
#include "store/store_sqlite_rows.h"

namespace podfleet {

void SearchRows::Add(EpisodeId episode, const std::vector<Segment>& segments) {
  std::string rows;
  for (const Segment& s : segments) {
    if (!rows.empty()) rows += ',';
    rows += EncodeSearchRow(episode, s);
  }
  Put(Episode{episode.value(), std::move(rows)});
}

void SearchRows::Append(SearchRows&& other) {
  for (Episode& e : other.episodes_) Put(std::move(e));
  other.episodes_.clear();
}

void SearchRows::Put(Episode episode) {
  std::erase_if(episodes_, [&](const Episode& mine) { return mine.id == episode.id; });
  episodes_.push_back(std::move(episode));
}

Result<void> SearchRows::Write(Db& db) {
  if (episodes_.empty()) return {};
  std::vector<int64_t> episodes;
  std::string rows = "[";
  for (const Episode& e : episodes_) {
    episodes.push_back(e.id);
    if (e.rows.empty()) continue;
    if (rows.size() > 1) rows += ',';
    rows += e.rows;
  }
  rows += ']';
  episodes_.clear();
  // The delete trigger takes the old rows out of the index.
  Result<int64_t> r = db.Run(
      "DELETE FROM transcript_segments WHERE episode_id IN (SELECT value FROM json_each(?1))",
      JsonIds(episodes));
  if (r && rows.size() > 2) {
    r = db.Run(
        "INSERT INTO transcript_segments (episode_id, start_ms, end_ms, speaker, text) "
        "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 "
        "FROM json_each(?1)",
        rows);
  }
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<void> IndexSegments(Db& db, EpisodeId episode, const std::vector<Segment>& segments) {
  SearchRows rows;
  rows.Add(episode, segments);
  return rows.Write(db);
}

Result<void> StorePublisherTranscript(Db& db, EpisodeId episode, const Transcript& t,
                                      const TranscriptLink& link, TimePoint now) {
  Result<int64_t> r = db.Run(
      "INSERT OR REPLACE INTO publisher_transcripts (episode_id, url, type, language, "
      "audio_duration_ms, segments, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
      episode.value(), link.url, link.type, t.language, t.audio_duration.count(),
      EncodeSegments(t.segments), ToUnixMillis(now));
  if (!r) return std::unexpected(r.error());
  Result<int64_t> fleet =
      QueryOne(db, ReadInt, "transcripts", "SELECT count(*) FROM transcripts WHERE episode_id = ?1",
               episode.value());
  if (!fleet) return std::unexpected(fleet.error());
  if (*fleet > 0) return {};
  return IndexSegments(db, episode, t.segments);
}

std::string EpisodesMatchingSql(int param) {
  return fmt::format(
      "SELECT s.episode_id FROM transcript_search "
      "JOIN transcript_segments s ON s.id = transcript_search.rowid "
      "WHERE transcript_search MATCH ?{}",
      param);
}

namespace {

Result<SearchHit> ReadHit(const Statement& row) {
  SearchHit hit;
  hit.episode = EpisodeId(row.Int(0));
  if (auto feed = row.OptionalInt(1)) hit.feed = FeedId(*feed);
  hit.title = row.Text(2);
  if (auto published = row.OptionalInt(3)) hit.published_at = FromUnixMillis(*published);
  hit.start = Millis(row.Int(4));
  hit.end = Millis(row.Int(5));
  hit.speaker = row.Text(6);
  hit.snippet = row.Text(7);
  hit.score = row.Real(8);
  return hit;
}

}  // namespace

Result<std::vector<SearchHit>> SqliteStore::Search(const SearchQuery& query) {
  if (query.limit < 0 || query.offset < 0)
    return InvalidArgument("search: limit and offset must not be negative");
  Result<std::string> match = ToFtsQuery(query.text);
  if (!match) return std::unexpected(match.error());
  // bm25() and snippet() need the FTS5 table in the query that calls them. The best rows are
  // chosen first without snippets (SQLite would compute a snippet for every match before
  // sorting); the page of them is then looked up again for its snippets.
  static const std::string sql = fmt::format(
      "WITH best AS ("
      "  SELECT transcript_search.rowid AS id, bm25(transcript_search) AS score "
      "  FROM transcript_search "
      "  JOIN transcript_segments s ON s.id = transcript_search.rowid "
      "  JOIN episodes e ON e.id = s.episode_id "
      "  WHERE transcript_search MATCH ?1 AND (?2 IS NULL OR e.feed_id = ?2) "
      "  AND (?3 IS NULL OR coalesce(e.published_at, e.created_at) >= ?3) "
      "  AND (?4 IS NULL OR coalesce(e.published_at, e.created_at) < ?4) "
      "  ORDER BY score, s.episode_id, s.start_ms LIMIT ?5 OFFSET ?6) "
      "SELECT s.episode_id, e.feed_id, e.title, e.published_at, s.start_ms, s.end_ms, s.speaker, "
      "snippet(transcript_search, 0, char({}), char({}), '…', 16), best.score "
      "FROM best JOIN transcript_search ON transcript_search.rowid = best.id "
      "JOIN transcript_segments s ON s.id = best.id JOIN episodes e ON e.id = s.episode_id "
      "WHERE transcript_search MATCH ?1 "
      "ORDER BY best.score, s.episode_id, s.start_ms",
      int{kMatchStart}, int{kMatchEnd});
  // Too many matches to rank: FTS5 walks the index newest row first and stops at the page.
  static const std::string newest_sql = fmt::format(
      "WITH best AS ("
      "  SELECT transcript_search.rowid AS id FROM transcript_search "
      "  JOIN transcript_segments s ON s.id = transcript_search.rowid "
      "  JOIN episodes e ON e.id = s.episode_id "
      "  WHERE transcript_search MATCH ?1 AND (?2 IS NULL OR e.feed_id = ?2) "
      "  AND (?3 IS NULL OR coalesce(e.published_at, e.created_at) >= ?3) "
      "  AND (?4 IS NULL OR coalesce(e.published_at, e.created_at) < ?4) "
      "  ORDER BY transcript_search.rowid DESC LIMIT ?5 OFFSET ?6) "
      "SELECT s.episode_id, e.feed_id, e.title, e.published_at, s.start_ms, s.end_ms, s.speaker, "
      "snippet(transcript_search, 0, char({}), char({}), '…', 16), 0.0 "
      "FROM best JOIN transcript_search ON transcript_search.rowid = best.id "
      "JOIN transcript_segments s ON s.id = best.id JOIN episodes e ON e.id = s.episode_id "
      "WHERE transcript_search MATCH ?1 ORDER BY best.id DESC",
      int{kMatchStart}, int{kMatchEnd});
  std::optional<int64_t> feed, from, to;
  if (query.feed) feed = query.feed->value();
  if (query.from) from = ToUnixMillis(*query.from);
  if (query.to) to = ToUnixMillis(*query.to);
  return Read([&](Db& db) -> Result<std::vector<SearchHit>> {
    // Counting stops past the bound and reads no rank: a few milliseconds even for a word in
    // most segments.
    Result<int64_t> matches = QueryOne(
        db, ReadInt, "matches",
        "SELECT count(*) FROM (SELECT 1 FROM transcript_search WHERE transcript_search MATCH ?1 "
        "LIMIT ?2)",
        *match, kRankedMatches + 1);
    if (!matches) return std::unexpected(matches.error());
    if (*matches <= kRankedMatches)
      return QueryAll(db, ReadHit, sql, *match, feed, from, to, query.limit, query.offset);
    auto hits =
        QueryAll(db, ReadHit, newest_sql, *match, feed, from, to, query.limit, query.offset);
    if (hits)
      for (SearchHit& h : *hits) h.ranked = false;
    return hits;
  });
}

Result<Transcript> SqliteStore::GetPublisherTranscript(EpisodeId id) {
  return Read([&](Db& db) {
    return QueryOne(db, ReadTranscript,
                    fmt::format("publisher's transcript of episode {}", id.value()),
                    "SELECT language, 'publisher', type, audio_duration_ms, 0, segments "
                    "FROM publisher_transcripts WHERE episode_id = ?1",
                    id.value());
  });
}

Result<TranscriptOrigin> SqliteStore::GetTranscriptOrigin(EpisodeId id) {
  auto read = [](const Statement& row) -> Result<TranscriptOrigin> {
    return TranscriptOrigin{row.Text(0), row.Text(1)};
  };
  return Read([&](Db& db) {
    return QueryOne(
        db, read, fmt::format("episode {}", id.value()),
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM transcripts t WHERE t.episode_id = e.id) "
        "THEN 'fleet' WHEN EXISTS (SELECT 1 FROM publisher_transcripts p "
        "WHERE p.episode_id = e.id) THEN 'publisher' ELSE '' END, e.transcript_note "
        "FROM episodes e WHERE e.id = ?1",
        id.value());
  });
}

Result<PublisherSavings> SqliteStore::CountPublisherSavings() {
  auto read = [](const Statement& row) -> Result<PublisherSavings> {
    return PublisherSavings{row.Int(0), Millis(row.Int(1))};
  };
  return Read([&](Db& db) {
    return QueryOne(
        db, read, "savings",
        "SELECT count(*), coalesce(sum(coalesce(e.duration_ms, p.audio_duration_ms)), 0) "
        "FROM publisher_transcripts p JOIN episodes e ON e.id = p.episode_id "
        "WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.episode_id = p.episode_id)");
  });
}

Result<int64_t> SqliteStore::RebuildSearchIndex() {
  return Write([&](Db& db) -> Result<int64_t> {
    // The delete trigger would edit an index that may be damaged (FTS5 then reports corruption):
    // the index is emptied and the trigger set aside, as the schema defines it, while the
    // segments are written again.
    auto read_sql = [](const Statement& row) -> Result<std::string> { return row.Text(0); };
    Result<std::string> trigger = QueryOne(db, read_sql, "search trigger",
                                           "SELECT sql FROM sqlite_schema WHERE type = 'trigger' "
                                           "AND name = 'transcript_segments_unindexed'");
    if (!trigger) return std::unexpected(trigger.error());
    Result<void> cleared = db.Exec(
        "INSERT INTO transcript_search (transcript_search) VALUES ('delete-all');"
        "DROP TRIGGER transcript_segments_unindexed;"
        "DELETE FROM transcript_segments;");
    if (!cleared) return std::unexpected(cleared.error());
    // One transcript in memory at a time: the scan reads transcripts while the loop writes
    // transcript_segments.
    // The transcript shown: the fleet's, else the publisher's.
    Result<Statement> scan = db.PrepareSql(
        "SELECT episode_id, segments FROM transcripts UNION ALL "
        "SELECT p.episode_id, p.segments FROM publisher_transcripts p "
        "WHERE NOT EXISTS (SELECT 1 FROM transcripts t WHERE t.episode_id = p.episode_id) "
        "ORDER BY 1");
    if (!scan) return std::unexpected(scan.error());
    int64_t segments = 0;
    for (;;) {
      Result<bool> row = scan->Step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      const EpisodeId episode(scan->Int(0));
      Result<std::vector<Segment>> decoded = DecodeSegments(scan->Text(1));
      if (!decoded) {
        return std::unexpected(
            WithContext(decoded, fmt::format("transcript of episode {}", episode.value())).error());
      }
      if (auto r = IndexSegments(db, episode, *decoded); !r) return std::unexpected(r.error());
      segments += static_cast<int64_t>(decoded->size());
    }
    // 'rebuild' remakes the index from the segments whatever state it was in.
    Result<void> r = db.Exec(
        *trigger + ";" + "INSERT INTO transcript_search (transcript_search) VALUES ('rebuild')");
    if (!r) return std::unexpected(r.error());
    return segments;
  });
}

}  // namespace podfleet
