// Caption building blocks shared by the SRT and WebVTT writers and readers: splitting segments
// into timed words, laying words out as cues under line limits, and cue timestamps.
// Internal to transcripts/. Everything here is a pure function, safe to call from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"
#include "core/units.h"

namespace podfleet {

// One word of caption text with its time span.
struct CaptionToken {
  std::string text;  // non-empty, no whitespace
  Millis start{0};
  Millis end{0};
};

// The words of one segment. From segment.words when there are any (their times; a word whose text
// holds spaces becomes several tokens with the same times); otherwise from segment.text split at
// whitespace, with [start, end] spread over the words in proportion to their character offsets,
// each word owning the space after it, so the first starts at segment.start, the last ends at
// segment.end and consecutive words touch.
std::vector<CaptionToken> SegmentTokens(const Segment& segment);

// The display width of a string, in whatever unit the limits use.
using MeasureFn = int (*)(std::string_view);

// UTF-8 code points in `s` (bytes that are not continuation bytes; invalid UTF-8 still counts
// each lead or stray byte once). Wide and combining characters count as one.
int CodePoints(std::string_view s);

struct CueLimits {
  int max_line_width = 32;  // REQUIRES: >= 8, so any one code point fits
  int max_lines = 2;        // REQUIRES: >= 2, so a speaker label alone on a line leaves room
  MeasureFn measure = CodePoints;
};

struct Cue {
  Millis start{0};
  Millis end{0};                   // >= start
  std::vector<std::string> lines;  // non-empty; each within the limits (first line: with prefix)
};

// Lays tokens out greedily: words joined by single spaces fill a line until the next would pass
// max_line_width, lines fill a cue until max_lines, then a new cue starts. `prefix` begins the
// first line of the first cue (a speaker label) and takes `prefix_width` of it; no space is added
// after it. REQUIRES: prefix_width <= max_line_width. A word wider than a line is cut at code point
// boundaries. A cue runs from its first word's start to its last word's end. No tokens, no cues.
std::vector<Cue> LayoutCues(const std::vector<CaptionToken>& tokens, const CueLimits& limits,
                            std::string_view prefix = {}, int prefix_width = 0);

// A speaker name made safe to embed in a caption label: control characters become spaces,
// runs of spaces collapse, `drop` characters are removed, and the result is cut to at most
// max_code_points code points.
std::string CleanSpeakerName(std::string_view name, std::string_view drop, int max_code_points);

// "01:02:03,456" (SRT, separator ',') or "01:02:03.456" (WebVTT, '.'); at least two hour
// digits, more when needed. Negative times print as zero.
std::string FormatCueTime(Millis t, char separator);

// Parses a cue timestamp leniently: "[H...:]MM:SS[(,|.)fff]" with one or two digits for minutes
// and seconds (both <= 59), up to seven for hours, and one to three for the fraction ("1,5" is
// 1.5 s). Surrounding whitespace is not allowed. nullopt for anything else.
std::optional<Millis> ParseCueTime(std::string_view text);

// Appends the decoding of the HTML/WebVTT character reference starting at text[i] == '&'
// ("&amp;", "&#233;", "&#xE9;", a few named ones) and returns the index of its last character; an
// unknown or unterminated reference appends '&' and returns i.
size_t DecodeCharacterReference(std::string_view text, size_t i, std::string& out);

}  // namespace podfleet
