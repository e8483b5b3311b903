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

#include <cstdint>
#include <string>
#include <vector>

#include "engines/engine.h"

namespace podfleet {

struct ComputeDevice {
  std::string name;         // ggml's: "CPU", "CUDA0", "Metal"
  std::string description;  // "NVIDIA H200"
  bool gpu = false;
  int64_t free_bytes = 0;
  int64_t total_bytes = 0;
};

// Every device ggml's backends found in this process (CPU included).
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
// a GPU backend (pure, for tests).
DeviceChoice ChooseDevice(const EngineConfig& config, const std::vector<ComputeDevice>& devices,
                          bool built_for_gpu);

}  // namespace podfleet
