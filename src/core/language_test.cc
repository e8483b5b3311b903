#include "core/language.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

TEST(Language, NamesAndCodes) {
  EXPECT_EQ(LanguageCode("english"), "en");
  EXPECT_EQ(LanguageCode("German"), "de");
  EXPECT_EQ(LanguageCode("en"), "en");
  EXPECT_EQ(LanguageCode("klingon"), "klingon");
  EXPECT_EQ(LanguageName("en"), "english");
  EXPECT_EQ(LanguageName("en-US"), "english");
  EXPECT_EQ(LanguageName("xx"), "xx");
}

}  // namespace
}  // namespace podfleet
