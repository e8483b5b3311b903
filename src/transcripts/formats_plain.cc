// Readers for transcripts without timing: plain text and HTML (formats.h).
#include "transcripts/formats_plain.h"

#include <array>
#include <cctype>
#include <string>
#include <vector>

#include "transcripts/captions.h"

namespace podfleet {
namespace {

bool IsBlankChar(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Whether `s` is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::array<uint32_t, 4> kMin = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

std::string CollapseBlanks(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (IsBlankChar(c) || c == '\n') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// "Name: text" -> speaker Name when the name is short and reads like one.
void TakeSpeaker(Segment& s) {
  const size_t colon = s.text.find(": ");
  if (colon == std::string::npos || colon == 0 || colon > 40) return;
  const std::string name = s.text.substr(0, colon);
  if (name.find_first_of(".!?,;\"") != std::string::npos) return;
  s.speaker = name;
  s.text = s.text.substr(colon + 2);
}

// The first position at or after `from` where `needle` (lower case) occurs in `hay`, ignoring
// ASCII case; npos when nowhere.
size_t FindCaseless(std::string_view hay, std::string_view needle, size_t from) {
  for (size_t i = from; i + needle.size() <= hay.size(); ++i) {
    size_t k = 0;
    while (k < needle.size() && std::tolower(static_cast<unsigned char>(hay[i + k])) == needle[k])
      ++k;
    if (k == needle.size()) return i;
  }
  return std::string_view::npos;
}

}  // namespace

Result<Transcript> ReadPlainText(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  if (text.find('\0') != std::string_view::npos) return InvalidArgument("not text: NUL bytes");
  if (!ValidUtf8(text)) return InvalidArgument("not text: invalid UTF-8");
  Transcript t;
  std::string paragraph;
  auto flush = [&] {
    std::string joined = CollapseBlanks(paragraph);
    paragraph.clear();
    if (joined.empty()) return;
    Segment s;
    s.text = std::move(joined);
    TakeSpeaker(s);
    t.segments.push_back(std::move(s));
  };
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    bool blank = true;
    for (char c : line) blank = blank && IsBlankChar(c);
    if (blank) {
      flush();
    } else {
      paragraph += std::string(line) + "\n";
    }
    start = end + 1;
  }
  flush();
  return t;
}

Result<Transcript> ReadHtmlTranscript(std::string_view html) {
  static constexpr std::array<std::string_view, 13> kBlocks = {
      "p", "div", "li", "br", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article"};
  std::string text;
  size_t i = 0;
  while (i < html.size()) {
    const char c = html[i];
    if (c == '&') {
      i = DecodeCharacterReference(html, i, text) + 1;
      continue;
    }
    if (c != '<') {
      text += c;
      ++i;
      continue;
    }
    if (html.substr(i, 4) == "<!--") {
      const size_t end = html.find("-->", i + 4);
      i = end == std::string_view::npos ? html.size() : end + 3;
      continue;
    }
    const size_t close = html.find('>', i);
    if (close == std::string_view::npos) break;
    const bool closing = i + 1 < close && html[i + 1] == '/';
    std::string name;
    for (size_t k = i + (closing ? 2 : 1); k < close; ++k) {
      const auto ch = static_cast<unsigned char>(html[k]);
      if (!std::isalnum(ch)) break;
      name += static_cast<char>(std::tolower(ch));
    }
    i = close + 1;
    if (!closing && (name == "script" || name == "style")) {
      const size_t end = FindCaseless(html, "</" + name, i);
      const size_t after = end == std::string_view::npos ? end : html.find('>', end);
      i = after == std::string_view::npos ? html.size() : after + 1;
      continue;
    }
    for (std::string_view block : kBlocks)
      if (name == block) text += "\n\n";
  }
  return ReadPlainText(text);
}

}  // namespace podfleet
