#include "engines/wer.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

TEST(Wer, NormalizesCasePunctuationAndSpaces) {
  EXPECT_EQ(NormalizeForWer("  Hello,   World! It's a well-known\tfact.  "),
            "hello world its a well known fact");
  EXPECT_EQ(NormalizeForWer("Café au lait"), "café au lait");
  EXPECT_EQ(NormalizeForWer("...!?"), "");
}

TEST(Wer, IdenticalTextsHaveNoErrors) {
  const WerResult r = WordErrorRate("The cat sat.", "the CAT sat");
  EXPECT_EQ(r.ref_words, 3);
  EXPECT_EQ(r.wer, 0.0);
}

TEST(Wer, CountsSubstitutionsDeletionsAndInsertions) {
  const WerResult r = WordErrorRate("the cat sat on the mat", "so the bat sat on mat");
  EXPECT_EQ(r.substitutions, 1);  // cat -> bat
  EXPECT_EQ(r.deletions, 1);      // the
  EXPECT_EQ(r.insertions, 1);     // so
  EXPECT_EQ(r.ref_words, 6);
  EXPECT_DOUBLE_EQ(r.wer, 3.0 / 6);
}

TEST(Wer, EqualCostAlignmentsPreferSubstitutions) {
  // "the mat" -> "mat today" is two substitutions or a deletion and an insertion.
  const WerResult r = WordErrorRate("the mat", "mat today");
  EXPECT_EQ(r.substitutions, 2);
  EXPECT_EQ(r.deletions + r.insertions, 0);
  EXPECT_DOUBLE_EQ(r.wer, 1.0);
}

TEST(Wer, EmptyHypothesisDeletesEveryWord) {
  const WerResult r = WordErrorRate("one two three", "");
  EXPECT_EQ(r.deletions, 3);
  EXPECT_DOUBLE_EQ(r.wer, 1.0);
}

TEST(Wer, InsertionsCanExceedOne) {
  const WerResult r = WordErrorRate("yes", "yes yes yes");
  EXPECT_EQ(r.insertions, 2);
  EXPECT_DOUBLE_EQ(r.wer, 2.0);
}

TEST(Wer, EmptyReference) {
  EXPECT_EQ(WordErrorRate("", "").wer, 0.0);
  EXPECT_EQ(WordErrorRate("", "hello").wer, 1.0);
  EXPECT_EQ(WordErrorRate("", "hello").insertions, 1);
}

}  // namespace
}  // namespace podfleet
