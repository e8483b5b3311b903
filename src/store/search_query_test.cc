#include "store/search_query.h"

#include <gtest/gtest.h>

#include "store/store_test_util.h"

namespace podfleet {
namespace {

std::string Fts(std::string_view text) { return Must(ToFtsQuery(text)); }

TEST(SearchQuery, WordsMustAllOccur) {
  EXPECT_EQ(Fts("amiable"), R"("amiable")");
  EXPECT_EQ(Fts("  amiable   otter "), R"("amiable" AND "otter")");
}

TEST(SearchQuery, QuotesMakeAPhrase) {
  EXPECT_EQ(Fts(R"(say "amiable otter" now)"), R"("say" AND "amiable otter" AND "now")");
}

TEST(SearchQuery, StarMakesAPrefix) {
  EXPECT_EQ(Fts("amia*"), R"("amia"*)");
  EXPECT_EQ(Fts(R"("amiable ot"*)"), R"("amiable ot"*)");
}

TEST(SearchQuery, OrGroupsTheTermsBesideIt) {
  EXPECT_EQ(Fts("a b OR c"), R"("a" AND ("b" OR "c"))");
  EXPECT_EQ(Fts("OR a OR OR b OR"), R"(("a" OR "b"))");
  EXPECT_EQ(Fts("a or b"), R"("a" AND "or" AND "b")");  // only upper-case OR is an operator
}

TEST(SearchQuery, Fts5SyntaxIsText) {
  EXPECT_EQ(Fts("text:foo NEAR(a b) -x ^y"),
            R"x("text:foo" AND "NEAR(a" AND "b)" AND "-x" AND "^y")x");
  EXPECT_EQ(Fts(R"(a"b)"), R"("a" AND "b")");
  EXPECT_EQ(Fts(R"("unclosed phrase)"), R"("unclosed phrase")");
}

TEST(SearchQuery, NothingToSearchForIsRefused) {
  for (std::string_view text : {"", "   ", "\"\"", "\" \"", "OR", "OR OR", "**"})
    EXPECT_CODE(ToFtsQuery(text), Code::kInvalidArgument) << text;
}

}  // namespace
}  // namespace podfleet
