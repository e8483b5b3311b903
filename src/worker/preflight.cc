#include "worker/preflight.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace podfleet {
namespace {

std::string Version(int v) { return fmt::format("{}.{}", v / 1000, v % 1000 / 10); }

}  // namespace

PreflightResult CheckGpu(const Hardware& hardware, const EngineInfo& engine) {
  PreflightResult r;
  const int runtime = engine.cuda_runtime;
  if (runtime <= 0) return r;
  if (hardware.gpus.empty()) {
    r.blocked_reason =
        fmt::format("no NVIDIA GPU visible (nvidia-smi lists none); the {} engine needs CUDA {}",
                    engine.name, Version(runtime));
    return r;
  }
  const Gpu& gpu = hardware.gpus.front();
  const int driver = ParseCudaVersion(gpu.cuda);
  if (driver == 0) {
    r.blocked_reason = fmt::format(
        "{} with driver {}: the driver's CUDA version is unknown (nvidia-smi shows none), so CUDA "
        "{} cannot be checked; is libcuda mounted (NVIDIA_DRIVER_CAPABILITIES=compute,utility)?",
        gpu.name, gpu.driver, Version(runtime));
  } else if (driver / 1000 < runtime / 1000) {
    r.blocked_reason = fmt::format(
        "CUDA error 35 (cudaErrorInsufficientDriver): {} driver {} supports CUDA {}; the {} "
        "engine's runtime needs the CUDA {}.x family",
        gpu.name, gpu.driver, Version(driver), engine.name, runtime / 1000);
  } else if (driver < runtime) {
    r.warnings.push_back(fmt::format(
        "driver {} supports CUDA {}, older than the engine's {}: minor-version compatibility, "
        "kernels must be built for this GPU",
        gpu.driver, Version(driver), Version(runtime)));
  }
  return r;
}

PreflightResult CheckEngine(const Hardware& hardware, const EngineInfo& engine) {
  PreflightResult r = CheckGpu(hardware, engine);
  if (r.passed() && !engine.device_problem.empty()) r.blocked_reason = engine.device_problem;
  return r;
}

PreflightResult RunPreflight(const Hardware& hardware, Engine& engine) {
  const EngineInfo info = engine.info();
  PreflightResult r = CheckEngine(hardware, info);
  if (!r.passed()) return r;
  PcmAudio silence;
  silence.samples.assign(kSampleRate, 0.0f);
  std::stop_source never;
  // With a speed floor the test runs twice and the second, warm run is timed.
  double realtime = 0;
  for (int run = 0; run < (info.speed_floor > 0 ? 2 : 1); ++run) {
    const auto started = std::chrono::steady_clock::now();
    auto test = engine.Transcribe(silence, {}, never.get_token());
    if (!test) {
      r.blocked_reason =
          "engine self-test failed on one second of silence: " + test.error().message;
      return r;
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    realtime = 1.0 / std::max(wall, 1e-6);
  }
  if (info.speed_floor > 0 && realtime < info.speed_floor)
    r.blocked_reason = fmt::format(
        "the {} engine claims {} but ran its self-test at {:.2f}x realtime, below the {:.1f}x "
        "floor of that device: it is not computing there at full speed",
        info.name, info.device.empty() ? "a GPU" : info.device, realtime, info.speed_floor);
  return r;
}

}  // namespace podfleet
