#include "coordinator/openai_shapes.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "core/language.h"

namespace podfleet {

using nlohmann::json;

HttpResponse OpenAiError(int status, std::string_view type, std::string_view message,
                         std::optional<std::string_view> param,
                         std::optional<std::string_view> code) {
  json error = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (param) error["param"] = *param;
  if (code) error["code"] = *code;
  return HttpResponse::Json(status, json{{"error", error}}.dump());
}

std::optional<double> CompressionRatio(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uLongf size = compressBound(static_cast<uLong>(text.size()));
  std::string packed(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &size,
                reinterpret_cast<const Bytef*>(text.data()), static_cast<uLong>(text.size()),
                Z_DEFAULT_COMPRESSION) != Z_OK ||
      size == 0) {
    return std::nullopt;
  }
  return static_cast<double>(text.size()) / static_cast<double>(size);
}

namespace {

double Secs(Millis m) { return static_cast<double>(m.count()) / 1000.0; }

json OrNull(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json SegmentJson(size_t id, const Segment& s) {
  return {{"id", id},
          {"seek", 0},
          {"start", Secs(s.start)},
          {"end", Secs(s.end)},
          {"text", s.text},
          {"tokens", json::array()},
          {"temperature", 0.0},
          {"avg_logprob", OrNull(s.avg_logprob)},
          {"compression_ratio", OrNull(CompressionRatio(s.text))},
          {"no_speech_prob", OrNull(s.no_speech_prob)}};
}

}  // namespace

json DurationUsage(Millis audio) {
  return {{"type", "duration"}, {"seconds", (audio.count() + 999) / 1000}};
}

std::string VerboseJson(const Transcript& t, bool words, bool segments, bool segments_explicit) {
  json out = {{"task", "transcribe"},
              {"language", LanguageName(t.language)},
              {"duration", Secs(t.audio_duration)},
              {"text", t.Text()}};
  const bool complete = std::all_of(t.segments.begin(), t.segments.end(), [](const Segment& s) {
    return s.avg_logprob && s.no_speech_prob && !s.text.empty();
  });
  if (segments && (complete || segments_explicit)) {
    json list = json::array();
    for (size_t i = 0; i < t.segments.size(); ++i) list.push_back(SegmentJson(i, t.segments[i]));
    out["segments"] = std::move(list);
  }
  if (words) {
    json list = json::array();
    for (const Segment& s : t.segments)
      for (const Word& w : s.words)
        list.push_back({{"word", w.text}, {"start", Secs(w.start)}, {"end", Secs(w.end)}});
    out["words"] = std::move(list);
  }
  out["usage"] = DurationUsage(t.audio_duration);
  return out.dump();
}

std::string SseEvent(const json& data) { return "data: " + data.dump() + "\n\n"; }

bool IsFleetAlias(std::string_view model) {
  static const std::set<std::string_view> kAliases = {
      "podfleet",          "whisper-1",
      "gpt-4o-transcribe", "gpt-4o-mini-transcribe",
      "gpt-transcribe",    "gpt-4o-mini-transcribe-2025-12-15"};
  return kAliases.contains(model);
}

namespace {

std::string ModelId(const NodeInfo& n) { return n.engine + "/" + n.model; }

std::string FleetModels(const std::vector<NodeInfo>& nodes) {
  std::set<std::string> ids;
  for (const NodeInfo& n : nodes) ids.insert(ModelId(n));
  return ids.empty() ? "none yet" : fmt::format("{}", fmt::join(ids, ", "));
}

}  // namespace

namespace {

HttpResponse ModelNotFound(std::string_view model, const std::vector<NodeInfo>& nodes) {
  return OpenAiError(404, "invalid_request_error",
                     fmt::format("The model '{}' does not exist on this fleet (it runs: {}; "
                                 "\"podfleet\" or \"whisper-1\" mean any)",
                                 model, FleetModels(nodes)),
                     "model", "model_not_found");
}

// What each worker running the model asked for transcribes, for a refusal.
std::string WhatTheyTranscribe(const std::vector<NodeInfo>& nodes, const JobRequirement& want) {
  std::set<std::string> said;
  for (const NodeInfo& n : nodes) {
    if (!want.engine.empty() && (n.engine != want.engine || n.model != want.model)) continue;
    const std::optional<std::string> fixed = FixedLanguage(n.engine, n.model);
    said.insert(fmt::format("{} transcribes {}", ModelId(n), fixed ? *fixed : "any language"));
  }
  return said.empty() ? "no workers yet" : fmt::format("{}", fmt::join(said, ", "));
}

}  // namespace

std::expected<JobRequirement, HttpResponse> RouteTranscription(std::string_view model,
                                                               std::string_view language,
                                                               const std::vector<NodeInfo>& nodes) {
  JobRequirement want;
  if (!model.empty() && !IsFleetAlias(model)) {
    const size_t slash = model.find('/');
    if (slash == std::string_view::npos || slash == 0)
      return std::unexpected(ModelNotFound(model, nodes));
    want.engine = std::string(model.substr(0, slash));
    want.model = std::string(model.substr(slash + 1));
    if (std::none_of(nodes.begin(), nodes.end(),
                     [&](const NodeInfo& n) { return CanServe(n, want); }))
      return std::unexpected(ModelNotFound(model, nodes));
  }
  if (language.empty()) return want;
  want.language = LanguageCode(language);
  if (!IsLanguageCode(want.language)) {
    return std::unexpected(
        OpenAiError(400, "invalid_request_error",
                    fmt::format("language '{}' is not an ISO-639-1 code such as \"en\"", language),
                    "language", "invalid_language"));
  }
  if (std::any_of(nodes.begin(), nodes.end(), [&](const NodeInfo& n) { return CanServe(n, want); }))
    return want;
  return std::unexpected(OpenAiError(
      400, "invalid_request_error",
      fmt::format("language '{}' cannot be honoured: no worker{} transcribes it ({})",
                  want.language, want.engine.empty() ? "" : " running " + std::string(model),
                  WhatTheyTranscribe(nodes, want)),
      "language", "unsupported_language"));
}

std::string PublicMessage(std::string message, std::string_view media_name,
                          std::string_view filename) {
  if (media_name.empty()) return message;
  for (size_t at; (at = message.find(media_name)) != std::string::npos;) {
    // Take in the URL around the name: "http://host/api/media/<name>" or "/api/media/<name>".
    size_t begin = at;
    while (begin > 0 && message[begin - 1] != ' ' && message[begin - 1] != '\'' &&
           message[begin - 1] != '"' && message[begin - 1] != '(')
      --begin;
    message.replace(begin, at + media_name.size() - begin, filename);
  }
  return message;
}

}  // namespace podfleet
