#include "worker/speed_probe.h"

#include <algorithm>
#include <chrono>

#include "audio/voice_clip.h"

namespace podfleet {

PcmAudio SpeedProbeClip() { return VoiceLikeClip(); }

Result<double> MeasureEngineSpeed(Engine& engine, std::stop_token stop) {
  const PcmAudio clip = SpeedProbeClip();
  const auto started = std::chrono::steady_clock::now();
  auto t = engine.Transcribe(clip, {}, stop);
  if (!t) return std::unexpected(t.error());
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return static_cast<double>(clip.duration().count()) / 1000.0 / std::max(wall, 1e-3);
}

}  // namespace podfleet
