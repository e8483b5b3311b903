#include "store/search_query.h"

#include <vector>

namespace podfleet {
namespace {

struct Term {
  std::string text;
  bool prefix = false;
  bool is_or = false;  // the bare word OR
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// Splits `text` into terms: quoted phrases (an unclosed quote runs to the end) and bare words.
std::vector<Term> Terms(std::string_view text) {
  std::vector<Term> terms;
  size_t i = 0;
  while (i < text.size()) {
    if (IsSpace(text[i])) {
      ++i;
      continue;
    }
    Term t;
    if (text[i] == '"') {
      const size_t close = text.find('"', i + 1);
      const size_t end = close == std::string_view::npos ? text.size() : close;
      t.text = std::string(text.substr(i + 1, end - i - 1));
      i = end == text.size() ? end : end + 1;
      if (i < text.size() && text[i] == '*') {
        t.prefix = true;
        ++i;
      }
    } else {
      size_t end = i;
      while (end < text.size() && !IsSpace(text[end]) && text[end] != '"') ++end;
      t.text = std::string(text.substr(i, end - i));
      t.is_or = t.text == "OR";
      while (!t.text.empty() && t.text.back() == '*') {
        t.prefix = true;
        t.text.pop_back();
      }
      i = end;
    }
    bool blank = true;
    for (char c : t.text) blank = blank && IsSpace(c);
    if (!blank) terms.push_back(std::move(t));
  }
  return terms;
}

std::string Quoted(const SearchTerm& t) {
  std::string out = "\"";
  for (char c : t.text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  if (t.prefix) out += '*';
  return out;
}

}  // namespace

Result<std::vector<std::vector<SearchTerm>>> ParseSearch(std::string_view text) {
  std::vector<std::vector<SearchTerm>> groups;
  bool pending_or = false;
  for (const Term& t : Terms(text)) {
    // OR joins the terms either side of it; at either end, or doubled, it means nothing.
    if (t.is_or && !t.prefix) {
      pending_or = !groups.empty();
      continue;
    }
    if (!pending_or) groups.emplace_back();
    groups.back().push_back(SearchTerm{t.text, t.prefix});
    pending_or = false;
  }
  if (groups.empty()) return InvalidArgument("search: nothing to search for");
  return groups;
}

Result<std::string> ToFtsQuery(std::string_view text) {
  auto groups = ParseSearch(text);
  if (!groups) return std::unexpected(groups.error());
  std::string out;
  for (const std::vector<SearchTerm>& group : *groups) {
    if (!out.empty()) out += " AND ";
    if (group.size() > 1) out += '(';
    for (size_t i = 0; i < group.size(); ++i) out += (i > 0 ? " OR " : "") + Quoted(group[i]);
    if (group.size() > 1) out += ')';
  }
  return out;
}

}  // namespace podfleet
