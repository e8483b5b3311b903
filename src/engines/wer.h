// Word error rate: how far a transcript (the hypothesis) is from a reference text, for measuring
// engines. Both texts are normalised first (NormalizeForWer), then aligned word by word with the
// Levenshtein distance; wer = (substitutions + deletions + insertions) / ref_words.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace podfleet {

struct WerResult {
  int substitutions = 0;
  int deletions = 0;   // reference words missing from the hypothesis
  int insertions = 0;  // hypothesis words not in the reference
  int ref_words = 0;
  // (substitutions + deletions + insertions) / ref_words; may exceed 1. With an empty reference:
  // 0 when the hypothesis is empty too, else 1.
  double wer = 0;
};

// Lower-cases ASCII letters, drops apostrophes ("don't" -> "dont"), turns other ASCII
// punctuation into spaces, and collapses white space to single spaces with none at either end.
// Bytes outside ASCII (UTF-8 letters) are kept as they are.
std::string NormalizeForWer(std::string_view text);

// The normalised text split at spaces.
std::vector<std::string> WerWords(std::string_view text);

WerResult WordErrorRate(std::string_view reference, std::string_view hypothesis);

}  // namespace podfleet
