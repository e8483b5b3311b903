#include "engines/transcription_json.h"

#include <gtest/gtest.h>

#include <random>

namespace podfleet {
namespace {

// A chunk that starts 10 s into the audio.
const Piece kChunk{ToSamples(Millis(10'000)), ToSamples(Millis(40'000))};

TEST(TranscriptionJson, OpenAiVerboseJsonWithTopLevelWords) {
  auto t = ParseTranscriptionJson(R"({"task":"transcribe","language":"english","duration":4.1,
    "text":"Welcome back. To the show.",
    "segments":[{"id":0,"seek":0,"start":0.0,"end":2.4,"text":" Welcome back.","tokens":[1],
                 "temperature":0.0,"avg_logprob":-0.2,"compression_ratio":0.9,"no_speech_prob":0.0},
                {"id":1,"start":2.4,"end":4.1,"text":" To the show."}],
    "words":[{"word":"Welcome","start":0.0,"end":0.42},{"word":"back","start":0.5,"end":0.9},
             {"word":"To","start":2.5,"end":2.6},{"word":"the","start":2.6,"end":2.8},
             {"word":"show","start":2.8,"end":3.3333}]})",
                                  kChunk);
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(t->language, "en");
  ASSERT_EQ(t->segments.size(), 2u);
  EXPECT_EQ(t->segments[0].start, Millis(10'000));
  EXPECT_EQ(t->segments[0].end, Millis(12'400));
  EXPECT_EQ(t->segments[0].text, "Welcome back.");
  ASSERT_EQ(t->segments[0].words.size(), 2u);
  ASSERT_EQ(t->segments[1].words.size(), 3u);
  EXPECT_EQ(t->segments[1].words[2].text, "show");
  EXPECT_EQ(t->segments[1].words[2].end, Millis(13'333));
  // The server's confidence is kept where it sent numbers, and stays unknown where it did not.
  EXPECT_EQ(t->segments[0].avg_logprob, -0.2);
  EXPECT_EQ(t->segments[0].no_speech_prob, 0.0);
  EXPECT_FALSE(t->segments[1].avg_logprob);
  EXPECT_FALSE(t->segments[1].no_speech_prob);
}

TEST(TranscriptionJson, WhisperCppNestedTokensBecomeWords) {
  auto t = ParseTranscriptionJson(R"({"task":"transcribe","language":"english","duration":3.0,
    "text":" Podcasting rocks","detected_language":"english",
    "segments":[{"id":0,"text":" Podcasting rocks","start":0.0,"end":3.0,"tokens":[1,2,3],
      "words":[{"word":"[_BEG_]","start":0.0,"end":0.0},
               {"word":" Pod","start":0.0,"end":0.4,"t_dtw":-1,"probability":0.9},
               {"word":"cast","start":0.4,"end":0.7,"probability":0.8},
               {"word":"ing","start":0.7,"end":1.0,"probability":0.95},
               {"word":" rocks","start":1.2,"end":1.9,"probability":0.99}],
      "temperature":0.0,"avg_logprob":-0.1,"no_speech_prob":0.01}]})",
                                  kChunk);
  ASSERT_TRUE(t) << t.error().ToString();
  ASSERT_EQ(t->segments.size(), 1u);
  const auto& words = t->segments[0].words;
  ASSERT_EQ(words.size(), 2u);
  EXPECT_EQ(words[0].text, "Podcasting");
  EXPECT_EQ(words[0].start, Millis(10'000));
  EXPECT_EQ(words[0].end, Millis(11'000));
  EXPECT_FLOAT_EQ(words[0].confidence, 0.8f);
  EXPECT_EQ(words[1].text, "rocks");
}

TEST(TranscriptionJson, VllmStringDurationAndNullsAreAccepted) {
  auto t = ParseTranscriptionJson(R"({"language":"en","duration":"12.5","text":"hi there",
    "segments":[{"id":0,"start":"0.5","end":1.5,"text":"hi there","no_speech_prob":null}]})",
                                  kChunk);
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(t->language, "en");
  ASSERT_EQ(t->segments.size(), 1u);
  EXPECT_EQ(t->segments[0].start, Millis(10'500));
  EXPECT_TRUE(t->segments[0].words.empty());
}

TEST(TranscriptionJson, TextOnlySpansTheChunk) {
  auto t = ParseTranscriptionJson(R"({"text":" Hello world. "})", kChunk);
  ASSERT_TRUE(t);
  ASSERT_EQ(t->segments.size(), 1u);
  EXPECT_EQ(t->segments[0].text, "Hello world.");
  EXPECT_EQ(t->segments[0].start, Millis(10'000));
  EXPECT_EQ(t->segments[0].end, Millis(40'000));
  EXPECT_TRUE(ParseTranscriptionJson(R"({"text":""})", kChunk)->segments.empty());
}

TEST(TranscriptionJson, HostileBodiesAreCorruptionNotCrashes) {
  for (std::string_view body :
       {"", "null", "[]", "\"text\"", "{", "{\"segments\":5}", "{\"text\":5}",
        R"({"segments":[1,"x",null,{"start":"nan","end":{},"text":7,"words":"no"}]})",
        R"({"segments":[],"words":[{"word":"x","start":1,"end":2}]})"}) {
    auto t = ParseTranscriptionJson(body, kChunk);
    if (t) {
      for (const Segment& s : t->segments) EXPECT_LE(s.start, s.end) << body;
    } else {
      EXPECT_EQ(t.error().code, Code::kCorruption) << body;
    }
  }
  std::mt19937 rng(7);
  const std::string base =
      R"({"language":"english","segments":[{"start":0,"end":1,"text":"a","words":[{"word":" a","start":0,"end":1}]}],"words":[{"word":"b","start":0.1,"end":0.2}]})";
  for (int i = 0; i < 2000; ++i) {
    std::string body = base;
    for (int k = 0; k < 3; ++k) body[rng() % body.size()] = static_cast<char>(rng() % 256);
    (void)ParseTranscriptionJson(body, kChunk);
  }
}

TEST(TranscriptionJson, ErrorMessagesByShape) {
  EXPECT_EQ(
      ServerErrorMessage(R"({"error":{"message":"bad file","type":"invalid_request_error"}})"),
      "bad file");
  EXPECT_EQ(ServerErrorMessage(R"({"error":"failed to read audio"})"), "failed to read audio");
  EXPECT_EQ(ServerErrorMessage(R"({"detail":"Model not installed"})"), "Model not installed");
  EXPECT_EQ(ServerErrorMessage(R"({"detail":[{"msg":"field required"},{"msg":"bad type"}]})"),
            "field required; bad type");
  EXPECT_EQ(ServerErrorMessage("<html>Bad Gateway</html>"), "<html>Bad Gateway</html>");
  EXPECT_EQ(ServerErrorMessage(""), "(empty body)");
  EXPECT_EQ(ServerErrorMessage(std::string(2000, 'x')).size(), 500u);
}

}  // namespace
}  // namespace podfleet
