// PgStore: transcripts, stitching, publishers' transcripts and full-text search. Search runs on
// PostgreSQL's text search: each segment's `words` tsvector (pg_schema.cc, configuration
// podfleet_search: case and diacritics folded, no stemming, as SQLite's unicode61) under a GIN
// index; the query is built from search_query.h's terms with phraseto_tsquery, so what a person
// types is only ever text, never tsquery syntax. Ranking: ts_rank, negated so that lower scores are
// better as with FTS5's bm25. Snippets: ts_headline.
#include <fmt/format.h>

#include <string>

#include "core/stitch.h"
#include "store/row_decode.h"
#include "store/search_query.h"
#include "store/store_pg.h"

namespace podfleet {

using namespace pg;  // NOLINT: the shared helpers of the PgStore files

namespace {

Result<void> IndexSegments(PgConn& c, EpisodeId episode, const std::vector<Segment>& segments) {
  Result<int64_t> removed =
      c.Run("DELETE FROM transcript_segments WHERE episode_id = $1", episode.value());
  if (!removed) return std::unexpected(removed.error());
  for (const Segment& s : segments) {
    Result<int64_t> r = c.Run(
        "INSERT INTO transcript_segments (episode_id, start_ms, end_ms, speaker, text) "
        "VALUES ($1, $2, $3, $4, $5)",
        episode.value(), s.start.count(), s.end.count(), s.speaker, s.text);
    if (!r) return std::unexpected(r.error());
  }
  return {};
}

Result<SearchHit> ReadHit(const PgRow& row) {
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

namespace pg {

Result<std::string> ToTsQuery(PgConn& c, std::string_view text) {
  auto groups = ParseSearch(text);
  if (!groups) return std::unexpected(groups.error());
  // (t1 || t2) && (t3) ..., each term phraseto_tsquery($n), a prefix term with :* on its last
  // lexeme. Only the structure is SQL; every term's text is a parameter.
  std::string sql = "SELECT (";
  std::vector<std::optional<std::string>> params;
  for (size_t g = 0; g < groups->size(); ++g) {
    sql += g > 0 ? " && (" : "(";
    const std::vector<SearchTerm>& group = (*groups)[g];
    for (size_t i = 0; i < group.size(); ++i) {
      params.push_back(group[i].text);
      std::string term = fmt::format("phraseto_tsquery('podfleet_search', ${})", params.size());
      if (group[i].prefix) term = fmt::format("(nullif({}::text, '') || ':*')::tsquery", term);
      sql += (i > 0 ? " || " : "") + fmt::format("coalesce({}, ''::tsquery)", term);
    }
    sql += ")";
  }
  sql += ")::text";
  Result<PgResult> r = c.QueryParams(sql, params);
  if (!r) return std::unexpected(r.error());
  if (r->Rows() != 1) return Internal("search: no query");
  return r->Row(0).Text(0);
}

Result<void> StoreTranscript(PgConn& c, EpisodeId episode, const Transcript& t, TimePoint now) {
  if (t.audio_duration > Millis(0)) {
    Result<int64_t> filled =
        c.Run("UPDATE episodes SET duration_ms = $2 WHERE id = $1 AND duration_ms IS NULL",
              episode.value(), t.audio_duration.count());
    if (!filled) return std::unexpected(filled.error());
  }
  Result<void> r = UpdateOne(
      c,
      "INSERT INTO transcripts (episode_id, language, engine, model, audio_duration_ms, "
      "engine_time_ms, segments, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
      "ON CONFLICT (episode_id) DO UPDATE SET language = excluded.language, "
      "engine = excluded.engine, model = excluded.model, "
      "audio_duration_ms = excluded.audio_duration_ms, engine_time_ms = excluded.engine_time_ms, "
      "segments = excluded.segments, created_at = excluded.created_at",
      episode.value(), t.language, t.engine, t.model, t.audio_duration.count(),
      t.engine_time.count(), EncodeSegments(t.segments), ToUnixMillis(now));
  if (!r) return r;
  return IndexSegments(c, episode, t.segments);
}

Result<void> StitchIfDone(PgConn& c, EpisodeId episode, TimePoint now) {
  Result<int64_t> pending = QueryOne(
      c, ReadPgInt, "jobs", "SELECT count(*) FROM jobs WHERE episode_id = $1 AND state <> 'done'",
      episode.value());
  if (!pending) return std::unexpected(pending.error());
  if (*pending > 0) return {};
  auto read = [](const PgRow& row) -> Result<ChunkTranscript> {
    Result<Transcript> t = DecodeTranscript(row);
    if (!t) return std::unexpected(t.error());
    return ChunkTranscript{Millis(row.Int(6)), std::move(*t)};
  };
  Result<std::vector<ChunkTranscript>> chunks = QueryAll(
      c, read,
      "SELECT r.language, r.engine, r.model, r.audio_duration_ms, r.engine_time_ms, r.segments, "
      "j.start_ms FROM jobs j JOIN job_results r ON r.job_id = j.id WHERE j.episode_id = $1 "
      "ORDER BY j.chunk_index",
      episode.value());
  if (!chunks) return std::unexpected(chunks.error());
  Result<void> r = StoreTranscript(c, episode, Stitch(std::move(*chunks)), now);
  if (!r) return r;
  Result<int64_t> cleared = c.Run(
      "UPDATE job_results SET segments = '[]' "
      "WHERE job_id IN (SELECT id FROM jobs WHERE episode_id = $1)",
      episode.value());
  if (!cleared) return std::unexpected(cleared.error());
  return {};
}

Result<void> StorePublisherTranscript(PgConn& c, EpisodeId episode, const Transcript& t,
                                      const TranscriptLink& link, TimePoint now) {
  Result<int64_t> r = c.Run(
      "INSERT INTO publisher_transcripts (episode_id, url, type, language, audio_duration_ms, "
      "segments, fetched_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
      "ON CONFLICT (episode_id) DO UPDATE SET url = excluded.url, type = excluded.type, "
      "language = excluded.language, audio_duration_ms = excluded.audio_duration_ms, "
      "segments = excluded.segments, fetched_at = excluded.fetched_at",
      episode.value(), link.url, link.type, t.language, t.audio_duration.count(),
      EncodeSegments(t.segments), ToUnixMillis(now));
  if (!r) return std::unexpected(r.error());
  Result<int64_t> fleet =
      QueryOne(c, ReadPgInt, "transcripts",
               "SELECT count(*) FROM transcripts WHERE episode_id = $1", episode.value());
  if (!fleet) return std::unexpected(fleet.error());
  if (*fleet > 0) return {};
  return IndexSegments(c, episode, t.segments);
}

}  // namespace pg

Result<Transcript> PgStore::GetTranscript(EpisodeId id) {
  static const std::string sql = fmt::format(
      "SELECT {}, 0 FROM transcripts t WHERE t.episode_id = $1 UNION ALL "
      "SELECT language, 'publisher', type, audio_duration_ms, 0, segments, 1 "
      "FROM publisher_transcripts WHERE episode_id = $1 ORDER BY 7 LIMIT 1",
      kTranscriptColumns);
  return Read([&](PgConn& c) {
    return QueryOne(c, DecodeTranscript<PgRow>, fmt::format("transcript of episode {}", id.value()),
                    sql, id.value());
  });
}

Result<Transcript> PgStore::GetJobResult(JobId id) {
  static const std::string sql =
      fmt::format("SELECT {} FROM job_results t WHERE t.job_id = $1", kTranscriptColumns);
  return Read([&](PgConn& c) {
    return QueryOne(c, DecodeTranscript<PgRow>, fmt::format("result of job {}", id.value()), sql,
                    id.value());
  });
}

Result<Transcript> PgStore::GetPublisherTranscript(EpisodeId id) {
  return Read([&](PgConn& c) {
    return QueryOne(c, DecodeTranscript<PgRow>,
                    fmt::format("publisher's transcript of episode {}", id.value()),
                    "SELECT language, 'publisher', type, audio_duration_ms, 0, segments "
                    "FROM publisher_transcripts WHERE episode_id = $1",
                    id.value());
  });
}

Result<TranscriptOrigin> PgStore::GetTranscriptOrigin(EpisodeId id) {
  auto read = [](const PgRow& row) -> Result<TranscriptOrigin> {
    return TranscriptOrigin{row.Text(0), row.Text(1)};
  };
  return Read([&](PgConn& c) {
    return QueryOne(
        c, read, fmt::format("episode {}", id.value()),
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM transcripts t WHERE t.episode_id = e.id) "
        "THEN 'fleet' WHEN EXISTS (SELECT 1 FROM publisher_transcripts p "
        "WHERE p.episode_id = e.id) THEN 'publisher' ELSE '' END, e.transcript_note "
        "FROM episodes e WHERE e.id = $1",
        id.value());
  });
}

Result<PublisherSavings> PgStore::CountPublisherSavings() {
  auto read = [](const PgRow& row) -> Result<PublisherSavings> {
    return PublisherSavings{row.Int(0), Millis(row.Int(1))};
  };
  return Read([&](PgConn& c) {
    return QueryOne(
        c, read, "savings",
        "SELECT count(*), coalesce(sum(coalesce(e.duration_ms, p.audio_duration_ms)), 0) "
        "FROM publisher_transcripts p JOIN episodes e ON e.id = p.episode_id "
        "WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.episode_id = p.episode_id)");
  });
}

Result<std::vector<SearchHit>> PgStore::Search(const SearchQuery& query) {
  if (query.limit < 0 || query.offset < 0)
    return InvalidArgument("search: limit and offset must not be negative");
  if (Result<std::vector<std::vector<SearchTerm>>> terms = ParseSearch(query.text); !terms)
    return std::unexpected(terms.error());
  // The page of best rows is chosen first, without headlines (ts_headline re-parses the text):
  // by rank, or, past kRankedMatches matches, newest-indexed first with no rank (Store::Search).
  auto page_sql = [](std::string_view score, std::string_view order) {
    return fmt::format(
        "WITH best AS ("
        "  SELECT s.id, {0} AS score FROM transcript_segments s "
        "  JOIN episodes e ON e.id = s.episode_id "
        "  WHERE s.words @@ $1::tsquery AND ($2::bigint IS NULL OR e.feed_id = $2) "
        "  AND ($3::bigint IS NULL OR coalesce(e.published_at, e.created_at) >= $3) "
        "  AND ($4::bigint IS NULL OR coalesce(e.published_at, e.created_at) < $4) "
        "  ORDER BY {1} LIMIT $5 OFFSET $6) "
        "SELECT s.episode_id, e.feed_id, e.title, e.published_at, s.start_ms, s.end_ms, "
        "s.speaker, ts_headline('podfleet_search', s.text, $1::tsquery, "
        "'StartSel=\"{2}\", StopSel=\"{3}\", MaxWords=32, MinWords=12'), best.score "
        "FROM best JOIN transcript_segments s ON s.id = best.id "
        "JOIN episodes e ON e.id = s.episode_id ORDER BY {1}",
        score, order, kMatchStart, kMatchEnd);
  };
  static const std::string ranked_sql =
      page_sql("-ts_rank(s.words, $1::tsquery)", "score, s.episode_id, s.start_ms");
  static const std::string newest_sql = page_sql("0.0::float8", "s.id DESC");
  std::optional<int64_t> feed, from, to;
  if (query.feed) feed = query.feed->value();
  if (query.from) from = ToUnixMillis(*query.from);
  if (query.to) to = ToUnixMillis(*query.to);
  return Read([&](PgConn& c) -> Result<std::vector<SearchHit>> {
    Result<std::string> match = ToTsQuery(c, query.text);
    if (!match) return std::unexpected(match.error());
    // Counting stops past the bound and computes no rank.
    Result<int64_t> matches = QueryOne(
        c, ReadPgInt, "matches",
        "SELECT count(*) FROM (SELECT 1 FROM transcript_segments WHERE words @@ $1::tsquery "
        "LIMIT $2) m",
        *match, kRankedMatches + 1);
    if (!matches) return std::unexpected(matches.error());
    if (*matches <= kRankedMatches)
      return QueryAll(c, ReadHit, ranked_sql, *match, feed, from, to, query.limit, query.offset);
    auto hits = QueryAll(c, ReadHit, newest_sql, *match, feed, from, to, query.limit, query.offset);
    if (hits)
      for (SearchHit& h : *hits) h.ranked = false;
    return hits;
  });
}

Result<int64_t> PgStore::RebuildSearchIndex() {
  return Write([&](PgConn& c) -> Result<int64_t> {
    if (Result<int64_t> r = c.Run("DELETE FROM transcript_segments"); !r)
      return std::unexpected(r.error());
    // The transcript shown: the fleet's, else the publisher's.
    auto read = [](const PgRow& row) -> Result<std::pair<EpisodeId, std::string>> {
      return std::pair{EpisodeId(row.Int(0)), row.Text(1)};
    };
    auto shown =
        QueryAll(c, read,
                 "SELECT episode_id, segments FROM transcripts UNION ALL "
                 "SELECT p.episode_id, p.segments FROM publisher_transcripts p "
                 "WHERE NOT EXISTS (SELECT 1 FROM transcripts t WHERE t.episode_id = p.episode_id) "
                 "ORDER BY 1");
    if (!shown) return std::unexpected(shown.error());
    int64_t segments = 0;
    for (const auto& [episode, json] : *shown) {
      Result<std::vector<Segment>> decoded = DecodeSegments(json);
      if (!decoded) {
        return std::unexpected(
            WithContext(decoded, fmt::format("transcript of episode {}", episode.value())).error());
      }
      if (auto r = IndexSegments(c, episode, *decoded); !r) return std::unexpected(r.error());
      segments += static_cast<int64_t>(decoded->size());
    }
    return segments;
  });
}

}  // namespace podfleet
