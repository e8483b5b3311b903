// The worker's preflight: before it takes jobs, a worker checks that its engine can run on this
// machine (../shared/specs/cuda-error-35.md). A failure is reported to the coordinator at
// registration as the node's blocked_reason; a blocked worker takes no jobs.
//
// Checks, for an engine built for a CUDA runtime (EngineInfo::cuda_runtime > 0):
//   - an NVIDIA GPU is visible (nvidia-smi lists one);
//   - the driver's CUDA version is known and its major version is at least the runtime's: a
//     12.x runtime on an 11.x driver fails with CUDA error 35 (cudaErrorInsufficientDriver);
//     a lower minor version within the family only warns (minor-version compatibility).
// Then the engine's own device check: an engine that needs a GPU and found none usable (for
// example with CUDA_VISIBLE_DEVICES= or no libcuda; EngineInfo::device_problem) blocks the node
// rather than running on the CPU.
// For every engine: a self-test transcribes one second of silence; an error blocks the node. An
// engine with a speed floor for the device it claims (EngineInfo::speed_floor: a GPU) runs the
// test twice and must reach the floor on the warm run, so a GPU engine that computes on the CPU
// after all is blocked too.
#pragma once

#include <string>
#include <vector>

#include "core/model.h"
#include "engines/engine.h"

namespace podfleet {

struct PreflightResult {
  std::string blocked_reason;  // empty: passed
  std::vector<std::string> warnings;
  bool passed() const { return blocked_reason.empty(); }
};

// The GPU and driver checks alone: a pure function of what the machine reported.
PreflightResult CheckGpu(const Hardware& hardware, const EngineInfo& engine);

// CheckGpu, then the engine's device problem, if any.
PreflightResult CheckEngine(const Hardware& hardware, const EngineInfo& engine);

// CheckEngine, then (if it passed) the engine self-test and its speed floor.
PreflightResult RunPreflight(const Hardware& hardware, Engine& engine);

}  // namespace podfleet
