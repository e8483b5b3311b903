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

TEST(Language, OnlyModelsOfOneLanguageAreFixed) {
  EXPECT_EQ(FixedLanguage("pocketsphinx", "en-us"), "en");
  EXPECT_EQ(FixedLanguage("whisper", "base.en"), "en");
  EXPECT_EQ(FixedLanguage("whisper", "/models/ggml-small.en.bin"), "en");
  EXPECT_EQ(FixedLanguage("whisper", "base"), std::nullopt);
  EXPECT_EQ(FixedLanguage("parakeet", "parakeet-tdt-0.6b-v2-f16"), "en");
  EXPECT_EQ(FixedLanguage("parakeet", "parakeet-tdt-0.6b-v3-f16"), std::nullopt);
  EXPECT_EQ(FixedLanguage("openai", "whisper-1"), std::nullopt);
  EXPECT_TRUE(IsLanguageCode("fr"));
  EXPECT_FALSE(IsLanguageCode("FR"));
  EXPECT_FALSE(IsLanguageCode("fra"));
}

}  // namespace
}  // namespace podfleet
