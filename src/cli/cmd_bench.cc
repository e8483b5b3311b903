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
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/local_common.h"
#include "engines/parakeet_model_file.h"
#include "engines/whisper_model_file.h"
#ifdef PODFLEET_HAVE_WHISPER
#include "engines/ggml_device.h"
#endif

namespace podfleet {
namespace {

// Text tokens a real model decodes per 30 s window of the test speech: espeak-ng speaks 175
// words a minute, about 88 words per window, and Whisper's tokenizer averages about 1.3 tokens per
// English word.
constexpr int kTokensPerWindow = 115;

struct BenchArgs {
  EngineConfig engine;
  std::string random =
      "base.en:f16,small.en:f16,large-v3-turbo:f16,large-v3-turbo:q8_0,parakeet-tdt-0.6b:f16";
  std::string states;  // "1,2,4,8,auto": each case at each count; empty: as configured
  std::filesystem::path cache_dir = "podfleet-data/bench";
  bool engine_given = false;
};

struct Case {
  std::string label;  // what the table shows as model
  EngineConfig config;
  std::filesystem::path random_model;  // written before the run and removed after it
  RandomModelOptions random;
  std::optional<RandomParakeetOptions> random_parakeet;
};

// One run's figures.
struct Outcome {
  int states = 0;
  double realtime = 0;
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
    Case c{"en-us", a.engine, {}, {}, {}};
    c.config.name = "pocketsphinx";
    c.config.model = "";
    cases.push_back(c);
  }
  const bool in_process = name == "whisper" || name == "parakeet";
  if (!a.engine.model.empty() && in_process) {
    cases.push_back({a.engine.model, a.engine, {}, {}, {}});
    return cases;
  }
  if (!name.empty() && !in_process) {
    if (name != "pocketsphinx") cases.push_back({a.engine.model, a.engine, {}, {}, {}});
    return cases;
  }
  std::stringstream list(a.random);
  for (std::string item; std::getline(list, item, ',');) {
    const auto colon = item.find(':');
    std::string size = item.substr(0, colon);
    const std::string weights = colon == std::string::npos ? "f16" : item.substr(colon + 1);
    if (size.starts_with("parakeet")) {
      if (!name.empty() && name != "parakeet") continue;
      if (size != "parakeet-tdt-0.6b" && size != "parakeet-tiny")
        return InvalidArgument("unknown Parakeet size '" + size + "'");
      Case c{fmt::format("random {} {}", size, weights), a.engine, {}, {}, {}};
      c.config.name = "parakeet";
      c.random_model = a.cache_dir / fmt::format("random-{}-{}.bin", size, weights);
      c.config.model = c.random_model.string();
      c.random_parakeet = RandomParakeetOptions{
          size == "parakeet-tiny" ? TinyParakeetShape() : ParakeetTdt06bShape(), weights, 1};
      cases.push_back(c);
      continue;
    }
    if (name == "parakeet") continue;
    const bool english = size.ends_with(".en");
    if (english) size.resize(size.size() - 3);
    auto shape = WhisperShape(size, english);
    if (!shape) return std::unexpected(shape.error());
    Case c{
        fmt::format("random {}{} {}", size, english ? ".en" : "", weights), a.engine, {}, {}, {}};
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

// Memory the engine holds on its GPU (bytes), from the device's free memory; 0 on the CPU.
int64_t GpuFree() {
#ifdef PODFLEET_HAVE_WHISPER
  for (const ComputeDevice& d : ComputeDevices())
    if (d.gpu) return d.free_bytes;
#endif
  return 0;
}

// Writes the case's random model, if it has one. False (with a row printed) on failure.
Result<void> WriteModel(const Case& c) {
  if (c.random_model.empty()) return {};
  auto written = c.random_parakeet ? WriteRandomParakeetModel(c.random_model, *c.random_parakeet)
                                   : WriteRandomWhisperModel(c.random_model, c.random);
  if (!written) return std::unexpected(written.error());
  return {};
}

std::optional<Outcome> RunCase(const Case& c, const PcmAudio& audio) {
  using Clock = std::chrono::steady_clock;
  const int threads = c.config.threads > 0
                          ? c.config.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto row = [&](const std::string& states, const std::string& rest) {
    fmt::print("{:<13} {:<28} {:>7} {:>6}  {}\n", c.config.name, c.label, threads, states, rest);
    std::fflush(stdout);
  };
  const std::string asked =
      c.config.states > 0 ? std::to_string(c.config.states) : std::string("auto");
  ResetPeakMemory();
  const int64_t gpu_free = GpuFree();
  const auto t0 = Clock::now();
  auto engine = MakeEngine(c.config);
  const auto t1 = Clock::now();
  if (!engine) return row(asked, "unavailable: " + engine.error().ToString()), std::nullopt;
  const EngineInfo info = (*engine)->info();
  if (!info.device_problem.empty())
    return row(asked, "refused: " + info.device_problem), std::nullopt;
  const double cpu0 = CpuSeconds();
  auto transcript = (*engine)->Transcribe(audio, {}, {});
  const auto t2 = Clock::now();
  const double cpu = CpuSeconds() - cpu0;
  const int64_t peak = PeakMemory();
  const int64_t gpu_used = gpu_free - GpuFree();
  engine->reset();
  if (!transcript) return row(asked, "error: " + transcript.error().ToString()), std::nullopt;
  const double load = std::chrono::duration<double>(t1 - t0).count();
  const double wall = std::chrono::duration<double>(t2 - t1).count();
  const double seconds = static_cast<double>(audio.duration().count()) / 1000;
  const std::string states = c.config.states > 0 ? asked : fmt::format("auto={}", info.states);
  row(states, fmt::format("{:6.1f} s {:7.2f} s {:8.2f}x {:7.2f} s {:8.2f} {:6.2f} s {:7} MiB {:7}",
                          seconds, wall, seconds / wall, cpu, cpu / seconds, load, peak >> 20,
                          gpu_used > 0 ? fmt::format("{} MiB", gpu_used >> 20) : "-"));
  if (c.config.states == 0 && !info.states_note.empty())
    fmt::print("    {} states: {}\n", info.name, info.states_note);
  return Outcome{info.states, seconds / wall};
}

// Runs `c` at each count of `states` ("1,2,4,8,auto"), then says how auto compares with the best
// fixed count measured in the same run.
void RunSweep(Case c, const PcmAudio& audio, const std::string& states) {
  if (auto ok = WriteModel(c); !ok) {
    fmt::print("{:<13} {:<28} error: {}\n", c.config.name, c.label, ok.error().ToString());
    return;
  }
  std::optional<Outcome> best, automatic;
  std::stringstream list(states.empty() ? std::string("-") : states);
  for (std::string item; std::getline(list, item, ',');) {
    if (item != "-") c.config.states = item == "auto" ? 0 : std::max(1, std::atoi(item.c_str()));
    auto got = RunCase(c, audio);
    if (!got) continue;
    if (item == "auto")
      automatic = got;
    else if (!best || got->realtime > best->realtime)
      best = got;
  }
  std::error_code ec;
  if (!c.random_model.empty()) std::filesystem::remove(c.random_model, ec);
  if (automatic && best)
    fmt::print(
        "    auto chose {} states: {:.2f}x realtime, {:.0f}% of the best fixed count ({} "
        "states, {:.2f}x)\n",
        automatic->states, automatic->realtime, 100 * automatic->realtime / best->realtime,
        best->states, best->realtime);
}

}  // namespace

int RunBench(const Args& args) {
  BenchArgs a;
  std::vector<Flag> flags = EngineFlags(a.engine);
  flags.push_back(StringFlag("random", &a.random,
                             "whisper without --model: random-weight models to measure, "
                             "SIZE[.en]:WEIGHTS,...",
                             "LIST"));
  flags.push_back(StringFlag("states", &a.states,
                             "whisper, parakeet: run each model at these state counts, e.g. "
                             "1,2,4,8,auto (default: as --whisper-states says)",
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
  fmt::print("{:<13} {:<28} {:>7} {:>6}  {:>8} {:>9} {:>9} {:>9} {:>8} {:>8} {:>11} {:>7}\n",
             "ENGINE", "MODEL", "THREADS", "STATES", "AUDIO", "WALL", "REALTIME", "CPU",
             "CPU/AUDIO", "LOAD", "PEAK RSS", "GPU MEM");
  fmt::print(
      "(REALTIME: audio seconds per wall second, all states together; CPU/AUDIO: CPU seconds per "
      "audio second, steadier on a busy machine; LOAD includes the auto warm-up)\n");
  for (const Case& c : *cases) {
    const bool states_apply = c.config.name == "whisper" || c.config.name == "parakeet";
    RunSweep(c, *audio, states_apply ? a.states : "");
  }
  return 0;
}

}  // namespace podfleet
