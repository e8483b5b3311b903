#include "audio/opus.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <iostream>

#include "audio/audio.h"
#include "engines/engine_pocketsphinx.h"
#include "engines/wer.h"
#include "support/speech.h"

namespace podfleet {
namespace {

PcmAudio Decode(const std::filesystem::path& path) {
  auto audio = DecodeAudioFile(path);
  if (!audio) ADD_FAILURE() << audio.error().ToString();
  return audio.value_or(PcmAudio{});
}

PcmAudio Speech60s() {
  static const PcmAudio audio = [] {
    auto wav = SpeechWav(kSpeech60s);
    if (!wav) {
      ADD_FAILURE() << wav.error().ToString();
      return PcmAudio{};
    }
    return Decode(*wav);
  }();
  return audio;
}

std::filesystem::path Encoded(const PcmAudio& audio, int bitrate) {
  const auto path = TestRunDir() / fmt::format("speech60-{}.opus", bitrate);
  if (auto r = WriteOpus(path, audio.samples, {bitrate}); !r) ADD_FAILURE() << r.error().ToString();
  return path;
}

TEST(WriteOpus, RoundTripKeepsTheLengthAndTheRate) {
  const PcmAudio speech = Speech60s();
  ASSERT_FALSE(speech.samples.empty());
  const auto path = Encoded(speech, 24'000);
  const PcmAudio back = Decode(path);
  EXPECT_NEAR(static_cast<double>(back.duration().count()),
              static_cast<double>(speech.duration().count()), 40.0);
  // 24 kbps is 3000 bytes a second plus Ogg pages; VBR speech stays near or under it.
  const double bytes_per_second = static_cast<double>(std::filesystem::file_size(path)) /
                                  (static_cast<double>(speech.duration().count()) / 1000.0);
  EXPECT_GT(bytes_per_second, 1'500);
  EXPECT_LT(bytes_per_second, 3'300);  // 11.9 MB per audio-hour at most
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".part"));
}

TEST(WriteOpus, RefusesAnAbsurdBitrate) {
  auto r = WriteOpus(TestRunDir() / "bad.opus", std::vector<float>(16'000, 0.0f), {1'000});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
}

TEST(WriteOpus, RefusesSettingsLibopusDoesNotKnow) {
  const std::vector<float> second(16'000, 0.0f);
  for (const OpusOptions& o :
       {OpusOptions{24'000, 11, 60, "voip"}, OpusOptions{24'000, 0, 30, "voip"},
        OpusOptions{24'000, 0, 60, "music"}}) {
    auto r = WriteOpus(TestRunDir() / "bad.opus", second, o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  }
}

// Every frame length and application the relay may be set to round-trips whole.
TEST(WriteOpus, EveryFrameAndApplicationRoundTrips) {
  const PcmAudio speech = Speech60s();
  ASSERT_FALSE(speech.samples.empty());
  for (int frame : {20, 60}) {
    for (const char* application : {"voip", "audio"}) {
      const auto path = TestRunDir() / fmt::format("speech-{}-{}.opus", frame, application);
      ASSERT_TRUE(WriteOpus(path, speech.samples, {24'000, 0, frame, application}));
      EXPECT_NEAR(static_cast<double>(Decode(path).duration().count()),
                  static_cast<double>(speech.duration().count()), 40.0);
    }
  }
}

TEST(WriteOpus, UnwritablePlaceIsUnavailable) {
  auto r = WriteOpus("/nonexistent-dir/x.opus", std::vector<float>(16'000, 0.0f));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
}

// The relay's bitrate is chosen here: PocketSphinx's WER on the test speech after Opus at
// 24 kbps stays within noise (two words in a hundred) of the WER on the original samples.
TEST(WriteOpus, SpeechAt24kbpsKeepsPocketSphinxWer) {
  const PcmAudio speech = Speech60s();
  ASSERT_FALSE(speech.samples.empty());
  auto engine = MakePocketSphinxEngine(EngineConfig{});
  ASSERT_TRUE(engine) << engine.error().ToString();
  auto wer = [&](const PcmAudio& audio) {
    auto t = (*engine)->Transcribe(audio, {}, {});
    EXPECT_TRUE(t) << t.error().ToString();
    return t ? WordErrorRate(kSpeech60s, t->Text()).wer : 1.0;
  };
  const double original = wer(speech);
  const double opus24 = wer(Decode(Encoded(speech, 24'000)));
  std::cout << fmt::format("PocketSphinx WER on kSpeech60s: original {:.3f}, Opus 24 kbps {:.3f}\n",
                           original, opus24);
  EXPECT_LE(opus24, original + 0.02);
}

}  // namespace
}  // namespace podfleet
