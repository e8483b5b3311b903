#include "engines/engine_parakeet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>

#include "audio/voice_clip.h"
#include "engines/chunks.h"
#include "engines/parakeet_model_file.h"
#include "support/engine_util.h"
#include "support/speech.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

// Random weights (parakeet_model_file.h): the text is nonsense, so these tests check loading,
// plumbing and times, never accuracy.
const std::string& TestModel() {
  static const std::string path = [] {
    const auto p = TestRunDir() / "ggml-parakeet-random-test.bin";
    auto written = WriteRandomParakeetModel(p, {TinyParakeetShape(), "f16", 1});
    if (!written) ADD_FAILURE() << written.error().ToString();
    return p.string();
  }();
  return path;
}

EngineConfig TestConfig(int states = 1) {
  EngineConfig c;
  c.name = "parakeet";
  c.model = TestModel();
  c.threads = 2;
  c.states = states;
  return c;
}

std::vector<Word> AllWords(const Transcript& t) {
  std::vector<Word> out;
  for (const Segment& s : t.segments)
    for (const Word& w : s.words) out.push_back(w);
  return out;
}

void ExpectOrderedInside(const Transcript& t, Millis end) {
  Millis last{0};
  for (const Segment& s : t.segments) {
    EXPECT_LE(last, s.start);
    EXPECT_LE(s.start, s.end);
    EXPECT_LE(s.end, end);
    for (const Word& w : s.words) {
      EXPECT_LE(s.start, w.start);
      EXPECT_LE(w.start, w.end);
      EXPECT_LE(w.end, s.end);
    }
    last = s.start;
  }
}

TEST(ParakeetEngine, TranscribesSpeechWithARandomWeightModel) {
  auto engine = Load(TestConfig());
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->info().name, "parakeet");
  EXPECT_EQ(engine->info().device, "CPU");
  EXPECT_EQ(engine->info().cuda_runtime, 0);  // a CPU build declares none
  const Transcript t = TranscribeAll(*engine, Speech());
  EXPECT_EQ(t.engine, "parakeet");
  EXPECT_EQ(t.audio_duration, Speech().duration());
  ASSERT_FALSE(t.segments.empty()) << "random weights emitted no token at all";
  ExpectOrderedInside(t, Speech().duration());
}

// TDT times are frames from the start of what parakeet.cpp was handed; the engine adds the chunk
// start. The same samples after 2.48 s more silence give every word exactly 2480 ms later.
TEST(ParakeetEngine, TimesAreExactAcrossChunkOffsets) {
  auto engine = Load(TestConfig());
  ASSERT_TRUE(engine);
  auto after_silence = [](int64_t samples) {
    const PcmAudio voice = VoiceLikeClip();
    PcmAudio out;
    out.samples.assign(samples, 0.0f);
    out.samples.insert(out.samples.end(), voice.samples.begin(), voice.samples.end());
    return out;
  };
  const PcmAudio clip = after_silence(kSampleRate);
  const PcmAudio shifted = after_silence(kSampleRate + kSampleRate * 248 / 100);
  const auto a = PlanChunks(clip, Millis(50'000));
  const auto b = PlanChunks(shifted, Millis(50'000));
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  const Millis offset = ToMillis(b[0].begin) - ToMillis(a[0].begin);
  ASSERT_EQ(offset, Millis(2480));
  const auto words_a = AllWords(TranscribeAll(*engine, clip));
  const auto words_b = AllWords(TranscribeAll(*engine, shifted));
  ASSERT_FALSE(words_a.empty());
  ASSERT_EQ(words_a.size(), words_b.size());
  for (size_t i = 0; i < words_a.size(); ++i) {
    EXPECT_EQ(words_a[i].text, words_b[i].text);
    EXPECT_EQ(words_a[i].start + offset, words_b[i].start) << i;
    EXPECT_EQ(words_a[i].end + offset, words_b[i].end) << i;
  }
}

TEST(ParakeetEngine, LongAudioIsCutAtPausesIntoChunksTheModelTakes) {
  auto speech = SpeechAudio(kSpeech60s);
  ASSERT_TRUE(speech) << speech.error().ToString();
  EngineConfig config = TestConfig(2);
  config.chunk = Millis(20'000);
  auto engine = Load(config);
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->info().states, 2);
  std::vector<double> progress;
  std::mutex mu;
  auto t = engine->Transcribe(*speech,
                              [&](double f) {
                                std::lock_guard lock(mu);
                                progress.push_back(f);
                              },
                              {});
  ASSERT_TRUE(t) << t.error().ToString();
  ExpectOrderedInside(*t, speech->duration());
  ASSERT_GE(PlanChunks(*speech, Millis(20'000)).size(), 3u);
  // Words from the later chunks are there, timed after the first chunk.
  const auto words = AllWords(*t);
  ASSERT_FALSE(words.empty());
  EXPECT_GT(words.back().start, Millis(20'000));
  ASSERT_FALSE(progress.empty());
  EXPECT_DOUBLE_EQ(*std::max_element(progress.begin(), progress.end()), 1.0);
}

TEST(ParakeetEngine, StopCancels) {
  auto engine = Load(TestConfig());
  ASSERT_TRUE(engine);
  std::stop_source stop;
  stop.request_stop();
  auto t = engine->Transcribe(Speech(), {}, stop.get_token());
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Code::kUnavailable);
}

TEST(ParakeetEngine, SilenceGivesNoSegments) {
  auto engine = Load(TestConfig());
  ASSERT_TRUE(engine);
  PcmAudio silence;
  silence.samples.assign(3 * kSampleRate, 0.0f);
  EXPECT_TRUE(TranscribeAll(*engine, silence).segments.empty());
  EXPECT_TRUE(TranscribeAll(*engine, PcmAudio{}).segments.empty());
}

// Auto on the CPU is one state with all threads (measured best there); the warm-up that a GPU
// runs is tested with fake states in state_pool_test.cc.
TEST(ParakeetEngine, AutoStatesOnTheCpuAreOne) {
  auto engine = Load(TestConfig(0));
  ASSERT_TRUE(engine);
  const EngineInfo info = engine->info();
  EXPECT_EQ(info.states, 1);
  EXPECT_NE(info.states_note.find("auto: on the CPU"), std::string::npos) << info.states_note;
}

TEST(ParakeetEngine, BadModelFilesFailClearly) {
  TempDir dir;
  const std::string bytes = ReadAll(TestModel());
  WriteAll(dir.File("cut.bin"), bytes.substr(0, bytes.size() / 2));
  EngineConfig config = TestConfig();
  config.model = dir.File("cut.bin");
  auto cut = MakeEngine(config);
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, Code::kCorruption);
  EXPECT_NE(cut.error().message.find("truncated"), std::string::npos) << cut.error().message;
  config.model = "parakeet-tdt-0.6b-v3-f16";
  config.models_dir = dir.path();
  auto missing = MakeEngine(config);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  EXPECT_NE(missing.error().message.find("models pull parakeet-tdt-0.6b-v3-f16"),
            std::string::npos);
}

// A CPU build asked to require a GPU finds none and says so, instead of running on the CPU: the
// production path of a CUDA build whose GPU is hidden (ggml_device.h).
TEST(ParakeetEngine, RequiredGpuMissingIsADeviceProblem) {
  EngineConfig config = TestConfig();
  config.require_gpu = true;
  auto engine = Load(config);
  ASSERT_TRUE(engine);
  const EngineInfo info = engine->info();
  EXPECT_FALSE(info.gpu);
  EXPECT_NE(info.device_problem.find("needs a GPU"), std::string::npos) << info.device_problem;
}

TEST(ParakeetTimes, FramesBecomeMillisecondsFromTheAudioStart) {
  // A chunk starting at sample 40008 (2500.5 ms): 37 frames of 10 ms later, rounded once.
  EXPECT_EQ(ParakeetTimeToMillis(37, Samples{40'008}, Samples{160'000}), Millis(2871));
  EXPECT_EQ(ParakeetTimeToMillis(0, Samples{16'000}, Samples{32'000}), Millis(1000));
  EXPECT_EQ(ParakeetTimeToMillis(500, Samples{16'000}, Samples{32'000}), Millis(2000));  // clamped
}

}  // namespace
}  // namespace podfleet
