#include "engines/engine_simulated.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "core/clock.h"

namespace podfleet {
namespace {

using Clock = std::chrono::steady_clock;

class SimulatedEngine final : public Engine {
 public:
  explicit SimulatedEngine(EngineConfig config) : config_(std::move(config)) {}

  // Pretending CUDA, it claims a simulated GPU and so has the GPU speed floor.
  EngineInfo info() const override {
    EngineInfo i{"simulated", "simulated", false, ParseCudaVersion(config_.simulated_cuda)};
    if (i.cuda_runtime > 0) {
      i.device = "simulated GPU";
      i.gpu = true;
      i.speed_floor = kGpuSpeedFloor;
    }
    return i;
  }

  Result<Transcript> Transcribe(const PcmAudio& audio, const EngineProgress& progress,
                                std::stop_token stop, const TranscribeOptions& options) override {
    const auto started = Clock::now();
    const Millis total = audio.duration();
    Transcript t;
    t.language = CallLanguage(config_, options);
    t.engine = "simulated";
    t.model = "simulated";
    t.audio_duration = total;
    for (Millis begin{0}; begin < total; begin += kSimulatedSegment) {
      const Millis end = std::min(total, begin + kSimulatedSegment);
      if (!SleepFor(WallTime(end - begin), stop)) return Unavailable("cancelled");
      t.segments.push_back({begin, end, std::string(kSimulatedText), {}, {}});
      if (progress) progress(static_cast<double>(end.count()) / static_cast<double>(total.count()));
    }
    t.engine_time = std::chrono::duration_cast<Millis>(Clock::now() - started);
    return t;
  }

 private:
  Clock::duration WallTime(Millis audio) const {
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::milli>(audio.count() / config_.simulated_speed));
  }

  const EngineConfig config_;
};

}  // namespace

Result<std::unique_ptr<Engine>> MakeSimulatedEngine(const EngineConfig& config) {
  if (!(config.simulated_speed > 0)) {
    return InvalidArgument(
        fmt::format("simulated engine: speed must be positive, not {}", config.simulated_speed));
  }
  if (!config.simulated_cuda.empty() && ParseCudaVersion(config.simulated_cuda) == 0)
    return InvalidArgument(
        fmt::format("simulated engine: CUDA runtime must be a version like 12.8, not \"{}\"",
                    config.simulated_cuda));
  return std::make_unique<SimulatedEngine>(config);
}

}  // namespace podfleet
