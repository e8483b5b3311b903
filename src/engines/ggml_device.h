// The compute devices the in-process engines (whisper, parakeet) run on, as ggml sees them, and
// the rule that keeps a GPU build from silently running on the CPU.
//
// whisper.cpp takes the first GPU ggml offers and, when there is none, logs "no GPU found" and
// carries on on the CPU. A worker built for CUDA must not do that (it would bill GPU hours at CPU
// speed): ChooseDevice names the device an engine will use and, when a GPU is required but none is
// usable, the problem, which the worker's preflight turns into a blocked registration.
//
// A GPU is required when the build has a GPU backend (CUDA or Metal) and the operator did not ask
// for the CPU (EngineConfig::no_gpu), or when EngineConfig::require_gpu is set (any build: a CPU
// build with --require-gpu refuses the same way, which is how tests exercise this path).
//
// Thread-safety: the functions may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engines/engine.h"
#include "engines/state_pool.h"

namespace podfleet {

struct ComputeDevice {
  std::string name;         // ggml's: "CPU", "CUDA0", "Metal"
  std::string description;  // "NVIDIA H200"
  bool gpu = false;
  int64_t free_bytes = 0;
  int64_t total_bytes = 0;
};

// ggml's backends in a build that loads them at run time (GGML_BACKEND_DL: scripts/bundle's,
// cmake/whisper.cmake's PODFLEET_WHISPER_PORTABLE). Its CPU code is then a set of modules, one per
// CPU generation (libggml-cpu-x64.so ... libggml-cpu-haswell.so ... libggml-cpu-zen4.so), and a GPU
// backend is a module too (libggml-cuda.so). LoadGgmlBackends loads them once per process from the
// folder that holds libggml (a bundle's lib/, a build's bin/) and from ggml's own backend folder
// when it was built with one, never from the current folder: ggml keeps the CPU variant with the
// best score (ggml_backend_score) among those this CPU can run, so a bundle uses AVX512 where
// there is AVX512 and never dies of an illegal instruction where there is not. A build with the
// backends linked in (the default, -march=native) loads nothing.
struct GgmlBackends {
  bool loadable = false;    // the build loads its backends at run time
  std::string folder;       // where the modules were looked for
  std::string cpu_variant;  // the CPU variant ggml chose ("haswell"); empty: none, or built in
  int cpu_variants = 0;     // how many CPU variant modules it chose among
  std::string problem;      // non-empty: no CPU backend loaded, so no engine can run (why)
  std::string gpu_problem;  // a GPU backend module that failed to load, and the loader's reason
};

// Loads the backends (the first call) and says what was loaded. Thread-safe.
const GgmlBackends& LoadGgmlBackends();

// "libggml-cpu-haswell.so" (or a path ending so) -> "haswell"; "libggml-cpu.so" -> "cpu".
std::string CpuVariantOf(std::string_view module_file);

// Every device ggml's backends found in this process (CPU included), after LoadGgmlBackends.
std::vector<ComputeDevice> ComputeDevices();

// The CUDA runtime the engines were built with (1000 * major + 10 * minor; 0: not a CUDA build).
int BuiltCudaRuntime();
// Whether the build has a GPU backend (CUDA or Metal).
bool BuiltForGpu();

struct DeviceChoice {
  std::string device;  // "CUDA0 (NVIDIA H200)" or "CPU"
  bool gpu = false;
  std::string problem;  // non-empty: a GPU is required and none is usable (the reason)
  int64_t free_bytes = 0;
};

// The device an engine configured by `config` runs on, given `devices` and whether the build has
// a GPU backend (pure, for tests). `gpu_problem` (GgmlBackends::gpu_problem) goes into the problem
// when a GPU is required and none is usable.
DeviceChoice ChooseDevice(const EngineConfig& config, const std::vector<ComputeDevice>& devices,
                          bool built_for_gpu, std::string_view gpu_problem = {});

}  // namespace podfleet

namespace podfleet {

// What the in-process engines (whisper, parakeet) share around their model: the device, the
// states and the pool over them, and how the threads are divided among the states.
//
// Thread-safety: Start and Free from one thread, before and after any use; the rest from any.
class EngineRuntime {
 public:
  EngineRuntime(const EngineConfig& config, DeviceChoice device)
      : config_(config), device_(std::move(device)) {}
  ~EngineRuntime() { Free(); }
  EngineRuntime(const EngineRuntime&) = delete;
  EngineRuntime& operator=(const EngineRuntime&) = delete;

  // Makes the states with `ops` (create, destroy and run; device_free and prepare are filled
  // here): EngineConfig::states of them, or when 0 as the warm-up chooses on a GPU and one on
  // the CPU; one when the device has a problem (the engine is kept only to say why). Errors as
  // MakeStates.
  Result<void> Start(StateOps ops);
  // Frees the states; the engine calls it before freeing its model.
  void Free();

  // Fills the device, state and CUDA fields of `info`.
  void Describe(EngineInfo& info) const;
  const DeviceChoice& device() const { return device_; }
  StatePool& pool() { return *pool_; }
  size_t states() const { return states_.size(); }
  int threads_per_state() const { return threads_per_state_.load(); }

 private:
  const EngineConfig& config_;
  const DeviceChoice device_;
  StateOps ops_;
  std::vector<void*> states_;
  std::string states_note_;
  std::atomic<int> threads_per_state_{1};
  std::unique_ptr<StatePool> pool_;
};

}  // namespace podfleet
