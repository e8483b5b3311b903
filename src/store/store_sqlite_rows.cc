#include "store/store_sqlite_rows.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "store/row_decode.h"

namespace podfleet {
namespace {

using nlohmann::json;

std::string Dump(const json& doc) {
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
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

Result<Feed> ReadFeed(const Statement& row) { return DecodeFeed(row); }

Result<Episode> ReadEpisode(const Statement& row) { return DecodeEpisode(row); }

Result<Episode> LoadEpisode(Db& db, EpisodeId id) {
  static const std::string sql =
      fmt::format("SELECT {} FROM episodes e WHERE e.id = ?1", kEpisodeColumns);
  return QueryOne(db, ReadEpisode, fmt::format("episode {}", id.value()), sql, id.value());
}

Chunk ReadChunk(const Statement& row, int col) { return DecodeChunk(row, col); }

Result<Job> ReadJob(const Statement& row) { return DecodeJob(row); }

Result<Attempt> ReadAttempt(const Statement& row) { return DecodeAttempt(row); }

Result<Transcript> ReadTranscript(const Statement& row) { return DecodeTranscript(row); }

Result<Node> ReadNode(const Statement& row) { return DecodeNode(row); }

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

std::string JsonIds(const std::vector<int64_t>& ids) {
  return fmt::format("[{}]", fmt::join(ids, ","));
}

std::string EncodeSearchRow(EpisodeId episode, const Segment& s) {
  return Dump(json::array({episode.value(), s.start.count(), s.end.count(), s.speaker, s.text}));
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
