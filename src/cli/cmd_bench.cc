// `podfleet bench engine`: how fast each engine runs on this machine, on the project's own test
// speech (the sample podcast's espeak-ng episodes), with threads and peak memory.
//
// whisper.cpp is measured on random-weight models of the real sizes (whisper_model_file.h),
// written into the cache folder one at a time and removed after their run: its speed does not
// depend on the weights' values, but random weights make every window fail whisper's quality
// checks, so temperature fallback is off for them (a real model decodes each window about once),
// and they end windows at arbitrary points, so each window decodes as many tokens as real speech
// gives (EngineConfig.forced_tokens_per_window).
#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/local_common.h"
#include "engines/whisper_model_file.h"

namespace podfleet {
namespace {

// Text tokens a real model decodes per 30 s window of the test speech: espeak-ng speaks 175
// words a minute, about 88 words per window, and Whisper's tokenizer averages about 1.3 tokens per
// English word.
constexpr int kTokensPerWindow = 115;

struct BenchArgs {
  EngineConfig engine;
  std::string random = "base.en:f16,small.en:f16,large-v3-turbo:f16,large-v3-turbo:q8_0";
  std::filesystem::path cache_dir = "podfleet-data/bench";
  bool engine_given = false;
};

struct Case {
  std::string label;  // what the table shows as model
  EngineConfig config;
  std::filesystem::path random_model;  // written before the run and removed after it
  RandomModelOptions random;
};

// Peak resident memory since the last reset, in bytes (Linux: VmHWM, reset via clear_refs).
void ResetPeakMemory() { std::ofstream("/proc/self/clear_refs") << "5"; }
int64_t PeakMemory() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmHWM:")) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

// CPU seconds this process has used (all threads).
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

Result<PcmAudio> TestSpeech(const std::filesystem::path& dir) {
  auto feed = MakeSampleFeed(dir);
  if (!feed) return std::unexpected(feed.error());
  PcmAudio all;
  for (const SampleEpisode& e : SampleEpisodes()) {
    auto audio = DecodeAudioFile(dir / e.file);
    if (!audio) return std::unexpected(audio.error());
    all.samples.insert(all.samples.end(), audio->samples.begin(), audio->samples.end());
    all.samples.insert(all.samples.end(), kSampleRate / 2, 0.0f);
  }
  return all;
}

Result<std::vector<Case>> Cases(const BenchArgs& a) {
  std::vector<Case> cases;
  const std::string name = a.engine_given ? a.engine.name : "";
  if (name.empty() || name == "pocketsphinx") {
    Case c{"en-us", a.engine, {}, {}};
    c.config.name = "pocketsphinx";
    c.config.model = "";
    cases.push_back(c);
  }
  if (!a.engine.model.empty() && name == "whisper") {
    cases.push_back({a.engine.model, a.engine, {}, {}});
    return cases;
  }
  if (!name.empty() && name != "whisper") {
    if (name != "pocketsphinx") cases.push_back({a.engine.model, a.engine, {}, {}});
    return cases;
  }
  std::stringstream list(a.random);
  for (std::string item; std::getline(list, item, ',');) {
    const auto colon = item.find(':');
    std::string size = item.substr(0, colon);
    const std::string weights = colon == std::string::npos ? "f16" : item.substr(colon + 1);
    const bool english = size.ends_with(".en");
    if (english) size.resize(size.size() - 3);
    auto shape = WhisperShape(size, english);
    if (!shape) return std::unexpected(shape.error());
    Case c{fmt::format("random {}{} {}", size, english ? ".en" : "", weights), a.engine, {}, {}};
    c.config.name = "whisper";
    c.config.language = "en";
    c.config.fallback = false;
    c.config.forced_tokens_per_window = kTokensPerWindow;
    c.random_model =
        a.cache_dir / fmt::format("random-{}{}-{}.bin", size, english ? ".en" : "", weights);
    c.config.model = c.random_model.string();
    c.random = {*shape, weights, 1};
    cases.push_back(c);
  }
  return cases;
}

void RunCase(Case& c, const PcmAudio& audio) {
  using Clock = std::chrono::steady_clock;
  const int threads = c.config.threads > 0
                          ? c.config.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto row = [&](const std::string& rest) {
    fmt::print("{:<13} {:<28} {:>7}  {}\n", c.config.name, c.label, threads, rest);
    std::fflush(stdout);
  };
  if (!c.random_model.empty()) {
    auto written = WriteRandomWhisperModel(c.random_model, c.random);
    if (!written) return row("error: " + written.error().ToString());
  }
  ResetPeakMemory();
  const auto t0 = Clock::now();
  auto engine = MakeEngine(c.config);
  const auto t1 = Clock::now();
  if (!engine) return row("unavailable: " + engine.error().ToString());
  const double cpu0 = CpuSeconds();
  auto transcript = (*engine)->Transcribe(audio, {}, {});
  const auto t2 = Clock::now();
  const double cpu = CpuSeconds() - cpu0;
  const int64_t peak = PeakMemory();
  engine->reset();
  std::error_code ec;
  if (!c.random_model.empty()) std::filesystem::remove(c.random_model, ec);
  if (!transcript) return row("error: " + transcript.error().ToString());
  const double load = std::chrono::duration<double>(t1 - t0).count();
  const double wall = std::chrono::duration<double>(t2 - t1).count();
  const double seconds = static_cast<double>(audio.duration().count()) / 1000;
  row(fmt::format("{:6.1f} s {:7.2f} s {:8.2f}x {:7.2f} s {:8.2f} {:6.2f} s {:7} MiB", seconds,
                  wall, seconds / wall, cpu, cpu / seconds, load, peak >> 20));
}

}  // namespace

int RunBench(const Args& args) {
  BenchArgs a;
  std::vector<Flag> flags = EngineFlags(a.engine);
  flags.push_back(StringFlag("random", &a.random,
                             "whisper without --model: random-weight models to measure, "
                             "SIZE[.en]:WEIGHTS,...",
                             "LIST"));
  flags.push_back(PathFlag("cache-dir", &a.cache_dir, "test speech and temporary models"));
  auto parsed = ParseFlags(flags, "bench", args);
  if (!parsed) return Fail(parsed.error().message);
  if (parsed->help || parsed->positional.size() != 1 || parsed->positional[0] != "engine") {
    fmt::print("{}", FlagHelp(flags, "bench engine [--engine E --model M] [--threads N]",
                              "Measures each engine's speed on this machine on espeak-ng test "
                              "speech: realtime factor\n(audio seconds per wall second), CPU "
                              "seconds per audio second, threads, load time and peak\nmemory. "
                              "whisper.cpp runs on\nrandom-weight "
                              "models of the real sizes unless --model is given."));
    return parsed->help ? 0 : 2;
  }
  for (const std::string& arg : args)
    if (arg == "--engine" || arg.starts_with("--engine=")) a.engine_given = true;
  std::error_code ec;
  std::filesystem::create_directories(a.cache_dir, ec);
  auto audio = TestSpeech(a.cache_dir / "speech");
  if (!audio) return Fail("test speech: " + audio.error().ToString());
  auto cases = Cases(a);
  if (!cases) return Fail(cases.error().ToString());
  fmt::print("{:<13} {:<28} {:>7}  {:>8} {:>9} {:>9} {:>9} {:>8} {:>8} {:>11}\n", "ENGINE", "MODEL",
             "THREADS", "AUDIO", "WALL", "REALTIME", "CPU", "CPU/AUDIO", "LOAD", "PEAK RSS");
  fmt::print(
      "(REALTIME: audio seconds per wall second; CPU/AUDIO: CPU seconds per audio second, "
      "steadier on a busy machine)\n");
  for (Case& c : *cases) RunCase(c, *audio);
  return 0;
}

}  // namespace podfleet
