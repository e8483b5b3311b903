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

std::optional<HttpResponse> RefuseModel(std::string_view model,
                                        const std::vector<NodeInfo>& nodes) {
  if (model.empty() || IsFleetAlias(model)) return std::nullopt;
  const auto runs = std::count_if(nodes.begin(), nodes.end(),
                                  [&](const NodeInfo& n) { return ModelId(n) == model; });
  if (runs == 0) {
    return OpenAiError(404, "invalid_request_error",
                       fmt::format("The model '{}' does not exist on this fleet (it runs: {}; "
                                   "\"podfleet\" or \"whisper-1\" mean any)",
                                   model, FleetModels(nodes)),
                       "model", "model_not_found");
  }
  if (runs < static_cast<std::ptrdiff_t>(nodes.size())) {
    return OpenAiError(400, "invalid_request_error",
                       fmt::format("The model '{}' runs on only some of the fleet's workers ({}) "
                                   "and jobs are not routed by model: ask for \"podfleet\"",
                                   model, FleetModels(nodes)),
                       "model", "model_not_available");
  }
  return std::nullopt;
}

std::optional<std::string> FixedLanguage(std::string_view engine, std::string_view model) {
  if (engine == "pocketsphinx") return std::string(model.substr(0, model.find('-')));
  if (engine == "whisper") {
    const std::string_view name = model.substr(model.find_last_of('/') + 1);
    if (name.find(".en.") != std::string_view::npos || name.ends_with(".en")) return "en";
  }
  return std::nullopt;
}

std::optional<HttpResponse> RefuseLanguage(std::string_view language,
                                           const std::vector<NodeInfo>& nodes) {
  if (language.empty()) return std::nullopt;
  const std::string code = LanguageCode(language);
  if (code.size() != 2 ||
      !std::all_of(code.begin(), code.end(), [](char ch) { return ch >= 'a' && ch <= 'z'; })) {
    return OpenAiError(
        400, "invalid_request_error",
        fmt::format("language '{}' is not an ISO-639-1 code such as \"en\"", language), "language",
        "invalid_language");
  }
  std::set<std::string> cannot;
  for (const NodeInfo& n : nodes) {
    const std::optional<std::string> fixed = FixedLanguage(n.engine, n.model);
    if (fixed != code) {
      cannot.insert(fmt::format("{}/{} ({})", n.engine, n.model,
                                fixed ? "transcribes " + *fixed : "detects the language itself"));
    }
  }
  if (cannot.empty()) return std::nullopt;
  return OpenAiError(400, "invalid_request_error",
                     fmt::format("language '{}' cannot be honoured: {}; jobs are not routed by "
                                 "language, so leave language out",
                                 code, fmt::join(cannot, ", ")),
                     "language", "unsupported_language");
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
