// The speech engine interface: audio in, timed segments out. Engines know nothing of jobs, leases
// or HTTP.
//
// Implementations: PocketSphinx (engine_pocketsphinx.cc, CPU, no download), whisper.cpp's Whisper
// and Parakeet TDT in process (engine_whisper.h, engine_parakeet.h), the simulated engine
// for load tests and benchmarks (engine_simulated.cc, named as such, never a fallback); remote
// OpenAI-compatible servers (engine_openai.h) and external commands (engine_exec.h).
//
// Thread safety: Transcribe may be called from several threads at once; an engine serialises or
// parallelises internally (a GPU engine may batch concurrent calls).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "audio/audio.h"
#include "core/error.h"
#include "core/model.h"

namespace podfleet {

struct EngineConfig {
  std::string name = "pocketsphinx";  // "pocketsphinx", "whisper", "parakeet", "simulated", ...
  std::string model;                  // engine-specific; empty: the engine's default
  std::string language = "en";
  int threads = 0;  // 0: all cores
  bool word_timestamps = true;
  double simulated_speed = 50;  // simulated engine only: realtime factor it pretends to run at
  // Simulated engine only: the CUDA runtime it pretends to be built for ("12.8"), so that load
  // tests exercise the worker's GPU preflight; empty: a CPU engine.
  std::string simulated_cuda;
  // openai engine (engine_openai.h): the server's URL, bearer key, and which server it is
  // ("auto", "openai", "whisper.cpp", "speaches", "vllm", "nim").
  std::string endpoint;
  std::string api_key;
  std::string server_kind = "auto";
  // exec engine (engine_exec.h): the command line, run by /bin/sh once per chunk.
  std::string command;
  // openai and exec engines: longest chunk sent at once (cut at pauses; at least 20 s), and the
  // longest one request or program run may take.
  Millis max_chunk{600'000};
  Millis chunk_timeout{600'000};
  // whisper engine (engine_whisper.h). `model` is a ggml file or a catalog name found in
  // models_dir; `language` "auto" (or empty) detects it.
  std::filesystem::path models_dir = "podfleet-data/models";
  int beam_size = 0;   // 0: greedy decoding; N: beam search with N beams
  std::string prompt;  // initial prompt: names and spellings the audio uses
  // whisper and parakeet engines: states (chunks in flight) on one loaded model; 0: auto, chosen
  // by a warm-up measurement and the GPU's free memory (state_pool.h).
  int states = 0;
  Millis chunk{0};       // longest piece handed to whisper.cpp at once; 0: audio / states
  bool fallback = true;  // retry a failed window at higher temperature (off when benchmarking)
  bool no_gpu = false;   // stay on the CPU even when built with CUDA or Metal
  // Refuse to run on the CPU (EngineInfo::device_problem) when no GPU is usable; always so for a
  // build with a GPU backend unless no_gpu (ggml_device.h).
  bool require_gpu = false;
  // Benchmarks of random-weight models only: decode exactly this many text tokens per window
  // (then end it), as real speech would, since random weights end windows at arbitrary points.
  int forced_tokens_per_window = 0;
};

struct EngineInfo {
  std::string name;
  std::string model;
  bool gives_words = false;
  // The CUDA runtime the engine was built for, as 1000 * major + 10 * minor (12080 for 12.8);
  // 0 for an engine that runs on the CPU.
  int cuda_runtime = 0;
  // Concurrent Transcribe calls the engine serves at full speed (whisper/parakeet states): the
  // worker runs this many jobs at once. `states_note` says how the count was chosen.
  int states = 1;
  std::string states_note;
  std::string device;          // where it computes: "CPU", "CUDA0 (NVIDIA H200)"; empty: elsewhere
  bool gpu = false;            // `device` is a GPU
  std::string device_problem;  // non-empty: it should run on a GPU and cannot (blocks the worker)
  // The ggml CPU variant chosen at run time in a build with loadable backends ("zen4"; see
  // engines/ggml_device.h); empty in other builds and for other engines.
  std::string cpu_variant;
  // The least realtime factor the engine must reach on the worker's self-test for the device it
  // claims (0: none); below it, the worker registers blocked.
  double speed_floor = 0;
};

// The speed floor of an engine that claims a GPU (EngineInfo::speed_floor): the realtime factor
// it must reach on the worker's warm self-test (one second of silence). Far above a CPU's speed on
// that work with the models a GPU worker runs (whisper.cpp encodes a whole 30 s window for it:
// turbo on 8 CPU threads 0.13x), far below any GPU's (turbo on an H200 about 20x; doc/engines.md).
inline constexpr double kGpuSpeedFloor = 3.0;

// Called with the fraction of the audio transcribed so far, from any engine thread.
using EngineProgress = std::function<void(double)>;

// What one Transcribe call asks beyond the engine's configuration.
struct TranscribeOptions {
  // The audio's language (ISO-639-1), as a job asked for it; empty: EngineConfig::language. A
  // model that transcribes one language refuses another with kInvalidArgument.
  std::string language;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual EngineInfo info() const = 0;
  // Transcribes the whole of `audio`. Segment and word times are milliseconds from its start.
  // kUnavailable "cancelled" when `stop` is requested; kInvalidArgument for a language the model
  // cannot transcribe; kInternal when the engine fails.
  virtual Result<Transcript> Transcribe(const PcmAudio& audio, const EngineProgress& progress,
                                        std::stop_token stop, const TranscribeOptions& options) = 0;
  // In the configured language.
  Result<Transcript> Transcribe(const PcmAudio& audio, const EngineProgress& progress,
                                std::stop_token stop) {
    return Transcribe(audio, progress, stop, TranscribeOptions{});
  }
};

// The language a call transcribes: the options' when set, else the configuration's.
inline const std::string& CallLanguage(const EngineConfig& config,
                                       const TranscribeOptions& options) {
  return options.language.empty() ? config.language : options.language;
}

// "12.8" -> 12080 (CUDA's 1000 * major + 10 * minor); 0 for anything that is not such a version.
int ParseCudaVersion(std::string_view text);

// Creates and loads the engine named in `config`. kInvalidArgument for an unknown name;
// kNotFound when its model files are missing.
Result<std::unique_ptr<Engine>> MakeEngine(const EngineConfig& config);

}  // namespace podfleet
