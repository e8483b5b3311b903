// The Podcasting 2.0 JSON transcript format (declared in formats.h).
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "transcripts/formats.h"

namespace podfleet {
namespace {

using Json = nlohmann::json;

// 10^8 seconds is over three years of audio; larger times are junk and would overflow Millis math.
constexpr double kMaxSeconds = 1e8;

double ToSeconds(Millis t) { return static_cast<double>(std::max<int64_t>(0, t.count())) / 1000.0; }

std::string TrimSpace(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// Reads an optional time field; `present` says whether it was there (not absent, not null).
Result<Millis> ReadTime(const Json& segment, const char* key, size_t index, bool* present) {
  const auto it = segment.find(key);
  *present = it != segment.end() && !it->is_null();
  if (!*present) return Millis(0);
  const std::string where = fmt::format("segments[{}].{}", index, key);
  if (!it->is_number()) return InvalidArgument(where + " is not a number");
  const double seconds = it->get<double>();
  if (!std::isfinite(seconds) || seconds < 0) return InvalidArgument(where + " is negative");
  if (seconds > kMaxSeconds) return InvalidArgument(where + " is too large");
  return Millis(std::llround(seconds * 1000.0));
}

Result<Segment> ReadSegment(const Json& json, size_t index, bool* has_end) {
  if (!json.is_object())
    return InvalidArgument(fmt::format("segments[{}] is not an object", index));
  Segment segment;
  const auto body = json.find("body");
  if (body == json.end() || !body->is_string()) {
    return InvalidArgument(fmt::format("segments[{}].body is missing or not a string", index));
  }
  segment.text = TrimSpace(body->get_ref<const std::string&>());
  if (const auto speaker = json.find("speaker"); speaker != json.end() && !speaker->is_null()) {
    if (!speaker->is_string()) {
      return InvalidArgument(fmt::format("segments[{}].speaker is not a string", index));
    }
    segment.speaker = TrimSpace(speaker->get_ref<const std::string&>());
  }
  bool has_start = false;
  Result<Millis> start = ReadTime(json, "startTime", index, &has_start);
  if (!start) return std::unexpected(start.error());
  if (!has_start) return InvalidArgument(fmt::format("segments[{}].startTime is missing", index));
  Result<Millis> end = ReadTime(json, "endTime", index, has_end);
  if (!end) return std::unexpected(end.error());
  if (*has_end && *end < *start) {
    return InvalidArgument(fmt::format("segments[{}] ends before it starts", index));
  }
  segment.start = *start;
  segment.end = *has_end ? *end : *start;
  return segment;
}

Result<Transcript> ReadDocument(const Json& doc) {
  if (!doc.is_object()) return InvalidArgument("the top level is not an object");
  if (const auto version = doc.find("version"); version != doc.end() && !version->is_string()) {
    return InvalidArgument("version is not a string");
  }
  const auto segments = doc.find("segments");
  if (segments == doc.end() || !segments->is_array()) {
    return InvalidArgument("segments is missing or not an array");
  }
  Transcript transcript;
  std::vector<bool> has_end;
  for (size_t i = 0; i < segments->size(); ++i) {
    bool end_given = false;
    Result<Segment> segment = ReadSegment((*segments)[i], i, &end_given);
    if (!segment) return std::unexpected(segment.error());
    transcript.segments.push_back(std::move(*segment));
    has_end.push_back(end_given);
  }
  for (size_t i = 0; i + 1 < transcript.segments.size(); ++i) {
    Segment& s = transcript.segments[i];
    if (!has_end[i]) s.end = std::max(s.start, transcript.segments[i + 1].start);
  }
  return transcript;
}

}  // namespace

std::string WritePodcastJson(const Transcript& t) {
  nlohmann::ordered_json segments = nlohmann::ordered_json::array();
  for (const Segment& s : t.segments) {
    nlohmann::ordered_json segment = nlohmann::ordered_json::object();
    if (!s.speaker.empty()) segment["speaker"] = s.speaker;
    segment["startTime"] = ToSeconds(s.start);
    segment["endTime"] = ToSeconds(std::max(s.start, s.end));
    segment["body"] = s.text;
    segments.push_back(std::move(segment));
  }
  nlohmann::ordered_json doc = {{"version", "1.0.0"}, {"segments", std::move(segments)}};
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

Result<Transcript> ReadPodcastJson(std::string_view json) {
  const Json doc =
      Json::parse(json.begin(), json.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("malformed JSON transcript: not valid JSON");
  return WithContext(ReadDocument(doc), "malformed JSON transcript");
}

}  // namespace podfleet
