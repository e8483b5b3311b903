// The GPU half of `podfleet bench engine`, standalone: podfleet's own whisper and parakeet engines
// (engine_whisper.cc, engine_parakeet.cc, state_pool.cc: the code a worker runs) linked with
// whisper.cpp and nothing else, so that it builds on a GPU machine that has a CUDA toolkit but
// none of podfleet's Debian libraries (scripts/gpu-check builds and runs it there; fmt comes
// header-only from a folder carried with the tree).
//
//   engine_states make-random SIZE WEIGHTS OUT   SIZE: a Whisper size (large-v3-turbo, ...) or
//                                                parakeet-tdt-0.6b / parakeet-tiny
//   engine_states bench ENGINE MODEL SPEECH LIST [THREADS]
//       ENGINE whisper|parakeet; SPEECH raw 16 kHz mono s16le; LIST e.g. 1,2,4,8,auto.
//       One row per count: load (warm-up included), wall, realtime, GPU memory held; then the
//       auto choice against the best fixed count of the same run. Exit 3 when the engine refuses
//       to run (no usable GPU), printing why.
//
// As `podfleet bench engine`: random-weight whisper models decode 115 text tokens per 30 s
// window with temperature fallback off; parakeet decodes what its random weights emit.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "engines/engine_parakeet.h"
#include "engines/engine_whisper.h"
#include "engines/ggml_device.h"
#include "engines/parakeet_model_file.h"
#include "engines/whisper_model_file.h"

namespace podfleet {
namespace {

int MakeRandom(const std::string& size, const std::string& weights, const std::string& out) {
  Result<int64_t> bytes = InvalidArgument("unknown size " + size);
  if (size.starts_with("parakeet")) {
    bytes = WriteRandomParakeetModel(
        out, {size == "parakeet-tiny" ? TinyParakeetShape() : ParakeetTdt06bShape(), weights, 1});
  } else if (auto shape = WhisperShape(size)) {
    bytes = WriteRandomWhisperModel(out, {*shape, weights, 1});
  }
  if (!bytes) return fmt::print(stderr, "{}\n", bytes.error().ToString()), 1;
  fmt::print("wrote {} ({} MiB)\n", out, *bytes >> 20);
  return 0;
}

Result<PcmAudio> ReadSpeech(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  PcmAudio audio;
  for (int16_t s; in.read(reinterpret_cast<char*>(&s), 2);) audio.samples.push_back(s / 32768.0f);
  return audio;
}

int64_t GpuFree() {
  for (const ComputeDevice& d : ComputeDevices())
    if (d.gpu) return d.free_bytes;
  return 0;
}

struct Row {
  int states = 0;
  double realtime = 0;
};

// One engine at `states` (0: auto) over the speech. nullopt after printing an error; exits 3 on a
// device refusal.
std::optional<Row> RunOnce(EngineConfig config, const PcmAudio& speech) {
  using Clock = std::chrono::steady_clock;
  const int64_t free0 = GpuFree();
  const auto t0 = Clock::now();
  auto engine = config.name == "whisper" ? MakeWhisperEngine(config) : MakeParakeetEngine(config);
  const auto t1 = Clock::now();
  if (!engine) return fmt::print("error: {}\n", engine.error().ToString()), std::nullopt;
  const EngineInfo info = (*engine)->info();
  if (!info.device_problem.empty()) {
    fmt::print("refused: {}\n", info.device_problem);
    std::exit(3);
  }
  auto t = (*engine)->Transcribe(speech, {}, {});
  const auto t2 = Clock::now();
  const int64_t held = free0 - GpuFree();
  if (!t) return fmt::print("error: {}\n", t.error().ToString()), std::nullopt;
  const double audio = speech.duration().count() / 1000.0;
  const double wall = std::chrono::duration<double>(t2 - t1).count();
  fmt::print(
      "{:<9} {:>6} {:>7.2f} s {:>8.2f} s {:>9.1f}x {:>9} MiB  {}\n", config.name,
      config.states > 0 ? std::to_string(config.states) : fmt::format("auto={}", info.states),
      std::chrono::duration<double>(t1 - t0).count(), wall, audio / wall, held >> 20, info.device);
  if (config.states == 0) fmt::print("          states: {}\n", info.states_note);
  std::fflush(stdout);
  return Row{info.states, audio / wall};
}

int Bench(const std::string& engine, const std::string& model, const std::string& speech_path,
          const std::string& list, int threads) {
  auto speech = ReadSpeech(speech_path);
  if (!speech) return fmt::print(stderr, "{}\n", speech.error().ToString()), 1;
  EngineConfig config;
  config.name = engine;
  config.model = model;
  config.language = "en";
  config.threads = threads;
  config.fallback = false;
  config.forced_tokens_per_window = engine == "whisper" ? 115 : 0;
  fmt::print("{} on {:.1f} s of speech, {} threads\n", model, speech->duration().count() / 1000.0,
             threads);
  fmt::print("{:<9} {:>6} {:>9} {:>10} {:>10} {:>13}  {}\n", "ENGINE", "STATES", "LOAD", "WALL",
             "REALTIME", "GPU MEM", "DEVICE");
  std::optional<Row> best, automatic;
  std::stringstream items(list);
  for (std::string item; std::getline(items, item, ',');) {
    config.states = item == "auto" ? 0 : std::atoi(item.c_str());
    auto row = RunOnce(config, *speech);
    if (!row) continue;
    if (item == "auto")
      automatic = row;
    else if (!best || row->realtime > best->realtime)
      best = row;
  }
  if (automatic && best)
    fmt::print(
        "auto chose {} states: {:.1f}x, {:.0f}% of the best fixed count ({} states, "
        "{:.1f}x)\n",
        automatic->states, automatic->realtime, 100 * automatic->realtime / best->realtime,
        best->states, best->realtime);
  return 0;
}

}  // namespace
}  // namespace podfleet

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "make-random" && argc == 5) return podfleet::MakeRandom(argv[2], argv[3], argv[4]);
  if (cmd == "bench" && (argc == 6 || argc == 7))
    return podfleet::Bench(argv[2], argv[3], argv[4], argv[5], argc == 7 ? std::atoi(argv[6]) : 0);
  // --help and -h print the usage and run nothing, as every benchmark binary does (bench/args.h).
  const bool help = cmd == "--help" || cmd == "-h";
  std::fprintf(help ? stdout : stderr,
               "usage: engine_states make-random SIZE WEIGHTS OUT\n"
               "       engine_states bench whisper|parakeet MODEL SPEECH.s16 1,2,4,8,auto "
               "[THREADS]\n");
  return help ? 0 : 2;
}
