// Transcript file formats: plain text, SRT, WebVTT, Podcasting 2.0 JSON and Markdown.
// See ../shared/specs/podcasting20-transcripts.md for the rules each writer follows.
//
// Writers never fail: any Transcript can be written (negative times print as zero, an end before
// its start as the start). Readers take untrusted bytes (transcripts linked from feeds) and either
// return a Transcript or kInvalidArgument with a message saying what is wrong and where; they
// never crash, and their cost is linear in the input. All functions are thread-safe.
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

// The format of a file served as MIME `type`, e.g. a <podcast:transcript type>: text/vtt;
// application/x-subrip, application/srt, text/srt; application/json; text/plain; text/markdown.
// Case and parameters ("; charset=utf-8") are ignored. nullopt for anything else (text/html).
std::optional<TranscriptFormat> TranscriptFormatFromMimeType(std::string_view type);

struct TranscriptMeta {
  std::string title;  // used by Markdown
};

std::string WriteTranscript(const Transcript& t, TranscriptFormat format,
                            const TranscriptMeta& meta = {});

// One line per segment. When segments name speakers, each change of speaker starts a paragraph
// (a blank line before it) whose first line begins "Name: ". Empty segments are left out.
std::string WriteText(const Transcript& t);
// Cues of at most 2 lines of 32 characters, cut at word times when known.
// Cues are numbered from 1 with "HH:MM:SS,mmm --> HH:MM:SS,mmm" timing and end with a blank
// line. A cue never spans two segments. Words come from segment.words when present (cue times are
// word times), else from the text with times spread in proportion to character offsets. A change of
// speaker starts a new cue whose text begins "Name: " (the name cleaned and cut to 24 characters).
// Characters are UTF-8 code points; a word longer than a line is cut.
std::string WriteSrt(const Transcript& t);
// Cues with lines of at most 65 characters; `&` and `<` escaped; <v Speaker> on speaker change.
// "WEBVTT" and a blank line, then cues as in WriteSrt (2 lines, never spanning segments) with
// "HH:MM:SS.mmm" times and no numbers. `&`, `<` and `>` are written as &amp; &lt; &gt;. The 65
// characters count the line as written, entities and the <v Name> tag included, so both the raw
// file and the displayed caption keep the limit. Speaker names lose `<`, `>` and `&` and are cut
// to 24 characters.
std::string WriteVtt(const Transcript& t);
// {"version":"1.0.0","segments":[{speaker,startTime,endTime,body}]}, phrase level.
// One JSON segment per transcript segment, times as float seconds, "speaker" only when known.
// Invalid UTF-8 in text is replaced with U+FFFD. One line, ending in a newline.
std::string WritePodcastJson(const Transcript& t);
// "# <title>" ("# Transcript" when the title is empty), then one paragraph per segment:
// "[hh:mm:ss] text", with "**Name:** " after the timestamp when the speaker changes. Markdown
// punctuation in the title and text is backslash-escaped so it shows literally.
std::string WriteMarkdown(const Transcript& t, const TranscriptMeta& meta);

// Reads a Podcasting 2.0 JSON transcript. kInvalidArgument on malformed input.
// Requires an object with a "segments" array ("version", if present, a string). Each segment
// needs "body" (string, whitespace-trimmed) and "startTime" (number >= 0); "endTime" (number >=
// startTime) and "speaker" (string) are optional and may be null. A missing endTime becomes the
// next segment's startTime when that is later, else the startTime. Times above 10^8 s are
// rejected. Unknown keys are ignored. Segments with empty bodies are kept (they carry timing).
Result<Transcript> ReadPodcastJson(std::string_view json);

// Reads a SubRip file: each cue (optional number line, "start --> end" line, text lines, blank
// line) becomes a segment whose text is its lines joined by spaces, with <i>/<b>/<u>/<font> tags
// and {\...} override codes removed; anything else (a "Name: " label included) is kept as written.
// Times accept ',' or '.' and an optional hour (see ParseCueTime in captions.h). CRLF, CR and a
// UTF-8 BOM are accepted; blocks without a timing line are skipped; cues with no text are dropped.
// kInvalidArgument "SRT line N: ..." for a timing line that does not parse or ends before it
// starts, and "not SRT: no cues" for non-blank input without any cue. Blank input gives an empty
// transcript.
Result<Transcript> ReadSrt(std::string_view text);

// Reads a WebVTT file. It must start with "WEBVTT" (after an optional BOM), else kInvalidArgument
// "not WebVTT: ...". NOTE, STYLE and REGION blocks are skipped; cue identifiers and settings are
// ignored. Cue text loses its tags and has its character references decoded; <v Name> sets the
// speaker of that cue and of the cues after it until the next <v> (the podcast convention of
// labelling speaker changes only). Errors and lenience otherwise as ReadSrt, with "VTT line N".
Result<Transcript> ReadVtt(std::string_view text);

// Reads a transcript in a format that has a reader (SRT, VTT, JSON); kInvalidArgument otherwise.
Result<Transcript> ReadTranscriptFile(std::string_view data, TranscriptFormat format);

}  // namespace podfleet
