#include "core/model.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

TEST(CanServe, EngineModelAndLanguageMustEachFit) {
  const NodeInfo sphinx{.engine = "pocketsphinx", .model = "en-us"};
  const NodeInfo whisper{.engine = "whisper", .model = "small"};
  const NodeInfo whisper_en{.engine = "whisper", .model = "small.en"};
  EXPECT_TRUE(CanServe(sphinx, {}));
  EXPECT_TRUE(CanServe(sphinx, {.language = "en"}));
  EXPECT_FALSE(CanServe(sphinx, {.language = "de"}));
  EXPECT_TRUE(CanServe(whisper, {.language = "de"})) << "a multilingual model is told it";
  EXPECT_FALSE(CanServe(whisper_en, {.language = "de"}));
  EXPECT_TRUE(CanServe(whisper_en, {.engine = "whisper", .language = "en"}));
  EXPECT_FALSE(CanServe(sphinx, {.engine = "whisper"}));
  EXPECT_FALSE(CanServe(whisper, {.engine = "whisper", .model = "small.en"}));
  EXPECT_TRUE(CanServe(whisper, {.model = "small"}));
}

}  // namespace
}  // namespace podfleet
