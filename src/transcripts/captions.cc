#include "transcripts/captions.h"

#include <fmt/format.h>

#include <algorithm>

namespace podfleet {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The byte length of the code point starting at s[0]. REQUIRES: !s.empty().
size_t CodePointLength(std::string_view s) {
  size_t n = 1;
  while (n < s.size() && IsContinuation(s[n])) ++n;
  return n;
}

std::vector<std::string_view> SplitWords(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !IsSpace(text[i])) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

// Cuts a word wider than a line into pieces that fit. `measure` must be additive over code points.
std::vector<std::string_view> CutToWidth(std::string_view word, int max_width, MeasureFn measure) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  int width = 0;
  for (size_t i = 0; i < word.size();) {
    const size_t n = CodePointLength(word.substr(i));
    const int w = measure(word.substr(i, n));
    if (width + w > max_width && i > start) {
      pieces.push_back(word.substr(start, i - start));
      start = i;
      width = 0;
    }
    width += w;
    i += n;
  }
  pieces.push_back(word.substr(start));
  return pieces;
}

// Accumulates words into lines and lines into cues; see LayoutCues.
class CueBuilder {
 public:
  CueBuilder(const CueLimits& limits, std::string_view prefix, int prefix_width)
      : limits_(limits), line_(prefix), line_width_(prefix_width) {}

  // REQUIRES: the word fits on an empty line.
  void Add(std::string_view word, int width, Millis start, Millis end) {
    const int needed = line_has_word_ ? line_width_ + 1 + width : line_width_ + width;
    if (needed > limits_.max_line_width) BreakLine();
    if (line_has_word_) {
      line_ += ' ';
      ++line_width_;
    }
    line_ += word;
    line_width_ += width;
    line_has_word_ = true;
    if (!cue_has_word_) cue_.start = cue_.end = start;
    cue_.end = std::max({cue_.end, start, end});
    cue_has_word_ = true;
  }

  std::vector<Cue> Finish() && {
    if (cue_has_word_) {
      if (!line_.empty()) cue_.lines.push_back(std::move(line_));
      cues_.push_back(std::move(cue_));
    }
    return std::move(cues_);
  }

 private:
  void BreakLine() {
    while (!line_.empty() && line_.back() == ' ') line_.pop_back();
    if (!line_.empty()) cue_.lines.push_back(std::move(line_));
    line_.clear();
    line_width_ = 0;
    line_has_word_ = false;
    // A cue holding only a prefix line stays open: with max_lines >= 2 the word goes below it.
    if (static_cast<int>(cue_.lines.size()) >= limits_.max_lines && cue_has_word_) {
      cues_.push_back(std::move(cue_));
      cue_ = Cue{};
      cue_has_word_ = false;
    }
  }

  const CueLimits& limits_;
  std::vector<Cue> cues_;
  Cue cue_;
  bool cue_has_word_ = false;
  std::string line_;
  int line_width_ = 0;
  bool line_has_word_ = false;
};

}  // namespace

int CodePoints(std::string_view s) {
  int n = 0;
  for (char c : s) n += IsContinuation(c) ? 0 : 1;
  return n;
}

std::vector<CaptionToken> SegmentTokens(const Segment& segment) {
  std::vector<CaptionToken> tokens;
  for (const Word& word : segment.words) {
    for (std::string_view piece : SplitWords(word.text)) {
      tokens.push_back({std::string(piece), word.start, std::max(word.start, word.end)});
    }
  }
  if (!tokens.empty()) return tokens;

  const std::vector<std::string_view> words = SplitWords(segment.text);
  std::vector<int64_t> offsets;
  int64_t total = 0;
  for (std::string_view word : words) {
    offsets.push_back(total);
    total += CodePoints(word) + 1;
  }
  total = std::max<int64_t>(1, total - 1);  // no space after the last word
  const double span =
      static_cast<double>(std::max<int64_t>(0, (segment.end - segment.start).count()));
  const auto at = [&](size_t i) {
    if (i >= words.size()) return segment.start + Millis(static_cast<int64_t>(span));
    return segment.start + Millis(static_cast<int64_t>(span * static_cast<double>(offsets[i]) /
                                                       static_cast<double>(total)));
  };
  for (size_t i = 0; i < words.size(); ++i) {
    tokens.push_back({std::string(words[i]), at(i), at(i + 1)});
  }
  return tokens;
}

std::vector<Cue> LayoutCues(const std::vector<CaptionToken>& tokens, const CueLimits& limits,
                            std::string_view prefix, int prefix_width) {
  CueBuilder builder(limits, prefix, prefix_width);
  for (const CaptionToken& token : tokens) {
    const int width = limits.measure(token.text);
    if (width <= limits.max_line_width) {
      builder.Add(token.text, width, token.start, token.end);
      continue;
    }
    // The pieces share the word's time in equal parts, so their cues do not overlap.
    const std::vector<std::string_view> pieces =
        CutToWidth(token.text, limits.max_line_width, limits.measure);
    const int64_t n = static_cast<int64_t>(pieces.size());
    const Millis span = std::max(Millis(0), token.end - token.start);
    for (int64_t k = 0; k < n; ++k) {
      builder.Add(pieces[k], limits.measure(pieces[k]), token.start + span * k / n,
                  token.start + span * (k + 1) / n);
    }
  }
  return std::move(builder).Finish();
}

std::string CleanSpeakerName(std::string_view name, std::string_view drop, int max_code_points) {
  std::string out;
  int code_points = 0;
  for (size_t i = 0; i < name.size();) {
    const size_t n = CodePointLength(name.substr(i));
    std::string_view cp = name.substr(i, n);
    i += n;
    if (n == 1 && drop.find(cp[0]) != std::string_view::npos) continue;
    const bool space =
        n == 1 && (static_cast<unsigned char>(cp[0]) < 0x20 || cp[0] == 0x7F || cp[0] == ' ');
    if (space && (out.empty() || out.back() == ' ')) continue;
    if (code_points == max_code_points) break;
    out += space ? std::string_view(" ") : cp;
    ++code_points;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string FormatCueTime(Millis t, char separator) {
  const int64_t ms = std::max<int64_t>(0, t.count());
  return fmt::format("{:02}:{:02}:{:02}{}{:03}", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60,
                     separator, ms % 1000);
}

std::optional<Millis> ParseCueTime(std::string_view text) {
  int64_t fields[3] = {0, 0, 0};
  size_t digits[3] = {0, 0, 0};
  int count = 0;
  size_t i = 0;
  while (count < 3) {
    const size_t start = i;
    int64_t value = 0;
    while (i < text.size() && i - start < 8 && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + (text[i++] - '0');
    }
    if (i == start) return std::nullopt;
    fields[count] = value;
    digits[count++] = i - start;
    if (i == text.size() || text[i] != ':') break;
    ++i;
  }
  if (count < 2 || digits[count - 1] > 2 || digits[count - 2] > 2) return std::nullopt;
  if (count == 3 && digits[0] > 7) return std::nullopt;
  int64_t millis = 0;
  if (i < text.size() && (text[i] == ',' || text[i] == '.')) {
    const size_t start = ++i;
    int64_t scale = 100;
    for (; i < text.size() && i - start < 3 && text[i] >= '0' && text[i] <= '9'; ++i, scale /= 10) {
      millis += (text[i] - '0') * scale;
    }
    if (i == start) return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  const int64_t hours = count == 3 ? fields[0] : 0;
  const int64_t minutes = fields[count - 2];
  const int64_t seconds = fields[count - 1];
  if (minutes > 59 || seconds > 59) return std::nullopt;
  return Millis(((hours * 60 + minutes) * 60 + seconds) * 1000 + millis);
}

}  // namespace podfleet
