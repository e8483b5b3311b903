#include "engines/engine_whisper.h"

#include <gtest/gtest.h>

#include <cmath>
#include <mutex>

#include "engines/whisper_model_file.h"
#include "support/engine_util.h"
#include "support/speech.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

// Random weights (whisper_model_file.h): the text is nonsense, so these tests check loading,
// plumbing and times, never accuracy. Accuracy is checked only where real weights exist.
const std::string& TestModel() {
  static const std::string path = [] {
    const auto p = TestRunDir() / "ggml-random-test.bin";
    RandomModelOptions options;
    options.hparams = TinyTestShape();
    auto written = WriteRandomWhisperModel(p, options);
    if (!written) ADD_FAILURE() << written.error().ToString();
    return p.string();
  }();
  return path;
}

EngineConfig TestConfig() {
  EngineConfig c;
  c.name = "whisper";
  c.model = TestModel();
  c.threads = 2;
  c.fallback = false;
  return c;
}

PcmAudio Slice(const PcmAudio& audio, const Piece& p) {
  PcmAudio out;
  out.samples.assign(audio.samples.begin() + p.begin.count, audio.samples.begin() + p.end.count);
  return out;
}

void ExpectTimesInside(const Transcript& t, Millis begin, Millis end) {
  Millis last{0};
  for (const Segment& s : t.segments) {
    EXPECT_LE(begin, s.start);
    EXPECT_LE(s.start, s.end);
    EXPECT_LE(s.end, end);
    EXPECT_LE(last, s.start) << "segments out of order";
    last = s.start;
    for (const Word& w : s.words) {
      EXPECT_LE(begin, w.start);
      EXPECT_LE(w.start, w.end);
      EXPECT_LE(w.end, end);
    }
  }
}

TEST(WhisperEngine, TranscribesSpeechWithARandomWeightModel) {
  auto engine = Load(TestConfig());
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->info().name, "whisper");
  EXPECT_EQ(engine->info().model, "random-test");
  const Transcript t = TranscribeAll(*engine, Speech());
  EXPECT_EQ(t.engine, "whisper");
  EXPECT_EQ(t.language, "en");
  EXPECT_EQ(t.audio_duration, Speech().duration());
  EXPECT_FALSE(t.segments.empty());
  ExpectTimesInside(t, Millis(0), Speech().duration());
  // The decoder's own confidence: a log probability (at most 0) and a probability, per segment.
  for (const Segment& s : t.segments) {
    ASSERT_TRUE(s.avg_logprob && s.no_speech_prob) << s.text;
    EXPECT_LE(*s.avg_logprob, 0.0);
    EXPECT_GT(*s.avg_logprob, -100.0);
    EXPECT_GE(*s.no_speech_prob, 0.0);
    EXPECT_LE(*s.no_speech_prob, 1.0);
  }
}

TEST(WhisperEngine, EachCallTranscribesTheLanguageItIsTold) {
  // The test model's vocabulary is English-only; one token more makes it multilingual.
  const auto multilingual_path = TestRunDir() / "ggml-random-multilingual.bin";
  RandomModelOptions options;
  options.hparams = TinyTestShape();
  options.hparams.n_vocab = 51865;
  ASSERT_TRUE(WriteRandomWhisperModel(multilingual_path, options));
  EngineConfig config = TestConfig();
  config.word_timestamps = false;
  const PcmAudio clip = Slice(Speech(), Piece{Samples{0}, ToSamples(Millis(2'000))});
  auto english = Load(config);
  ASSERT_TRUE(english);
  auto refused = english->Transcribe(clip, {}, {}, TranscribeOptions{"de"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kInvalidArgument) << refused.error().ToString();
  config.model = multilingual_path.string();
  auto multilingual = Load(config);
  ASSERT_TRUE(multilingual);
  auto german = multilingual->Transcribe(clip, {}, {}, TranscribeOptions{"de"});
  ASSERT_TRUE(german) << german.error().ToString();
  EXPECT_EQ(german->language, "de");
  auto unknown = multilingual->Transcribe(clip, {}, {}, TranscribeOptions{"zz"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Code::kInvalidArgument);
}

TEST(WhisperEngine, ChunkTimesAreOffsetByTheChunkStart) {
  EngineConfig config = TestConfig();
  config.chunk = Millis(6'000);
  auto chunked = Load(config);
  config.chunk = Millis(0);
  auto whole = Load(config);
  ASSERT_TRUE(chunked && whole);
  const auto chunks = PlanWhisperChunks(Speech(), Millis(6'000));
  ASSERT_GE(chunks.size(), 3u);
  const Transcript all = TranscribeAll(*chunked, Speech());
  // The same chunks transcribed one by one, their times shifted by hand, must give the same
  // segments: the engine's offsets are exact, whatever whisper.cpp says inside each chunk.
  std::vector<Segment> expected;
  for (const Piece& p : chunks) {
    const Millis offset = ToMillis(p.begin);
    ASSERT_EQ(offset.count() * 16, p.begin.count) << "chunk starts on a whole millisecond";
    const Transcript part = TranscribeAll(*whole, Slice(Speech(), p));
    ExpectTimesInside(part, Millis(0), ToMillis(p.end) - offset);
    for (Segment s : part.segments) {
      s.start += offset;
      s.end += offset;
      for (Word& w : s.words) {
        w.start += offset;
        w.end += offset;
      }
      expected.push_back(s);
    }
  }
  ASSERT_EQ(all.segments.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(all.segments[i].start, expected[i].start) << i;
    EXPECT_EQ(all.segments[i].end, expected[i].end) << i;
    EXPECT_EQ(all.segments[i].text, expected[i].text) << i;
    ASSERT_EQ(all.segments[i].words.size(), expected[i].words.size()) << i;
    for (size_t w = 0; w < expected[i].words.size(); ++w)
      EXPECT_EQ(all.segments[i].words[w].start, expected[i].words[w].start);
  }
  EXPECT_GT(all.segments.back().start, Millis(6'000)) << "later chunks produced segments";
}

TEST(WhisperEngine, SeveralStatesGiveTheSameSegments) {
  EngineConfig config = TestConfig();
  config.chunk = Millis(6'000);
  auto one = Load(config);
  config.states = 2;
  auto two = Load(config);
  ASSERT_TRUE(one && two);
  const Transcript a = TranscribeAll(*one, Speech());
  const Transcript b = TranscribeAll(*two, Speech());
  ASSERT_EQ(a.segments.size(), b.segments.size());
  for (size_t i = 0; i < a.segments.size(); ++i) {
    EXPECT_EQ(a.segments[i].start, b.segments[i].start);
    EXPECT_EQ(a.segments[i].text, b.segments[i].text);
  }
}

TEST(WhisperEngine, ProgressRisesToOneAndStopCancels) {
  auto engine = Load(TestConfig());
  ASSERT_TRUE(engine);
  std::mutex mu;
  std::vector<double> seen;
  auto t = engine->Transcribe(Speech(),
                              [&](double f) {
                                std::lock_guard lock(mu);
                                seen.push_back(f);
                              },
                              {});
  ASSERT_TRUE(t);
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_DOUBLE_EQ(seen.back(), 1.0);

  std::stop_source stop;
  auto cancelled = engine->Transcribe(
      Speech(), [&](double) { stop.request_stop(); }, stop.get_token());
  ASSERT_FALSE(cancelled);
  EXPECT_EQ(cancelled.error().code, Code::kUnavailable);
  EXPECT_EQ(cancelled.error().message, "cancelled");
}

TEST(WhisperEngine, BadModelFilesFailClearly) {
  TempDir dir;
  const auto size = std::filesystem::file_size(TestModel());
  std::filesystem::copy_file(TestModel(), dir.File("cut.bin"));
  std::filesystem::resize_file(dir.File("cut.bin"), size / 3);
  EngineConfig config = TestConfig();
  config.model = dir.File("cut.bin");
  auto cut = MakeEngine(config);
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, Code::kCorruption);
  EXPECT_NE(cut.error().message.find("truncated"), std::string::npos) << cut.error().message;

  config.model = WriteTestFile("not-a-model.bin", "<html>rate limited</html>").string();
  auto html = MakeEngine(config);
  ASSERT_FALSE(html);
  EXPECT_EQ(html.error().code, Code::kInvalidArgument);
}

TEST(WhisperEngine, EnglishOnlyModelRefusesOtherLanguages) {
  EngineConfig config = TestConfig();
  config.language = "de";
  auto de = MakeEngine(config);
  ASSERT_FALSE(de);
  EXPECT_EQ(de.error().code, Code::kInvalidArgument);
  config.language = "klingon";
  EXPECT_FALSE(MakeEngine(config));
}

TEST(WhisperEngine, BeamSearchPromptAndNoWordsWork) {
  EngineConfig config = TestConfig();
  config.beam_size = 2;
  config.prompt = "Glossary: podfleet, whisper.";
  config.word_timestamps = false;
  auto engine = Load(config);
  ASSERT_TRUE(engine);
  const Transcript t = TranscribeAll(*engine, Speech());
  ExpectTimesInside(t, Millis(0), Speech().duration());
  for (const Segment& s : t.segments) EXPECT_TRUE(s.words.empty());
}

TEST(WhisperEngine, EmptyAndTooShortAudioGiveNoSegments) {
  auto engine = Load(TestConfig());
  ASSERT_TRUE(engine);
  EXPECT_TRUE(TranscribeAll(*engine, PcmAudio{}).segments.empty());
  PcmAudio short_audio;
  short_audio.samples.assign(800, 0.1f);  // 50 ms: below whisper.cpp's 100 ms minimum
  EXPECT_TRUE(TranscribeAll(*engine, short_audio).segments.empty());
}

PcmAudio NoiseWithGap(Millis length, Millis gap_begin, Millis gap_end) {
  PcmAudio a;
  a.samples.resize(static_cast<size_t>(ToSamples(length).count));
  uint32_t x = 1;
  for (size_t i = 0; i < a.samples.size(); ++i) {
    x = x * 1664525 + 1013904223;
    const Millis at = ToMillis(Samples{static_cast<int64_t>(i)});
    const bool quiet = at >= gap_begin && at < gap_end;
    a.samples[i] = quiet ? 0.0f : static_cast<float>(x >> 8) / static_cast<float>(1 << 24) - 0.5f;
  }
  return a;
}

TEST(WhisperChunks, CutInTheQuietOnWholeMilliseconds) {
  const PcmAudio a = NoiseWithGap(Millis(95'000), Millis(27'300), Millis(27'500));
  const auto chunks = PlanWhisperChunks(a, Millis(30'000));
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks.front().begin.count, 0);
  EXPECT_EQ(chunks.back().end, a.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].begin.count % 16, 0);
    EXPECT_LE(chunks[i].end.count - chunks[i].begin.count, ToSamples(Millis(30'000)).count);
    if (i > 0) {
      EXPECT_EQ(chunks[i].begin, chunks[i - 1].end);
    }
  }
  EXPECT_GE(ToMillis(chunks[0].end), Millis(27'300));
  EXPECT_LT(ToMillis(chunks[0].end), Millis(27'500));
  EXPECT_EQ(PlanWhisperChunks(a, Millis(0)).size(), 1u);
  EXPECT_EQ(PlanWhisperChunks(PcmAudio{}, Millis(30'000)).size(), 1u);
}

TEST(WhisperChunks, CentisecondsBecomeMillisecondsFromTheAudioStart) {
  const Samples begin{16 * 7'005};
  const Samples end{16 * 37'005};
  EXPECT_EQ(WhisperTimeToMillis(0, begin, end), Millis(7'005));
  EXPECT_EQ(WhisperTimeToMillis(123, begin, end), Millis(8'235));
  EXPECT_EQ(WhisperTimeToMillis(3'000, begin, end), Millis(37'005));
  EXPECT_EQ(WhisperTimeToMillis(3'001, begin, end), Millis(37'005)) << "clamped to the chunk";
  EXPECT_EQ(WhisperTimeToMillis(-5, begin, end), Millis(7'005));
}

}  // namespace
}  // namespace podfleet
