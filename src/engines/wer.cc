#include "engines/wer.h"

#include <algorithm>
#include <cctype>

namespace podfleet {
namespace {

// An alignment cost with the edit counts that make it up.
struct Edits {
  int cost = 0;
  int substitutions = 0;
  int deletions = 0;
  int insertions = 0;
};

Edits Plus(Edits e, int Edits::*kind, int cost) {
  e.cost += cost;
  e.*kind += cost;
  return e;
}

// The cheapest of three alignments; ties prefer substitution, then deletion, so that counts are
// deterministic.
Edits Cheapest(const Edits& substitute, const Edits& remove, const Edits& insert) {
  if (substitute.cost <= remove.cost && substitute.cost <= insert.cost) return substitute;
  return remove.cost <= insert.cost ? remove : insert;
}

}  // namespace

std::string NormalizeForWer(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (const char raw : text) {
    const auto c = static_cast<unsigned char>(raw);
    if (c == '\'') continue;
    if (std::isspace(c) || (c < 0x80 && std::ispunct(c))) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += static_cast<char>(c < 0x80 ? std::tolower(c) : c);
  }
  return out;
}

std::vector<std::string> WerWords(std::string_view text) {
  const std::string normal = NormalizeForWer(text);
  std::vector<std::string> words;
  size_t begin = 0;
  while (begin < normal.size()) {
    size_t end = normal.find(' ', begin);
    if (end == std::string::npos) end = normal.size();
    words.emplace_back(normal.substr(begin, end - begin));
    begin = end + 1;
  }
  return words;
}

WerResult WordErrorRate(std::string_view reference, std::string_view hypothesis) {
  const std::vector<std::string> ref = WerWords(reference);
  const std::vector<std::string> hyp = WerWords(hypothesis);
  // Two rows of the (ref + 1) x (hyp + 1) table: memory grows with the hypothesis only.
  std::vector<Edits> previous(hyp.size() + 1);
  std::vector<Edits> current(hyp.size() + 1);
  for (size_t j = 1; j <= hyp.size(); ++j)
    previous[j] = Plus(previous[j - 1], &Edits::insertions, 1);
  for (size_t i = 1; i <= ref.size(); ++i) {
    current[0] = Plus(previous[0], &Edits::deletions, 1);
    for (size_t j = 1; j <= hyp.size(); ++j) {
      const int differ = ref[i - 1] == hyp[j - 1] ? 0 : 1;
      current[j] = Cheapest(Plus(previous[j - 1], &Edits::substitutions, differ),
                            Plus(previous[j], &Edits::deletions, 1),
                            Plus(current[j - 1], &Edits::insertions, 1));
    }
    std::swap(previous, current);
  }
  const Edits& best = previous[hyp.size()];
  WerResult r;
  r.substitutions = best.substitutions;
  r.deletions = best.deletions;
  r.insertions = best.insertions;
  r.ref_words = static_cast<int>(ref.size());
  if (r.ref_words > 0) {
    r.wer = static_cast<double>(best.cost) / r.ref_words;
  } else {
    r.wer = hyp.empty() ? 0.0 : 1.0;
  }
  return r;
}

}  // namespace podfleet
