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

std::string Message(const HttpResponse& r) {
  return json::parse(r.body)["error"]["message"].get<std::string>();
}

TEST(RouteTranscription, ALanguageGoesWhereSomeWorkerTranscribesIt) {
  const std::vector<NodeInfo> english = {NodeInfo{.engine = "pocketsphinx", .model = "en-us"}};
  EXPECT_EQ(RouteTranscription("", "", english), JobRequirement{});
  EXPECT_EQ(RouteTranscription("whisper-1", "english", english)->language, "en");
  auto fr = RouteTranscription("", "fr", english);
  ASSERT_FALSE(fr);
  EXPECT_EQ(fr.error().status, 400);
  EXPECT_EQ(json::parse(fr.error().body)["error"]["param"], "language");
  EXPECT_EQ(json::parse(fr.error().body)["error"]["code"], "unsupported_language");
  EXPECT_NE(Message(fr.error()).find("pocketsphinx/en-us transcribes en"), std::string::npos);
  const std::vector<NodeInfo> mixed = {english[0], NodeInfo{.engine = "whisper", .model = "base"}};
  EXPECT_EQ(RouteTranscription("", "fr", mixed), (JobRequirement{.language = "fr"}));
  EXPECT_EQ(RouteTranscription("", "French", mixed)->language, "fr");
  auto bad = RouteTranscription("", "f1", mixed);
  ASSERT_FALSE(bad);
  EXPECT_EQ(json::parse(bad.error().body)["error"]["code"], "invalid_language");
}

TEST(RouteTranscription, AModelGoesWhereSomeWorkerRunsIt) {
  const std::vector<NodeInfo> nodes = {NodeInfo{.engine = "pocketsphinx", .model = "en-us"},
                                       NodeInfo{.engine = "whisper", .model = "base.en"}};
  EXPECT_EQ(RouteTranscription("podfleet", "", nodes), JobRequirement{});
  EXPECT_EQ(RouteTranscription("whisper/base.en", "", nodes),
            (JobRequirement{.engine = "whisper", .model = "base.en"}));
  for (std::string_view missing : {"whisper/large", "whisper", "/base.en"}) {
    auto r = RouteTranscription(missing, "", nodes);
    ASSERT_FALSE(r) << missing;
    EXPECT_EQ(r.error().status, 404);
    EXPECT_EQ(json::parse(r.error().body)["error"]["code"], "model_not_found");
  }
  // The model runs, but not in that language: the language is what cannot be honoured.
  auto fr = RouteTranscription("whisper/base.en", "fr", nodes);
  ASSERT_FALSE(fr);
  EXPECT_EQ(json::parse(fr.error().body)["error"]["param"], "language");
  EXPECT_NE(Message(fr.error()).find("running whisper/base.en"), std::string::npos);
  EXPECT_TRUE(RouteTranscription("whisper/base.en", "en", nodes));
  EXPECT_FALSE(RouteTranscription("podfleet", "en", {}));  // no workers: nothing can serve it
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
