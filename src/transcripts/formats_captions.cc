// The caption formats, SRT and WebVTT: writers and readers (declared in formats.h).
#include <fmt/format.h>

#include <algorithm>
#include <span>

#include "transcripts/captions.h"
#include "transcripts/formats.h"

namespace podfleet {
namespace {

constexpr int kSrtLineWidth = 32;
constexpr int kVttLineWidth = 65;
constexpr int kLinesPerCue = 2;
constexpr int kMaxSpeakerChars = 24;

// ---- writing -----------------------------------------------------------------------------------

// The width of text once written to a WebVTT file: escaping lengthens &, < and >.
int VttWidth(std::string_view s) {
  int width = CodePoints(s);
  for (char c : s) {
    if (c == '&') width += 4;
    if (c == '<' || c == '>') width += 3;
  }
  return width;
}

std::string EscapeVtt(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

struct Label {
  std::string text;  // written before the first word of a speaker's turn
  int width = 0;
};

// Lays out every segment as cues, starting each segment with a fresh cue and giving the first
// cue of each speaker's turn a label made by `make_label` from the cleaned name.
template <class MakeLabel>
std::vector<std::pair<Cue, std::string>> TranscriptCues(const Transcript& t,
                                                        const CueLimits& limits,
                                                        MakeLabel make_label) {
  std::vector<std::pair<Cue, std::string>>
      out;  // each cue with the label its first line begins with
  const std::string* speaker = nullptr;
  for (const Segment& segment : t.segments) {
    const std::vector<CaptionToken> tokens = SegmentTokens(segment);
    if (tokens.empty()) continue;
    Label label;
    if (!segment.speaker.empty() && (!speaker || *speaker != segment.speaker)) {
      label = make_label(segment.speaker);
    }
    speaker = &segment.speaker;
    std::vector<Cue> cues = LayoutCues(tokens, limits, label.text, label.width);
    for (size_t i = 0; i < cues.size(); ++i) {
      out.emplace_back(std::move(cues[i]), i == 0 ? label.text : std::string());
    }
  }
  return out;
}

// ---- reading -----------------------------------------------------------------------------------

struct Line {
  std::string_view text;  // without the line break and trailing spaces
  size_t number = 0;      // 1-based
};

struct Timing {
  Millis start{0};
  Millis end{0};
};

struct RawCue {
  Timing timing;
  std::vector<std::string_view> lines;
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; }

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Lines ending in LF, CRLF or CR, after a UTF-8 byte order mark if there is one.
std::vector<Line> SplitLines(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<Line> lines;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != '\n' && text[i] != '\r') continue;
    std::string_view line = text.substr(start, i - start);
    while (!line.empty() && IsSpace(line.back())) line.remove_suffix(1);
    lines.push_back({line, lines.size() + 1});
    if (i + 1 < text.size() && text[i] == '\r' && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  return lines;
}

bool IsBlank(std::string_view line) { return TrimSpace(line).empty(); }

bool IsAllDigits(std::string_view s) {
  s = TrimSpace(s);
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// "start --> end [settings]"; nullopt unless both times parse.
std::optional<Timing> ParseTiming(std::string_view line) {
  const size_t arrow = line.find("-->");
  if (arrow == std::string_view::npos) return std::nullopt;
  std::string_view rest = TrimSpace(line.substr(arrow + 3));
  size_t end_length = 0;
  while (end_length < rest.size() && !IsSpace(rest[end_length])) ++end_length;
  const std::optional<Millis> start = ParseCueTime(TrimSpace(line.substr(0, arrow)));
  const std::optional<Millis> end = ParseCueTime(rest.substr(0, end_length));
  if (!start || !end) return std::nullopt;
  return Timing{*start, *end};
}

// A text line that is a valid timing line starts a cue of its own; anything else is text.
bool IsUsableTiming(std::string_view line) {
  const std::optional<Timing> timing = ParseTiming(line);
  return timing && timing->start <= timing->end;
}

bool StartsWithWord(std::string_view line, std::string_view word) {
  return line.starts_with(word) && (line.size() == word.size() || IsSpace(line[word.size()]));
}

bool IsVttNonCueBlock(std::string_view first_line) {
  return StartsWithWord(first_line, "NOTE") || StartsWithWord(first_line, "STYLE") ||
         StartsWithWord(first_line, "REGION");
}

Result<Timing> ReadTiming(const Line& line, std::string_view format) {
  const std::optional<Timing> timing = ParseTiming(line.text);
  if (!timing) {
    const std::string_view shown = line.text.substr(0, 60);
    return InvalidArgument(
        fmt::format("{} line {}: bad cue timing \"{}\"", format, line.number, shown));
  }
  if (timing->end < timing->start) {
    return InvalidArgument(
        fmt::format("{} line {}: cue ends before it starts", format, line.number));
  }
  return *timing;
}

// One block of non-blank lines. Usually one cue, but a timing line inside the text (a file that
// lost the blank line between cues) starts another; the cue number before it is dropped.
Result<void> ReadBlock(std::span<const Line> block, std::string_view format,
                       std::vector<RawCue>& cues) {
  size_t t = 0;
  if (block[0].text.find("-->") == std::string_view::npos) {
    if (block.size() < 2 || block[1].text.find("-->") == std::string_view::npos) return {};
    t = 1;  // block[0] is the cue number or identifier
  }
  while (t < block.size()) {
    Result<Timing> timing = ReadTiming(block[t], format);
    if (!timing) return std::unexpected(timing.error());
    RawCue cue{*timing, {}};
    size_t j = t + 1;
    for (; j < block.size() && !IsUsableTiming(block[j].text); ++j)
      cue.lines.push_back(block[j].text);
    if (j < block.size() && !cue.lines.empty() && IsAllDigits(cue.lines.back()))
      cue.lines.pop_back();
    cues.push_back(std::move(cue));
    t = j;
  }
  return {};
}

Result<std::vector<RawCue>> ReadCues(std::span<const Line> lines, std::string_view format) {
  std::vector<RawCue> cues;
  for (size_t i = 0; i < lines.size();) {
    if (IsBlank(lines[i].text)) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < lines.size() && !IsBlank(lines[end].text)) ++end;
    const std::span<const Line> block = lines.subspan(i, end - i);
    i = end;
    if (format == "VTT" && IsVttNonCueBlock(block[0].text)) continue;
    if (Result<void> read = ReadBlock(block, format, cues); !read)
      return std::unexpected(read.error());
  }
  return cues;
}

std::string JoinLines(const std::vector<std::string_view>& lines) {
  std::string out;
  for (std::string_view line : lines) {
    if (!out.empty()) out += ' ';
    out += line;
  }
  return out;
}

// Collapses runs of whitespace to one space and trims the ends.
std::string CollapseSpaces(std::string_view text) {
  std::string out;
  bool pending_space = false;
  for (char c : text) {
    if (IsSpace(c) || c == '\n' || c == '\r') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Removes the formatting SRT files carry: <i> <b> <u> <s> <font ...> and their end tags, and
// {\...} override codes. Any other '<' or '{' is text.
std::string StripSrtMarkup(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{' && i + 1 < text.size() && text[i + 1] == '\\') {
      const size_t close = text.find('}', i);
      if (close != std::string_view::npos) {
        i = close;
        continue;
      }
    }
    if (text[i] == '<') {
      const size_t close = text.find('>', i);
      if (close != std::string_view::npos) {
        std::string_view tag = text.substr(i + 1, close - i - 1);
        if (tag.starts_with('/')) tag.remove_prefix(1);
        const std::string name = AsciiLower(tag.substr(0, tag.find(' ')));
        if (name == "i" || name == "b" || name == "u" || name == "s" || name == "font") {
          i = close;
          continue;
        }
      }
    }
    out += text[i];
  }
  return out;
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// "#233" or "#xE9" as a code point; nullopt for anything not a valid scalar value.
std::optional<uint32_t> NumericReference(std::string_view name) {
  if (!name.starts_with('#') || name.size() < 2) return std::nullopt;
  const bool hex = name[1] == 'x' || name[1] == 'X';
  const std::string_view digits = name.substr(hex ? 2 : 1);
  if (digits.empty() || digits.size() > 8) return std::nullopt;
  uint32_t cp = 0;
  for (char c : digits) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0) return std::nullopt;
    cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
  }
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  return cp;
}

// Appends the decoding of the character reference starting at text[i] == '&' and returns the
// index of its last character; an unknown reference is kept literally (returns i).
size_t DecodeReference(std::string_view text, size_t i, std::string& out) {
  const size_t semicolon = text.find(';', i);
  if (semicolon == std::string_view::npos || semicolon - i > 12) {
    out += '&';
    return i;
  }
  const std::string_view name = text.substr(i + 1, semicolon - i - 1);
  if (name == "amp")
    out += '&';
  else if (name == "lt")
    out += '<';
  else if (name == "gt")
    out += '>';
  else if (name == "quot")
    out += '"';
  else if (name == "apos")
    out += '\'';
  else if (name == "nbsp")
    out += ' ';
  else if (name == "lrm" || name == "rlm") {
  }  // direction marks carry no text
  else if (std::optional<uint32_t> cp = NumericReference(name))
    AppendUtf8(*cp, out);
  else {
    out += '&';
    return i;
  }
  return semicolon;
}

struct VttCueText {
  std::string text;
  std::optional<std::string> speaker;  // from a <v Name> tag
};

// Cue text without tags and with references decoded. An unclosed tag runs to the end, as in the
// WebVTT parsing rules.
VttCueText ParseVttCueText(std::string_view text) {
  VttCueText cue;
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '&') {
      i = DecodeReference(text, i, out);
      continue;
    }
    if (text[i] != '<') {
      out += text[i];
      continue;
    }
    const size_t close = std::min(text.find('>', i), text.size());
    const std::string_view tag = text.substr(i + 1, close - i - 1);
    if (tag.size() > 1 && tag[0] == 'v' && (IsSpace(tag[1]) || tag[1] == '.')) {
      const size_t space = tag.find_first_of(" \t");
      std::string name;
      if (space != std::string_view::npos) name = CollapseSpaces(tag.substr(space + 1));
      if (!name.empty()) cue.speaker = std::move(name);
    }
    out += ' ';  // tags may separate words ("<c>a</c><c>b</c>" stays two words)
    i = close;
  }
  cue.text = CollapseSpaces(out);
  return cue;
}

}  // namespace

std::string WriteSrt(const Transcript& t) {
  const CueLimits limits{kSrtLineWidth, kLinesPerCue, CodePoints};
  const auto label = [](std::string_view name) {
    std::string clean = CleanSpeakerName(name, "", kMaxSpeakerChars);
    if (clean.empty()) return Label{};
    clean += ": ";
    const int width = CodePoints(clean);
    return Label{std::move(clean), width};
  };
  std::string out;
  int number = 1;
  for (const auto& [cue, prefix] : TranscriptCues(t, limits, label)) {
    out += fmt::format("{}\n{} --> {}\n", number++, FormatCueTime(cue.start, ','),
                       FormatCueTime(cue.end, ','));
    for (const std::string& line : cue.lines) out += line + '\n';
    out += '\n';
  }
  return out;
}

std::string WriteVtt(const Transcript& t) {
  const CueLimits limits{kVttLineWidth, kLinesPerCue, VttWidth};
  const auto label = [](std::string_view name) {
    const std::string clean = CleanSpeakerName(name, "<>&", kMaxSpeakerChars);
    if (clean.empty()) return Label{};
    std::string tag = "<v " + clean + ">";
    const int width = CodePoints(tag);
    return Label{std::move(tag), width};
  };
  std::string out = "WEBVTT\n\n";
  for (const auto& [cue, prefix] : TranscriptCues(t, limits, label)) {
    out += FormatCueTime(cue.start, '.') + " --> " + FormatCueTime(cue.end, '.') + "\n";
    for (size_t i = 0; i < cue.lines.size(); ++i) {
      // The label is markup and the only part of a line not to escape.
      const size_t skip = i == 0 ? prefix.size() : 0;
      out += cue.lines[i].substr(0, skip) + EscapeVtt(std::string_view(cue.lines[i]).substr(skip)) +
             '\n';
    }
    out += '\n';
  }
  return out;
}

Result<Transcript> ReadSrt(std::string_view text) {
  const std::vector<Line> lines = SplitLines(text);
  Result<std::vector<RawCue>> cues = ReadCues(lines, "SRT");
  if (!cues) return std::unexpected(cues.error());
  if (cues->empty() &&
      !std::all_of(lines.begin(), lines.end(), [](const Line& l) { return IsBlank(l.text); })) {
    return InvalidArgument("not SRT: no cues");
  }
  Transcript transcript;
  for (const RawCue& cue : *cues) {
    std::string body = CollapseSpaces(StripSrtMarkup(JoinLines(cue.lines)));
    if (body.empty()) continue;
    transcript.segments.push_back({cue.timing.start, cue.timing.end, std::move(body), "", {}});
  }
  return transcript;
}

Result<Transcript> ReadVtt(std::string_view text) {
  const std::vector<Line> lines = SplitLines(text);
  if (lines.empty() || !StartsWithWord(lines[0].text, "WEBVTT")) {
    return InvalidArgument("not WebVTT: the first line is not \"WEBVTT\"");
  }
  Result<std::vector<RawCue>> cues = ReadCues(std::span(lines).subspan(1), "VTT");
  if (!cues) return std::unexpected(cues.error());
  Transcript transcript;
  std::string speaker;
  for (const RawCue& cue : *cues) {
    VttCueText parsed = ParseVttCueText(JoinLines(cue.lines));
    if (parsed.speaker) speaker = std::move(*parsed.speaker);
    if (parsed.text.empty()) continue;
    transcript.segments.push_back(
        {cue.timing.start, cue.timing.end, std::move(parsed.text), speaker, {}});
  }
  return transcript;
}

size_t DecodeCharacterReference(std::string_view text, size_t i, std::string& out) {
  return DecodeReference(text, i, out);
}

}  // namespace podfleet
