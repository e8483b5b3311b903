// podfleet_bench_opus_settings: the relay's Opus encoder settings, speed against word error rate.
//
// For each complexity, frame length and application, encodes 3 minutes of the project's test
// speech (espeak-ng, tests/support/speech.h) through WriteOpus, as the relay does, timing the
// encoding thread's CPU, and transcribes the 60 s and 15 s test speech after a round trip through
// those settings with PocketSphinx, against the same speech never encoded. The ratios that matter
// are in the same run: speed against the old default (complexity 5, 20 ms), WER against the
// original. Results go to stdout as a Markdown table (doc/relay.md quotes it).
#include <fmt/format.h>
#include <time.h>

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audio/audio.h"
#include "audio/opus.h"
#include "engines/engine_pocketsphinx.h"
#include "engines/wer.h"
#include "support/speech.h"

namespace podfleet {
namespace {

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Speech {
  std::string_view text;
  PcmAudio audio;
};

// Word errors over both test texts, pooled.
Result<double> Wer(Engine& engine, const std::vector<Speech>& speech,
                   const std::optional<OpusOptions>& opus) {
  int errors = 0;
  int words = 0;
  for (const Speech& s : speech) {
    PcmAudio audio = s.audio;
    if (opus) {
      const auto path = TestRunDir() / "round-trip.opus";
      if (auto r = WriteOpus(path, audio.samples, *opus); !r) return std::unexpected(r.error());
      auto back = DecodeAudioFile(path);
      if (!back) return std::unexpected(back.error());
      audio = std::move(*back);
    }
    auto t = engine.Transcribe(audio, {}, {});
    if (!t) return std::unexpected(t.error());
    const WerResult w = WordErrorRate(s.text, t->Text());
    errors += w.substitutions + w.deletions + w.insertions;
    words += w.ref_words;
  }
  return static_cast<double>(errors) / words;
}

int Run() {
  std::vector<Speech> speech;
  for (std::string_view text : {kSpeech60s, kSpeech15s}) {
    auto audio = SpeechAudio(text);
    if (!audio) return fmt::print(stderr, "{}\n", audio.error().ToString()), 1;
    speech.push_back({text, std::move(*audio)});
  }
  std::vector<float> clip;  // 3 minutes of the speech, over and over
  while (clip.size() < size_t{180} * kSampleRate)
    clip.insert(clip.end(), speech[0].audio.samples.begin(), speech[0].audio.samples.end());
  const double seconds = static_cast<double>(clip.size()) / kSampleRate;
  auto engine = MakePocketSphinxEngine(EngineConfig{});
  if (!engine) return fmt::print(stderr, "{}\n", engine.error().ToString()), 1;
  auto original = Wer(**engine, speech, std::nullopt);
  if (!original) return fmt::print(stderr, "{}\n", original.error().ToString()), 1;
  fmt::print("PocketSphinx WER, test speech never encoded: {:.3f}\n\n", *original);
  fmt::print(
      "| application | frame ms | complexity | encode x realtime (1 core) | vs c5/20ms "
      "| kB per audio-min | WER |\n|---|---|---|---|---|---|---|\n");
  // Encoding speed on one core (the encoding thread's CPU).
  auto speed_of = [&](const OpusOptions& o) -> Result<double> {
    const auto path = TestRunDir() / "ten-minutes.opus";
    const double cpu = ThreadCpuSeconds();
    if (auto r = WriteOpus(path, clip, o); !r) return std::unexpected(r.error());
    return seconds / (ThreadCpuSeconds() - cpu);
  };
  auto baseline = speed_of(OpusOptions{24'000, 5, 20, "voip"});
  if (!baseline) return fmt::print(stderr, "{}\n", baseline.error().ToString()), 1;
  for (const char* application : {"voip", "audio"}) {
    for (int frame : {20, 60}) {
      for (int complexity : {0, 2, 5, 10}) {
        if (std::string_view(application) == "audio" && (frame == 20 || complexity % 5 != 0))
          continue;  // the application matters little; a few points show it
        const OpusOptions o{24'000, complexity, frame, application};
        auto speed = speed_of(o);
        if (!speed) return fmt::print(stderr, "{}\n", speed.error().ToString()), 1;
        const auto path = TestRunDir() / "ten-minutes.opus";
        const double kb = static_cast<double>(std::filesystem::file_size(path)) / 1e3 / 3;
        auto wer = Wer(**engine, speech, o);
        if (!wer) return fmt::print(stderr, "{}\n", wer.error().ToString()), 1;
        fmt::print("| {} | {} | {} | {:.0f} | {:.2f} | {:.0f} | {:.3f} |\n", application, frame,
                   complexity, *speed, *speed / *baseline, kb, *wer);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace podfleet

int main(int argc, char** argv) {
  // No flags: --help (or anything else) prints the usage and runs nothing.
  if (argc > 1) {
    std::printf("usage: %s (no flags: weighs Opus settings' speed against WER)\n", argv[0]);
    return std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h" ? 0 : 2;
  }
  return podfleet::Run();
}
