#include "engines/ggml_device.h"

#include <fmt/format.h>
#include <ggml-backend.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace podfleet {

std::vector<ComputeDevice> ComputeDevices() {
  std::vector<ComputeDevice> out;
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    const auto type = ggml_backend_dev_type(dev);
    size_t free = 0, total = 0;
    ggml_backend_dev_memory(dev, &free, &total);
    out.push_back({ggml_backend_dev_name(dev), ggml_backend_dev_description(dev),
                   type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU,
                   static_cast<int64_t>(free), static_cast<int64_t>(total)});
  }
  return out;
}

int BuiltCudaRuntime() {
#ifdef PODFLEET_ENGINE_CUDA_RUNTIME
  return PODFLEET_ENGINE_CUDA_RUNTIME;
#else
  return 0;
#endif
}

bool BuiltForGpu() {
#if defined(PODFLEET_ENGINE_CUDA_RUNTIME) || defined(PODFLEET_ENGINE_METAL)
  return true;
#else
  return false;
#endif
}

DeviceChoice ChooseDevice(const EngineConfig& config, const std::vector<ComputeDevice>& devices,
                          bool built_for_gpu) {
  DeviceChoice c{"CPU", false, "", 0};
  if (config.no_gpu) return c;
  for (const ComputeDevice& d : devices) {
    if (!d.gpu) continue;
    return {fmt::format("{} ({})", d.name, d.description), true, "", d.free_bytes};
  }
  if (!built_for_gpu && !config.require_gpu) return c;
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  c.problem = fmt::format(
      "the {} engine needs a GPU{} but ggml found no usable one{}; it would run on the CPU at a "
      "fraction of the speed (use --no-gpu to run on the CPU on purpose)",
      config.name, built_for_gpu ? " (built with a GPU backend)" : " (--require-gpu)",
      visible ? fmt::format(" (CUDA_VISIBLE_DEVICES='{}')", visible) : "");
  return c;
}

Result<void> EngineRuntime::Start(StateOps ops) {
  ops_ = std::move(ops);
  ops_.device_free = [this]() -> int64_t {
    if (!device_.gpu) return -1;
    for (const ComputeDevice& d : ComputeDevices())
      if (d.gpu) return d.free_bytes;
    return -1;
  };
  const int threads = config_.threads > 0
                          ? config_.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ops_.prepare = [&](int n) { threads_per_state_ = std::max(1, threads / n); };
  // Auto measures on a GPU only: on the CPU one state with all threads was the fastest of
  // 1/2/4/8 (doc/engines.md, "States"), and whisper's warm-up there costs minutes.
  int requested = device_.problem.empty() ? config_.states : 1;
  const bool cpu_auto = requested == 0 && !device_.gpu;
  if (cpu_auto) requested = 1;
  auto plan = MakeStates(requested, ops_);
  ops_.prepare = nullptr;
  if (!plan) return std::unexpected(plan.error());
  states_ = std::move(plan->states);
  threads_per_state_ = std::max(1, threads / static_cast<int>(states_.size()));
  states_note_ = cpu_auto ? "1 (auto: on the CPU one state with all threads)"
                          : DescribeStates(states_.size(), plan->measured);
  pool_ = std::make_unique<StatePool>(states_);
  return {};
}

void EngineRuntime::Free() {
  pool_.reset();
  for (void* s : states_) ops_.destroy(s);
  states_.clear();
}

void EngineRuntime::Describe(EngineInfo& info) const {
  info.cuda_runtime = config_.no_gpu ? 0 : BuiltCudaRuntime();
  info.states = static_cast<int>(states_.size());
  info.states_note = states_note_;
  info.device = device_.device;
  info.gpu = device_.gpu;
  info.device_problem = device_.problem;
  info.speed_floor = device_.gpu ? kGpuSpeedFloor : 0;
}

}  // namespace podfleet
