#include "engines/ggml_device.h"

#include <fmt/format.h>
#include <ggml-backend.h>

#include <cstdlib>

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

}  // namespace podfleet
