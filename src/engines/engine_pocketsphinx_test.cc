#include "engines/engine_pocketsphinx.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <thread>

#include "engines/wer.h"
#include "support/speech.h"

namespace podfleet {
namespace {

// The result is deterministic with Debian 12's packages (espeak-ng 1.51, sox's repeatable dither,
// PocketSphinx without dither): 0.370 on kSpeech15s (20 errors in 54 words), 0.324 on kSpeech60s;
// the shared notes saw 0.27 on other Klatt text. 0.45 leaves four words of slack for package
// updates and still fails on the breakages that matter: PocketSphinx's own voice-activity mode
// (0.91), a non-Klatt voice (0.69 and up), undithered input (about 0.50), garbled samples (near 1).
constexpr double kMaxWer = 0.45;

PcmAudio Speech15s() {
  static const PcmAudio audio = [] {
    auto speech = SpeechAudio(kSpeech15s);
    if (!speech) ADD_FAILURE() << speech.error().ToString();
    return speech.value_or(PcmAudio{});
  }();
  return audio;
}

std::unique_ptr<Engine> LoadEngine(int threads) {
  EngineConfig config;
  config.threads = threads;
  auto engine = MakePocketSphinxEngine(config);
  if (!engine) {
    ADD_FAILURE() << engine.error().ToString();
    return nullptr;
  }
  return std::move(*engine);
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Engines and their transcripts of kSpeech15s, made once per process on first use.
Engine& EngineWith(int threads) {
  static std::unique_ptr<Engine> one = LoadEngine(1);
  static std::unique_ptr<Engine> two = LoadEngine(2);
  return threads == 1 ? *one : *two;
}

// The progress fractions reported while making TranscriptWith(threads).
std::map<int, std::vector<double>>& ProgressSeen() {
  static std::map<int, std::vector<double>> seen;
  return seen;
}

const Transcript& TranscriptWith(int threads) {
  static std::map<int, Transcript> done;
  auto it = done.find(threads);
  if (it != done.end()) return it->second;
  std::vector<double>& seen = ProgressSeen()[threads];
  auto t = EngineWith(threads).Transcribe(Speech15s(), [&](double f) { seen.push_back(f); }, {});
  if (!t) ADD_FAILURE() << t.error().ToString();
  return done[threads] = t.value_or(Transcript{});
}

// The first `length` of kSpeech15s.
PcmAudio Speech15sStart(Millis length) {
  PcmAudio audio = Speech15s();
  audio.samples.resize(static_cast<size_t>(ToSamples(length).count));
  return audio;
}

// "word@start-end" for every word, to compare transcripts in full.
std::vector<std::string> Words(const Transcript& t) {
  std::vector<std::string> words;
  for (const Segment& s : t.segments) {
    for (const Word& w : s.words) {
      words.push_back(fmt::format("{}@{}-{}", w.text, w.start.count(), w.end.count()));
    }
  }
  return words;
}

TEST(PocketSphinx, TranscribesKlattSpeechWithLowWordErrorRate) {
  const Transcript& t = TranscriptWith(2);
  const WerResult wer = WordErrorRate(kSpeech15s, t.Text());
  std::cout << "[ wer      ] " << wer.wer << " (S " << wer.substitutions << ", D " << wer.deletions
            << ", I " << wer.insertions << ", N " << wer.ref_words << ")\n"
            << "[ text     ] " << t.Text() << "\n";
  EXPECT_LT(wer.wer, kMaxWer);
}

TEST(PocketSphinx, NamesEngineModelAndDuration) {
  const Transcript& t = TranscriptWith(2);
  EXPECT_EQ(t.engine, "pocketsphinx");
  EXPECT_EQ(t.model, "en-us");
  EXPECT_EQ(t.language, "en");
  EXPECT_EQ(t.audio_duration, Speech15s().duration());
  EXPECT_GT(t.engine_time.count(), 0);
  const EngineInfo info = EngineWith(2).info();
  EXPECT_EQ(info.name, "pocketsphinx");
  EXPECT_EQ(info.model, "en-us");
  EXPECT_TRUE(info.gives_words);
}

TEST(PocketSphinx, WordTimesAreOrderedAndInsideTheAudio) {
  const Transcript& t = TranscriptWith(2);
  ASSERT_GE(t.segments.size(), 2u);
  Millis last{0};
  for (const Segment& s : t.segments) {
    ASSERT_FALSE(s.words.empty());
    EXPECT_EQ(s.start, s.words.front().start);
    EXPECT_EQ(s.end, s.words.back().end);
    for (const Word& w : s.words) {
      EXPECT_GE(w.start, last) << w.text;
      EXPECT_LT(w.start, w.end) << w.text;
      EXPECT_GE(w.confidence, 0.0f);
      EXPECT_LE(w.confidence, 1.0f);
      EXPECT_EQ(w.text.find_first_of("()<>[]"), std::string::npos) << w.text;
      last = w.end;
    }
  }
  EXPECT_LE(last, Speech15s().duration());
}

TEST(PocketSphinx, TwoDecodersGiveTheSameWordsAsOne) {
  EXPECT_EQ(Words(TranscriptWith(1)), Words(TranscriptWith(2)));
}

// Also: decoders reused from earlier calls give the same words and times as fresh ones.
TEST(PocketSphinx, ConcurrentCallsShareTheDecoders) {
  Result<Transcript> a, b;
  {
    std::jthread first([&] { a = EngineWith(2).Transcribe(Speech15s(), {}, {}); });
    std::jthread second([&] { b = EngineWith(2).Transcribe(Speech15s(), {}, {}); });
  }
  ASSERT_TRUE(a && b);
  EXPECT_EQ(Words(*a), Words(TranscriptWith(2)));
  EXPECT_EQ(Words(*b), Words(TranscriptWith(2)));
}

TEST(PocketSphinx, ReportsProgressByPiecesUpToOne) {
  TranscriptWith(1);
  const std::vector<double>& seen = ProgressSeen()[1];
  ASSERT_GE(seen.size(), 2u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_DOUBLE_EQ(seen.back(), 1.0);
}

TEST(PocketSphinx, StopRequestedBeforehandCancels) {
  std::stop_source stop;
  stop.request_stop();
  auto t = EngineWith(2).Transcribe(Speech15s(), {}, stop.get_token());
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Code::kUnavailable);
  EXPECT_EQ(t.error().message, "cancelled");
}

TEST(PocketSphinx, StopDuringTranscriptionCancelsAfterThePiece) {
  std::stop_source stop;
  int calls = 0;
  auto t = EngineWith(1).Transcribe(
      Speech15s(),
      [&](double) {
        ++calls;
        stop.request_stop();
      },
      stop.get_token());
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Code::kUnavailable);
  EXPECT_EQ(calls, 1);
}

TEST(PocketSphinx, SilenceGivesNoSegments) {
  PcmAudio silence;
  silence.samples.assign(3 * kSampleRate, 0.0f);
  auto t = EngineWith(1).Transcribe(silence, {}, {});
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->segments.empty());
  EXPECT_EQ(t->audio_duration, Millis(3000));
}

TEST(PocketSphinx, WithoutWordTimestampsSegmentsHaveNoWords) {
  EngineConfig config;
  config.threads = 1;
  config.word_timestamps = false;
  auto engine = MakePocketSphinxEngine(config);
  ASSERT_TRUE(engine);
  auto t = (*engine)->Transcribe(Speech15sStart(Millis(6'000)), {}, {});
  ASSERT_TRUE(t);
  ASSERT_FALSE(t->segments.empty());
  for (const Segment& s : t->segments) {
    EXPECT_FALSE(s.text.empty());
    EXPECT_TRUE(s.words.empty());
  }
}

TEST(PocketSphinx, MissingModelIsNotFound) {
  EngineConfig config;
  config.model = (TestRunDir() / "no-model" / "en-us").string();
  auto engine = MakePocketSphinxEngine(config);
  ASSERT_FALSE(engine);
  EXPECT_EQ(engine.error().code, Code::kNotFound);
}

TEST(PocketSphinx, LanguageOtherThanTheModelsIsInvalidArgument) {
  EngineConfig config;
  config.language = "de";
  auto engine = MakePocketSphinxEngine(config);
  ASSERT_FALSE(engine);
  EXPECT_EQ(engine.error().code, Code::kInvalidArgument);
}

struct Timing {
  std::vector<double> wall;
  std::vector<double> cpu;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Not run by default (a few minutes of CPU): the speed and accuracy figures in doc/engines.md.
// Runs with 1 and 2 threads alternate, so that other load on the machine hits both alike; the best
// of 5 is the figure least disturbed by that load.
//   podfleet_tests --gtest_also_run_disabled_tests --gtest_filter='*MeasureRealtimeFactor*'
TEST(PocketSphinx, DISABLED_MeasureRealtimeFactorAndWer) {
  auto audio = SpeechAudio(kSpeech60s);
  ASSERT_TRUE(audio) << audio.error().ToString();
  const double seconds = static_cast<double>(audio->duration().count()) / 1000;
  std::map<int, std::unique_ptr<Engine>> engines;
  std::map<int, Timing> timings;
  Transcript last;
  for (int threads : {1, 2}) {
    engines[threads] = LoadEngine(threads);
    ASSERT_TRUE(engines[threads]);
    ASSERT_TRUE(engines[threads]->Transcribe(*audio, {}, {}));  // loads the other decoders
  }
  for (int run = 0; run < 5; ++run) {
    for (int threads : {1, 2}) {
      const double cpu_before = CpuSeconds();
      const auto started = std::chrono::steady_clock::now();
      auto t = engines[threads]->Transcribe(*audio, {}, {});
      ASSERT_TRUE(t);
      const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - started;
      timings[threads].wall.push_back(wall.count());
      timings[threads].cpu.push_back(CpuSeconds() - cpu_before);
      last = std::move(*t);
    }
  }
  double load[1] = {0};
  getloadavg(load, 1);
  for (auto& [threads, timing] : timings) {
    const double best = *std::min_element(timing.wall.begin(), timing.wall.end());
    const double wall = Median(timing.wall);
    const double cpu = Median(timing.cpu);
    std::cout << fmt::format(
        "[ measure  ] threads {}: {:.1f} s of audio; wall best {:.2f} s = {:.2f}x realtime, median "
        "{:.2f} s = {:.2f}x; median CPU {:.2f} s = {:.3f} CPU-s per audio-s (walls {:.2f})\n",
        threads, seconds, best, seconds / best, wall, seconds / wall, cpu, cpu / seconds,
        fmt::join(timing.wall, " "));
  }
  const WerResult wer = WordErrorRate(kSpeech60s, last.Text());
  std::cout << fmt::format("[ measure  ] WER {:.3f} (S {} D {} I {} N {}); load average {:.2f}\n",
                           wer.wer, wer.substitutions, wer.deletions, wer.insertions, wer.ref_words,
                           load[0]);
}

}  // namespace
}  // namespace podfleet
