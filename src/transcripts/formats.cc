// Format names and dispatch, and the prose writers (text, Markdown). The caption formats live in
// formats_captions.cc and JSON in formats_json.cc.
#include "transcripts/formats.h"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace podfleet {
namespace {

struct FormatRow {
  TranscriptFormat format;
  std::string_view name;
  std::string_view content_type;
};

constexpr std::array<FormatRow, 5> kFormats{{
    {TranscriptFormat::kText, "txt", "text/plain"},
    {TranscriptFormat::kSrt, "srt", "application/x-subrip"},
    {TranscriptFormat::kVtt, "vtt", "text/vtt"},
    {TranscriptFormat::kJson, "json", "application/json"},
    {TranscriptFormat::kMarkdown, "md", "text/markdown"},
}};

// MIME types seen for transcripts, beyond each format's own content type.
constexpr std::array<std::pair<std::string_view, TranscriptFormat>, 3> kMimeAliases{{
    {"application/srt", TranscriptFormat::kSrt},
    {"text/srt", TranscriptFormat::kSrt},
    {"text/x-markdown", TranscriptFormat::kMarkdown},
}};

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "[01:02:03]"
std::string Timestamp(Millis t) {
  const int64_t s = std::max<int64_t>(0, t.count()) / 1000;
  return fmt::format("[{:02}:{:02}:{:02}]", s / 3600, s / 60 % 60, s % 60);
}

// Backslash-escapes what Markdown would otherwise read as markup or raw HTML, and flattens
// line breaks so a segment stays one paragraph.
std::string EscapeMarkdown(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      out += ' ';
      continue;
    }
    if (std::string_view("\\`*_[]<>~&").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// The segment text on one line.
std::string OneLine(std::string_view text) {
  std::string out(TrimSpace(text));
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

std::optional<TranscriptFormat> ParseTranscriptFormat(std::string_view name) {
  for (const FormatRow& row : kFormats) {
    if (row.name == name) return row.format;
  }
  return std::nullopt;
}

std::string_view ContentType(TranscriptFormat format) {
  for (const FormatRow& row : kFormats) {
    if (row.format == format) return row.content_type;
  }
  return "application/octet-stream";
}

std::optional<TranscriptFormat> TranscriptFormatFromMimeType(std::string_view type) {
  const std::string essence = AsciiLower(TrimSpace(type.substr(0, type.find(';'))));
  for (const FormatRow& row : kFormats) {
    if (row.content_type == essence) return row.format;
  }
  for (const auto& [alias, format] : kMimeAliases) {
    if (alias == essence) return format;
  }
  return std::nullopt;
}

std::string WriteTranscript(const Transcript& t, TranscriptFormat format,
                            const TranscriptMeta& meta) {
  switch (format) {
    case TranscriptFormat::kText: return WriteText(t);
    case TranscriptFormat::kSrt: return WriteSrt(t);
    case TranscriptFormat::kVtt: return WriteVtt(t);
    case TranscriptFormat::kJson: return WritePodcastJson(t);
    case TranscriptFormat::kMarkdown: return WriteMarkdown(t, meta);
  }
  return WriteText(t);
}

Result<Transcript> ReadTranscriptFile(std::string_view data, TranscriptFormat format) {
  switch (format) {
    case TranscriptFormat::kSrt: return ReadSrt(data);
    case TranscriptFormat::kVtt: return ReadVtt(data);
    case TranscriptFormat::kJson: return ReadPodcastJson(data);
    case TranscriptFormat::kText:
    case TranscriptFormat::kMarkdown: break;
  }
  return InvalidArgument(fmt::format("no reader for {} transcripts", ContentType(format)));
}

std::string WriteText(const Transcript& t) {
  std::string out;
  const std::string* speaker = nullptr;
  for (const Segment& s : t.segments) {
    const std::string text = OneLine(s.text);
    if (text.empty()) continue;
    const bool new_turn = !s.speaker.empty() && (!speaker || *speaker != s.speaker);
    if (new_turn && !out.empty()) out += '\n';
    if (new_turn) out += OneLine(s.speaker) + ": ";
    out += text;
    out += '\n';
    speaker = &s.speaker;
  }
  return out;
}

std::string WriteMarkdown(const Transcript& t, const TranscriptMeta& meta) {
  const std::string title = OneLine(meta.title);
  std::string out =
      "# " + (title.empty() ? std::string("Transcript") : EscapeMarkdown(title)) + "\n";
  const std::string* speaker = nullptr;
  for (const Segment& s : t.segments) {
    const std::string text = OneLine(s.text);
    if (text.empty()) continue;
    out += '\n';
    out += Timestamp(s.start);
    out += ' ';
    if (!s.speaker.empty() && (!speaker || *speaker != s.speaker)) {
      out += "**" + EscapeMarkdown(OneLine(s.speaker)) + ":** ";
    }
    out += EscapeMarkdown(text);
    out += '\n';
    speaker = &s.speaker;
  }
  return out;
}

}  // namespace podfleet
