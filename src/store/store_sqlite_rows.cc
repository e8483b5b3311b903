#include "store/store_sqlite_rows.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>

namespace podfleet {
namespace {

using nlohmann::json;

std::string Dump(const json& doc) {
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<TimePoint> OptionalTime(const Statement& row, int col) {
  std::optional<int64_t> ms = row.OptionalInt(col);
  if (!ms) return std::nullopt;
  return FromUnixMillis(*ms);
}

std::optional<JobState> ParseJobState(std::string_view s) {
  for (JobState state : {JobState::kQueued, JobState::kLeased, JobState::kDone, JobState::kFailed,
                         JobState::kPreparing}) {
    if (ToString(state) == s) return state;
  }
  return std::nullopt;
}

// Parses `text` as JSON and decodes it with `decode`, which may throw json::exception on a shape
// it does not expect; both failures are kCorruption.
template <class T, class F>
Result<T> DecodeJson(std::string_view text, std::string_view what, F decode) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Corruption(fmt::format("{}: not JSON", what));
  try {
    return decode(doc);
  } catch (const json::exception& e) {
    return Corruption(fmt::format("{}: {}", what, e.what()));
  }
}

// Iterating a JSON object yields its values, so callers check for an array first.
const json& RequireArray(const json& doc) {
  if (!doc.is_array()) throw json::type_error::create(302, "expected an array", &doc);
  return doc;
}

Word WordFromJson(const json& w) {
  return Word{Millis(w.at(0).get<int64_t>()), Millis(w.at(1).get<int64_t>()),
              w.at(2).get<std::string>(), w.at(3).get<float>()};
}

Segment SegmentFromJson(const json& s) {
  Segment seg;
  seg.start = Millis(s.at("start").get<int64_t>());
  seg.end = Millis(s.at("end").get<int64_t>());
  seg.text = s.at("text").get<std::string>();
  seg.speaker = s.at("speaker").get<std::string>();
  for (const json& w : RequireArray(s.at("words"))) seg.words.push_back(WordFromJson(w));
  if (auto it = s.find("avg_logprob"); it != s.end() && it->is_number())
    seg.avg_logprob = it->get<double>();
  if (auto it = s.find("no_speech_prob"); it != s.end() && it->is_number())
    seg.no_speech_prob = it->get<double>();
  return seg;
}

}  // namespace

Result<Feed> ReadFeed(const Statement& row) {
  return Feed{FeedId(row.Int(0)),   row.Text(1), row.Text(2), FromUnixMillis(row.Int(3)),
              OptionalTime(row, 4), row.Text(5), row.Int(6),  row.Text(7),
              row.Text(8),          row.Text(9), row.Int(10), OptionalTime(row, 11)};
}

Result<Episode> ReadEpisode(const Statement& row) {
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

Result<Episode> LoadEpisode(Db& db, EpisodeId id) {
  static const std::string sql =
      fmt::format("SELECT {} FROM episodes e WHERE e.id = ?1", kEpisodeColumns);
  return QueryOne(db, ReadEpisode, fmt::format("episode {}", id.value()), sql, id.value());
}

Chunk ReadChunk(const Statement& row, int col) {
  Chunk c;
  c.index = static_cast<int>(row.Int(col));
  c.count = static_cast<int>(row.Int(col + 1));
  c.start = Millis(row.Int(col + 2));
  if (std::optional<int64_t> end = row.OptionalInt(col + 3)) c.end = Millis(*end);
  c.relayed = row.Int(col + 4) == 1;
  return c;
}

Result<Job> ReadJob(const Statement& row) {
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
  job.chunk = ReadChunk(row, 12);
  job.quarantined_at = OptionalTime(row, 17);
  job.want = JobRequirement{row.Text(18), row.Text(19), row.Text(20)};
  if (row.IsNull(8)) return job;  // not leased
  const AttemptId attempt(job.attempts);
  job.lease = Lease{job.id, attempt, NodeId(row.Int(8)), FromUnixMillis(row.Int(9))};
  if (row.IsNull(10)) return job;  // no progress reported yet
  std::optional<Stage> stage = ParseStage(row.Text(10));
  if (!stage) return Corruption(fmt::format("job {}: unknown stage", job.id.value()));
  job.progress = Progress{job.id, attempt, *stage, row.Real(11)};
  return job;
}

Result<Attempt> ReadAttempt(const Statement& row) {
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

Result<Transcript> ReadTranscript(const Statement& row) {
  Result<std::vector<Segment>> segments = DecodeSegments(row.Text(5));
  if (!segments) return std::unexpected(segments.error());
  return Transcript{row.Text(0),        row.Text(1),        row.Text(2),
                    Millis(row.Int(3)), Millis(row.Int(4)), std::move(*segments)};
}

Result<Node> ReadNode(const Statement& row) {
  Result<Hardware> hardware = DecodeHardware(row.Text(5));
  if (!hardware) return std::unexpected(hardware.error());
  NodeInfo info{row.Text(1), row.Text(2), row.Text(3), row.Text(4),
                *hardware,   row.Real(6), row.Text(7)};
  if (!row.IsNull(11)) info.price_per_hour = row.Real(11);
  info.engine_states = static_cast<int>(row.Int(12));
  return Node{NodeId(row.Int(0)), std::move(info), FromUnixMillis(row.Int(8)),
              FromUnixMillis(row.Int(9)), !row.IsNull(10)};
}

std::string EncodeSegments(const std::vector<Segment>& segments) {
  json doc = json::array();
  for (const Segment& s : segments) {
    json words = json::array();
    for (const Word& w : s.words) {
      words.push_back(json::array({w.start.count(), w.end.count(), w.text, w.confidence}));
    }
    doc.push_back({{"start", s.start.count()},
                   {"end", s.end.count()},
                   {"text", s.text},
                   {"speaker", s.speaker},
                   {"words", std::move(words)}});
    if (s.avg_logprob) doc.back()["avg_logprob"] = *s.avg_logprob;
    if (s.no_speech_prob) doc.back()["no_speech_prob"] = *s.no_speech_prob;
  }
  return Dump(doc);
}

Result<std::vector<Segment>> DecodeSegments(std::string_view text) {
  return DecodeJson<std::vector<Segment>>(text, "transcript segments", [](const json& doc) {
    std::vector<Segment> segments;
    for (const json& s : RequireArray(doc)) segments.push_back(SegmentFromJson(s));
    return segments;
  });
}

std::string EncodeLinks(const std::vector<TranscriptLink>& links) {
  json doc = json::array();
  for (const TranscriptLink& l : links) {
    doc.push_back({{"url", l.url}, {"type", l.type}, {"language", l.language}, {"rel", l.rel}});
  }
  return Dump(doc);
}

Result<std::vector<TranscriptLink>> DecodeLinks(std::string_view text) {
  return DecodeJson<std::vector<TranscriptLink>>(text, "transcript links", [](const json& doc) {
    std::vector<TranscriptLink> links;
    for (const json& l : RequireArray(doc)) {
      links.push_back({l.at("url").get<std::string>(), l.at("type").get<std::string>(),
                       l.at("language").get<std::string>(), l.at("rel").get<std::string>()});
    }
    return links;
  });
}

std::string EncodeHardware(const Hardware& hw) {
  json gpus = json::array();
  for (const Gpu& g : hw.gpus) {
    gpus.push_back(
        {{"name", g.name}, {"driver", g.driver}, {"memory_mb", g.memory_mb}, {"cuda", g.cuda}});
  }
  return Dump({{"cpu_model", hw.cpu_model},
               {"cpu_cores", hw.cpu_cores},
               {"memory_mb", hw.memory_mb},
               {"os", hw.os},
               {"gpus", std::move(gpus)}});
}

Result<Hardware> DecodeHardware(std::string_view text) {
  return DecodeJson<Hardware>(text, "node hardware", [](const json& doc) {
    Hardware hw{doc.at("cpu_model").get<std::string>(),
                doc.at("cpu_cores").get<int>(),
                doc.at("memory_mb").get<int64_t>(),
                doc.at("os").get<std::string>(),
                {}};
    for (const json& g : RequireArray(doc.at("gpus"))) {
      hw.gpus.push_back({g.at("name").get<std::string>(), g.at("driver").get<std::string>(),
                         g.at("memory_mb").get<int64_t>(), g.value("cuda", "")});
    }
    return hw;
  });
}

Result<int64_t> MarkSeen(Db& db, NodeId node, TimePoint now) {
  return db.Run("UPDATE nodes SET last_seen = ?2 WHERE id = ?1 AND last_seen <= ?2 - 1000",
                node.value(), ToUnixMillis(now));
}

}  // namespace podfleet
