#include "engines/engine.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

TEST(MakeEngine, UnknownNameListsTheKnownEngines) {
  EngineConfig config;
  config.name = "whisper-large";
  auto engine = MakeEngine(config);
  ASSERT_FALSE(engine);
  EXPECT_EQ(engine.error().code, Code::kInvalidArgument);
  EXPECT_EQ(engine.error().message,
            "unknown engine \"whisper-large\"; known: pocketsphinx, simulated, whisper, parakeet, "
            "openai, exec");
}

TEST(MakeEngine, MakesTheEngineNamed) {
  EngineConfig config;
  config.name = "simulated";
  auto engine = MakeEngine(config);
  ASSERT_TRUE(engine) << engine.error().ToString();
  EXPECT_EQ((*engine)->info().name, "simulated");
}

TEST(MakeEngine, PassesTheEnginesOwnErrorsOn) {
  EngineConfig config;
  config.name = "pocketsphinx";
  config.model = "/nonexistent/en-us";
  auto engine = MakeEngine(config);
  ASSERT_FALSE(engine);
  EXPECT_EQ(engine.error().code, Code::kNotFound);
}

}  // namespace
}  // namespace podfleet
