// Transcript file formats: plain text, SRT, WebVTT, Podcasting 2.0 JSON and Markdown.
// See ../shared/specs/podcasting20-transcripts.md for the rules each writer follows.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/model.h"

namespace podfleet {

enum class TranscriptFormat { kText, kSrt, kVtt, kJson, kMarkdown };

// "txt", "srt", "vtt", "json", "md".
std::optional<TranscriptFormat> ParseTranscriptFormat(std::string_view name);
// "text/vtt", "application/x-subrip", ...
std::string_view ContentType(TranscriptFormat format);

struct TranscriptMeta {
  std::string title;  // used by Markdown
};

std::string WriteTranscript(const Transcript& t, TranscriptFormat format, const TranscriptMeta& meta = {});

std::string WriteText(const Transcript& t);
// Cues of at most 2 lines of 32 characters, cut at word times when known.
std::string WriteSrt(const Transcript& t);
// Cues with lines of at most 65 characters; `&` and `<` escaped; <v Speaker> on speaker change.
std::string WriteVtt(const Transcript& t);
// {"version":"1.0.0","segments":[{speaker,startTime,endTime,body}]}, phrase level.
std::string WritePodcastJson(const Transcript& t);
std::string WriteMarkdown(const Transcript& t, const TranscriptMeta& meta);

// Reads a Podcasting 2.0 JSON transcript. kInvalidArgument on malformed input.
Result<Transcript> ReadPodcastJson(std::string_view json);

}  // namespace podfleet
