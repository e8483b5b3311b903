#include "api/wire.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <type_traits>

namespace podfleet {
namespace {

using nlohmann::json;

json Instant(TimePoint t) { return ToUnixMillis(t); }
json Instant(const std::optional<TimePoint>& t) {
  return t ? json(ToUnixMillis(*t)) : json(nullptr);
}

// Reads field `key` of object `j` as T, or says which field is wrong.
template <class T>
Result<T> Field(const json& j, const char* key) {
  if (!j.is_object()) return InvalidArgument("expected a JSON object");
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return InvalidArgument(std::string("missing field '") + key + "'");
  // A JSON float read as an integer would be an out-of-range conversion (undefined behaviour).
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (!it->is_number_integer())
      return InvalidArgument(std::string("field '") + key + "' must be an integer");
  }
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    return InvalidArgument(std::string("field '") + key + "' has the wrong type");
  }
}

// Like Field, but a missing field yields `fallback`.
template <class T>
Result<T> FieldOr(const json& j, const char* key, T fallback) {
  if (!j.is_object() || !j.contains(key) || j.at(key).is_null()) return fallback;
  return Field<T>(j, key);
}

json WordsJson(const std::vector<Word>& words) {
  json out = json::array();
  for (const Word& w : words)
    out.push_back({{"start_ms", w.start.count()},
                   {"end_ms", w.end.count()},
                   {"text", w.text},
                   {"confidence", w.confidence}});
  return out;
}

Result<Segment> SegmentFromJson(const json& j) {
  Segment s;
  auto start = Field<int64_t>(j, "start_ms");
  auto end = Field<int64_t>(j, "end_ms");
  auto text = Field<std::string>(j, "text");
  if (!start) return std::unexpected(start.error());
  if (!end) return std::unexpected(end.error());
  if (!text) return std::unexpected(text.error());
  if (*start < 0 || *end < *start) return InvalidArgument("segment times out of order");
  s.start = Millis(*start);
  s.end = Millis(*end);
  s.text = *text;
  s.speaker = FieldOr<std::string>(j, "speaker", "").value_or("");
  if (auto it = j.find("avg_logprob"); it != j.end() && it->is_number())
    s.avg_logprob = it->get<double>();
  if (auto it = j.find("no_speech_prob"); it != j.end() && it->is_number())
    s.no_speech_prob = it->get<double>();
  if (j.contains("words") && j["words"].is_array()) {
    for (const json& w : j["words"]) {
      auto ws = Field<int64_t>(w, "start_ms");
      auto we = Field<int64_t>(w, "end_ms");
      auto wt = Field<std::string>(w, "text");
      if (!ws || !we || !wt) return InvalidArgument("malformed word in segment");
      s.words.push_back(Word{Millis(*ws), Millis(*we), *wt,
                             FieldOr<float>(w, "confidence", 1.0f).value_or(1.0f)});
    }
  }
  return s;
}

}  // namespace

json ToJson(const Transcript& t) {
  json segments = json::array();
  for (const Segment& s : t.segments) {
    json seg = {{"start_ms", s.start.count()}, {"end_ms", s.end.count()}, {"text", s.text}};
    if (!s.speaker.empty()) seg["speaker"] = s.speaker;
    if (!s.words.empty()) seg["words"] = WordsJson(s.words);
    if (s.avg_logprob) seg["avg_logprob"] = *s.avg_logprob;
    if (s.no_speech_prob) seg["no_speech_prob"] = *s.no_speech_prob;
    segments.push_back(std::move(seg));
  }
  return {{"language", t.language},
          {"engine", t.engine},
          {"model", t.model},
          {"audio_duration_ms", t.audio_duration.count()},
          {"engine_time_ms", t.engine_time.count()},
          {"segments", std::move(segments)}};
}

Result<Transcript> TranscriptFromJson(const json& j) {
  if (!j.is_object()) return InvalidArgument("transcript: expected a JSON object");
  Transcript t;
  t.language = FieldOr<std::string>(j, "language", "").value_or("");
  t.engine = FieldOr<std::string>(j, "engine", "").value_or("");
  t.model = FieldOr<std::string>(j, "model", "").value_or("");
  auto duration = FieldOr<int64_t>(j, "audio_duration_ms", 0);
  auto engine_time = FieldOr<int64_t>(j, "engine_time_ms", 0);
  if (!duration || !engine_time) return InvalidArgument("transcript: durations must be integers");
  t.audio_duration = Millis(*duration);
  t.engine_time = Millis(*engine_time);
  auto segments = j.find("segments");
  if (segments == j.end() || !segments->is_array())
    return InvalidArgument("transcript: missing field 'segments'");
  for (const json& s : *segments) {
    auto seg = SegmentFromJson(s);
    if (!seg) return WithContext<Transcript>(std::unexpected(seg.error()), "transcript");
    t.segments.push_back(std::move(*seg));
  }
  return t;
}

json ToJson(const NodeInfo& n) {
  json gpus = json::array();
  for (const Gpu& g : n.hardware.gpus)
    gpus.push_back(
        {{"name", g.name}, {"driver", g.driver}, {"memory_mb", g.memory_mb}, {"cuda", g.cuda}});
  json out = {{"name", n.name},
              {"engine", n.engine},
              {"model", n.model},
              {"version", n.version},
              {"speed", n.speed},
              {"blocked_reason", n.blocked_reason},
              {"engine_states", n.engine_states},
              {"hardware",
               {{"cpu_model", n.hardware.cpu_model},
                {"cpu_cores", n.hardware.cpu_cores},
                {"memory_mb", n.hardware.memory_mb},
                {"os", n.hardware.os},
                {"gpus", std::move(gpus)}}}};
  if (n.price_per_hour >= 0) out["price_per_hour"] = n.price_per_hour;
  return out;
}

Result<NodeInfo> NodeInfoFromJson(const json& j) {
  auto name = Field<std::string>(j, "name");
  if (!name) return std::unexpected(name.error());
  if (name->empty() || name->size() > 200)
    return InvalidArgument("node name must be 1-200 characters");
  NodeInfo n;
  n.name = *name;
  n.engine = FieldOr<std::string>(j, "engine", "").value_or("");
  n.model = FieldOr<std::string>(j, "model", "").value_or("");
  n.version = FieldOr<std::string>(j, "version", "").value_or("");
  n.speed = FieldOr<double>(j, "speed", 0.0).value_or(0.0);
  n.blocked_reason = FieldOr<std::string>(j, "blocked_reason", "").value_or("");
  n.price_per_hour = FieldOr<double>(j, "price_per_hour", -1.0).value_or(-1.0);
  n.engine_states = std::clamp(FieldOr<int>(j, "engine_states", 1).value_or(1), 1, 1024);
  if (n.price_per_hour < 0) n.price_per_hour = -1;
  if (j.contains("hardware") && j["hardware"].is_object()) {
    const json& h = j["hardware"];
    n.hardware.cpu_model = FieldOr<std::string>(h, "cpu_model", "").value_or("");
    n.hardware.cpu_cores = FieldOr<int>(h, "cpu_cores", 0).value_or(0);
    n.hardware.memory_mb = FieldOr<int64_t>(h, "memory_mb", 0).value_or(0);
    n.hardware.os = FieldOr<std::string>(h, "os", "").value_or("");
    if (h.contains("gpus") && h["gpus"].is_array()) {
      for (const json& g : h["gpus"])
        n.hardware.gpus.push_back(Gpu{FieldOr<std::string>(g, "name", "").value_or(""),
                                      FieldOr<std::string>(g, "driver", "").value_or(""),
                                      FieldOr<int64_t>(g, "memory_mb", 0).value_or(0),
                                      FieldOr<std::string>(g, "cuda", "").value_or("")});
    }
  }
  return n;
}

json ToJson(const Feed& f) {
  return {{"id", f.id.value()},
          {"url", f.url},
          {"title", f.title},
          {"added_at", Instant(f.added_at)},
          {"polled_at", Instant(f.polled_at)},
          {"last_error", f.last_error},
          {"episode_count", f.episode_count}};
}

json ToJson(const Episode& e) {
  json links = json::array();
  for (const TranscriptLink& l : e.info.transcript_links)
    links.push_back({{"url", l.url}, {"type", l.type}, {"language", l.language}, {"rel", l.rel}});
  return {{"id", e.id.value()},
          {"feed_id", e.feed_id ? json(e.feed_id->value()) : json(nullptr)},
          {"guid", e.info.guid},
          {"title", e.info.title},
          {"audio_url", e.info.audio_url},
          {"audio_type", e.info.audio_type},
          {"audio_length", e.info.audio_length},
          {"duration_ms", e.info.duration ? json(e.info.duration->count()) : json(nullptr)},
          {"published_at", Instant(e.info.published_at)},
          {"transcript_links", std::move(links)},
          {"state", ToString(e.state)},
          {"error", e.error},
          {"created_at", Instant(e.created_at)},
          {"updated_at", Instant(e.updated_at)}};
}

Result<Episode> EpisodeFromJson(const json& j) {
  auto id = Field<int64_t>(j, "id");
  auto title = Field<std::string>(j, "title");
  if (!id) return std::unexpected(id.error());
  if (!title) return std::unexpected(title.error());
  Episode e;
  e.id = EpisodeId(*id);
  e.info.title = *title;
  e.info.guid = FieldOr<std::string>(j, "guid", "").value_or("");
  e.info.audio_url = FieldOr<std::string>(j, "audio_url", "").value_or("");
  e.info.audio_type = FieldOr<std::string>(j, "audio_type", "").value_or("");
  e.info.audio_length = FieldOr<int64_t>(j, "audio_length", 0).value_or(0);
  if (auto d = FieldOr<int64_t>(j, "duration_ms", -1); d && *d >= 0) e.info.duration = Millis(*d);
  if (auto f = FieldOr<int64_t>(j, "feed_id", 0); f && *f > 0) e.feed_id = FeedId(*f);
  if (auto s = ParseEpisodeState(FieldOr<std::string>(j, "state", "queued").value_or("")))
    e.state = *s;
  return e;
}

json ToJson(const QueueCounts& q) {
  return {{"queued", q.queued},
          {"running", q.running},
          {"completed", q.completed},
          {"failed", q.failed}};
}

json ToJson(const Lease& l) {
  return {{"job", l.job.value()},
          {"attempt", l.attempt.value()},
          {"node", l.node.value()},
          {"expires_at", Instant(l.expires_at)}};
}

Result<Lease> LeaseFromJson(const json& j) {
  auto job = Field<int64_t>(j, "job");
  auto attempt = Field<int64_t>(j, "attempt");
  auto expires = Field<int64_t>(j, "expires_at");
  if (!job || !attempt || !expires)
    return InvalidArgument("lease needs job, attempt and expires_at");
  return Lease{JobId(*job), AttemptId(*attempt), NodeId(FieldOr<int64_t>(j, "node", 0).value_or(0)),
               FromUnixMillis(*expires)};
}

json ToJson(const WireGrant& g) {
  json out = ToJson(g.lease);
  out["audio_url"] = g.audio_url;
  out["episode"] = ToJson(g.episode);
  if (g.public_only) out["public_only"] = true;
  if (!g.language.empty()) out["language"] = g.language;
  if (g.audio_from_fleet) out["audio_from_fleet"] = true;
  json chunk = {{"index", g.chunk.index},
                {"count", g.chunk.count},
                {"start_ms", g.chunk.start.count()},
                {"relayed", g.chunk.relayed}};
  if (g.chunk.end) chunk["end_ms"] = g.chunk.end->count();
  if (g.chunk.seam > Millis(0)) chunk["seam_ms"] = g.chunk.seam.count();
  out["chunk"] = std::move(chunk);
  return out;
}

Result<WireGrant> GrantFromJson(const json& j) {
  auto lease = LeaseFromJson(j);
  if (!lease) return std::unexpected(lease.error());
  auto url = Field<std::string>(j, "audio_url");
  if (!url) return std::unexpected(url.error());
  if (!j.contains("episode")) return InvalidArgument("grant: missing field 'episode'");
  auto episode = EpisodeFromJson(j["episode"]);
  if (!episode) return std::unexpected(episode.error());
  auto public_only = FieldOr<bool>(j, "public_only", false);
  if (!public_only) return std::unexpected(public_only.error());
  auto language = FieldOr<std::string>(j, "language", "");
  if (!language) return std::unexpected(language.error());
  auto from_fleet = FieldOr<bool>(j, "audio_from_fleet", false);
  if (!from_fleet) return std::unexpected(from_fleet.error());
  WireGrant grant{*lease, *episode, *url, *public_only, {}, *language, *from_fleet};
  if (j.contains("chunk") && j["chunk"].is_object()) {  // absent from older coordinators
    const json& c = j["chunk"];
    grant.chunk.index = FieldOr<int>(c, "index", 0).value_or(0);
    grant.chunk.count = FieldOr<int>(c, "count", 1).value_or(1);
    grant.chunk.start = Millis(FieldOr<int64_t>(c, "start_ms", 0).value_or(0));
    if (c.contains("end_ms"))
      grant.chunk.end = Millis(FieldOr<int64_t>(c, "end_ms", 0).value_or(0));
    grant.chunk.relayed = FieldOr<bool>(c, "relayed", false).value_or(false);
    grant.chunk.seam = Millis(FieldOr<int64_t>(c, "seam_ms", 0).value_or(0));  // absent: exact
  }
  return grant;
}

json ToJson(const Progress& p) {
  return {{"job", p.job.value()},
          {"attempt", p.attempt.value()},
          {"stage", ToString(p.stage)},
          {"fraction", p.fraction}};
}

Result<Progress> ProgressFromJson(const json& j) {
  auto job = Field<int64_t>(j, "job");
  auto attempt = Field<int64_t>(j, "attempt");
  if (!job || !attempt) return InvalidArgument("progress needs job and attempt");
  Progress p{JobId(*job), AttemptId(*attempt), Stage::kWaiting, 0};
  if (auto stage = ParseStage(FieldOr<std::string>(j, "stage", "waiting").value_or("")))
    p.stage = *stage;
  p.fraction = std::clamp(FieldOr<double>(j, "fraction", 0.0).value_or(0.0), 0.0, 1.0);
  return p;
}

json ErrorJson(const Error& e) {
  return {{"error", {{"code", CodeName(e.code)}, {"message", e.message}}}};
}

Error ErrorFromBody(int http_status, const std::string& body) {
  Code code = Code::kInternal;
  switch (http_status) {
    case 400:
    case 413: code = Code::kInvalidArgument; break;
    case 401:
    case 403: code = Code::kPermissionDenied; break;
    case 404: code = Code::kNotFound; break;
    case 409: code = Code::kConflict; break;
    case 422: code = Code::kCorruption; break;
    case 429:
    case 502:
    case 503:
    case 504: code = Code::kUnavailable; break;
    default: break;
  }
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    return Error{code, j["error"].value("message", body)};
  }
  return Error{code, "HTTP " + std::to_string(http_status) + ": " + body.substr(0, 200)};
}

Result<json> ParseJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return InvalidArgument("malformed JSON");
  return j;
}

}  // namespace podfleet
