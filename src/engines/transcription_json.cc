#include "engines/transcription_json.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/language.h"
#include "engines/chunks.h"

namespace podfleet {
namespace {

using nlohmann::json;

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  return std::string(s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1));
}

// A number of seconds written as a number or a string (vLLM), if it is one.
std::optional<double> SecondsOf(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  if (!it->is_string()) return std::nullopt;
  const std::string& s = it->get_ref<const std::string&>();
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string StringOf(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool IsSpecialToken(std::string_view t) {
  return (t.starts_with("[_") && t.ends_with("]")) || (t.starts_with("<|") && t.ends_with("|>"));
}

// A word or token as the server wrote it, times still relative to the chunk.
struct RawWord {
  std::string text;
  double start = 0;
  double end = 0;
  float confidence = 1;
};

std::vector<RawWord> RawWords(const json& words) {
  std::vector<RawWord> out;
  if (!words.is_array()) return out;
  for (const json& w : words) {
    std::string text = StringOf(w, "word");
    auto start = SecondsOf(w, "start");
    auto end = SecondsOf(w, "end");
    if (text.empty() || !start || !end || IsSpecialToken(Trim(text))) continue;
    RawWord r{std::move(text), *start, std::max(*start, *end), 1};
    if (auto p = SecondsOf(w, "probability"); p && *p >= 0 && *p <= 1)
      r.confidence = static_cast<float>(*p);
    out.push_back(std::move(r));
  }
  return out;
}

// whisper.cpp's "words" are sub-word tokens: a token without a leading space continues the word
// before it. Words written without leading spaces at all are taken as they are.
std::vector<RawWord> JoinTokens(std::vector<RawWord> tokens) {
  const bool tokenised = std::any_of(tokens.begin(), tokens.end(),
                                     [](const RawWord& t) { return t.text.starts_with(' '); });
  if (!tokenised) return tokens;
  std::vector<RawWord> words;
  for (RawWord& t : tokens) {
    const bool continues = !words.empty() && !t.text.empty() && t.text[0] != ' ';
    if (continues) {
      words.back().text += t.text;
      words.back().end = std::max(words.back().end, t.end);
      words.back().confidence = std::min(words.back().confidence, t.confidence);
    } else {
      words.push_back(std::move(t));
    }
  }
  return words;
}

Word ToWord(const RawWord& r, const Piece& chunk) {
  return {ChunkTime(chunk.begin, r.start), ChunkTime(chunk.begin, r.end), Trim(r.text),
          r.confidence};
}

Segment ChunkSegment(std::string text, const Piece& chunk) {
  return {ChunkTime(chunk.begin, 0), ToMillis(chunk.end), Trim(text), {}, {}};
}

// Puts each top-level word into the segment its middle falls in, else the nearest one.
void AssignWords(std::vector<Segment>& segments, const std::vector<RawWord>& words,
                 const Piece& chunk) {
  for (const RawWord& r : words) {
    Word w = ToWord(r, chunk);
    if (w.text.empty()) continue;
    const Millis mid = (w.start + w.end) / 2;
    auto distance = [&](const Segment& s) {
      return mid < s.start ? s.start - mid : (mid > s.end ? mid - s.end : Millis(0));
    };
    auto best = std::min_element(
        segments.begin(), segments.end(),
        [&](const Segment& a, const Segment& b) { return distance(a) < distance(b); });
    best->words.push_back(std::move(w));
  }
}

std::vector<Segment> Segments(const json& body, const Piece& chunk) {
  std::vector<Segment> out;
  for (const json& s : body.at("segments")) {
    if (!s.is_object()) continue;
    const auto start = SecondsOf(s, "start");
    const auto end = SecondsOf(s, "end");
    Segment seg = ChunkSegment(StringOf(s, "text"), chunk);
    if (start && end) {
      seg.start = ChunkTime(chunk.begin, *start);
      seg.end = std::max(seg.start, ChunkTime(chunk.begin, *end));
    }
    // Confidence only as numbers: vLLM sends no_speech_prob null, whisper.cpp no compression.
    for (auto [name, field] : {std::pair{"avg_logprob", &Segment::avg_logprob},
                               std::pair{"no_speech_prob", &Segment::no_speech_prob}}) {
      if (auto it = s.find(name); it != s.end() && it->is_number()) seg.*field = it->get<double>();
    }
    if (s.contains("words")) {
      for (const RawWord& r : JoinTokens(RawWords(s.at("words")))) {
        Word w = ToWord(r, chunk);
        if (!w.text.empty()) seg.words.push_back(std::move(w));
      }
    }
    out.push_back(std::move(seg));
  }
  return out;
}

}  // namespace

Result<PieceTranscript> ParseTranscriptionJson(std::string_view body, const Piece& chunk) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Corruption("the transcription is not a JSON object: " + ServerErrorMessage(body));
  const bool has_segments = j.contains("segments") && j["segments"].is_array();
  if (!has_segments && !(j.contains("text") && j["text"].is_string()))
    return Corruption("the transcription has neither text nor segments");
  PieceTranscript out;
  out.language = LanguageCode(StringOf(j, "language"));
  if (has_segments) {
    out.segments = Segments(j, chunk);
  } else if (std::string text = Trim(StringOf(j, "text")); !text.empty()) {
    out.segments.push_back(ChunkSegment(std::move(text), chunk));
  }
  if (j.contains("words") && !out.segments.empty()) {
    AssignWords(out.segments, RawWords(j["words"]), chunk);
  }
  return out;
}

PieceTranscript PlainTextTranscript(std::string_view text, const Piece& chunk) {
  PieceTranscript out;
  if (std::string t = Trim(text); !t.empty()) out.segments.push_back(ChunkSegment(t, chunk));
  return out;
}

std::string ServerErrorMessage(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    if (j.contains("error") && j["error"].is_object()) {
      if (std::string m = StringOf(j["error"], "message"); !m.empty()) return m;
    }
    if (std::string m = StringOf(j, "error"); !m.empty()) return m;
    if (std::string m = StringOf(j, "detail"); !m.empty()) return m;
    if (j.contains("detail") && j["detail"].is_array()) {
      std::string joined;
      for (const json& d : j["detail"]) {
        if (std::string m = StringOf(d, "msg"); !m.empty())
          joined += (joined.empty() ? "" : "; ") + m;
      }
      if (!joined.empty()) return joined;
    }
  }
  std::string raw = Trim(body.substr(0, 500));
  return raw.empty() ? "(empty body)" : raw;
}

}  // namespace podfleet
