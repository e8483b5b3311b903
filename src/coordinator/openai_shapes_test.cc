#include "coordinator/openai_shapes.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

using nlohmann::json;

TEST(CompressionRatio, RepetitiveTextCompressesFarBetter) {
  const std::string normal = "Welcome back to the show, today we talk about bridges.";
  std::string looped;
  for (int i = 0; i < 20; ++i) looped += "thank you thank you ";
  ASSERT_TRUE(CompressionRatio(normal) && CompressionRatio(looped));
  EXPECT_LT(*CompressionRatio(normal), 1.5);
  EXPECT_GT(*CompressionRatio(looped), 2.4);  // OpenAI's threshold for a hallucinated loop
  EXPECT_FALSE(CompressionRatio(""));
}

TEST(PublicMessage, InternalMediaPathsBecomeTheClientsFileName) {
  const std::string name = "0123456789abcdef01234567";
  EXPECT_EQ(PublicMessage("http://127.0.0.1:8750/api/media/" + name + ": 404 Not Found", name,
                          "talk.webm"),
            "talk.webm: 404 Not Found");
  EXPECT_EQ(PublicMessage(name + ": not audio (fetched '/api/media/" + name + "')", name, "a.mp3"),
            "a.mp3: not audio (fetched 'a.mp3')");
  EXPECT_EQ(PublicMessage("plain", name, "a.mp3"), "plain");
}

TEST(FixedLanguage, OnlyEnglishOnlyModelsAreFixed) {
  EXPECT_EQ(FixedLanguage("pocketsphinx", "en-us"), "en");
  EXPECT_EQ(FixedLanguage("whisper", "base.en"), "en");
  EXPECT_EQ(FixedLanguage("whisper", "/models/ggml-small.en.bin"), "en");
  EXPECT_EQ(FixedLanguage("whisper", "base"), std::nullopt);
  EXPECT_EQ(FixedLanguage("openai", "whisper-1"), std::nullopt);
}

TEST(RefuseLanguage, NamesWhatTheFleetTranscribes) {
  const std::vector<NodeInfo> english = {NodeInfo{.engine = "pocketsphinx", .model = "en-us"}};
  EXPECT_FALSE(RefuseLanguage("", english));
  EXPECT_FALSE(RefuseLanguage("en", english));
  EXPECT_FALSE(RefuseLanguage("english", english));
  auto fr = RefuseLanguage("fr", english);
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->status, 400);
  EXPECT_EQ(json::parse(fr->body)["error"]["param"], "language");
  const std::vector<NodeInfo> mixed = {english[0], NodeInfo{.engine = "whisper", .model = "base"}};
  auto en = RefuseLanguage("en", mixed);
  ASSERT_TRUE(en);
  EXPECT_NE(json::parse(en->body)["error"]["message"].get<std::string>().find(
                "whisper/base (detects the language itself)"),
            std::string::npos);
}

TEST(RefuseModel, AliasesMeanTheFleetAndIdsMustRunEverywhere) {
  const std::vector<NodeInfo> nodes = {NodeInfo{.engine = "pocketsphinx", .model = "en-us"},
                                       NodeInfo{.engine = "whisper", .model = "base"}};
  EXPECT_FALSE(RefuseModel("", nodes));
  EXPECT_FALSE(RefuseModel("whisper-1", nodes));
  EXPECT_FALSE(RefuseModel("podfleet", nodes));
  EXPECT_EQ(RefuseModel("whisper/large", nodes)->status, 404);
  EXPECT_EQ(RefuseModel("whisper/base", nodes)->status, 400);
  EXPECT_FALSE(RefuseModel("whisper/base", {nodes[1]}));
}

TEST(VerboseJson, SegmentsOnlyWhereEveryFieldIsReal) {
  Transcript t;
  t.language = "en";
  t.audio_duration = Millis(2'500);
  t.segments.resize(1);
  t.segments[0].end = Millis(2'000);
  t.segments[0].text = "hello";
  json j = json::parse(VerboseJson(t, false, true, false));
  EXPECT_FALSE(j.contains("segments"));
  EXPECT_EQ(j["usage"]["seconds"], 3);
  j = json::parse(VerboseJson(t, false, true, true));
  EXPECT_TRUE(j["segments"][0]["avg_logprob"].is_null());
  t.segments[0].avg_logprob = -0.2;
  t.segments[0].no_speech_prob = 0.01;
  j = json::parse(VerboseJson(t, false, true, false));
  EXPECT_EQ(j["segments"][0]["avg_logprob"], -0.2);
  EXPECT_EQ(j["segments"][0]["no_speech_prob"], 0.01);
  EXPECT_TRUE(j["segments"][0]["compression_ratio"].is_number());
  EXPECT_EQ(j["language"], "english");
}

}  // namespace
}  // namespace podfleet
