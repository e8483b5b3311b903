#include "worker/prefetch.h"

#include <algorithm>
#include <cmath>

namespace podfleet {
namespace {

// Weight of the newest job in the running averages.
constexpr double kNewest = 0.3;

void Average(std::optional<double>& average, Millis took, Millis audio) {
  if (audio <= Millis(0)) return;
  const double x = static_cast<double>(took.count()) / static_cast<double>(audio.count());
  average = average ? (1 - kNewest) * *average + kNewest * x : x;
}

}  // namespace

PrefetchPlanner::PrefetchPlanner(int min_depth, int max_depth)
    : min_depth_(std::max(1, min_depth)), max_depth_(std::max(std::max(1, min_depth), max_depth)) {}

void PrefetchPlanner::Fetched(Millis took, Millis audio) {
  MutexLock lock(mu_);
  Average(fetch_per_audio_, took, audio);
}

void PrefetchPlanner::Transcribed(Millis took, Millis audio) {
  MutexLock lock(mu_);
  Average(engine_per_audio_, took, audio);
}

int PrefetchPlanner::Depth() const {
  MutexLock lock(mu_);
  if (!fetch_per_audio_ || !engine_per_audio_) return min_depth_;
  const double engine = std::max(*engine_per_audio_, 1e-6);
  const double needed = std::ceil(*fetch_per_audio_ / engine) + 1;
  return static_cast<int>(std::clamp(needed, double(min_depth_), double(max_depth_)));
}

std::optional<double> PrefetchPlanner::EngineSpeed() const {
  MutexLock lock(mu_);
  if (!engine_per_audio_ || *engine_per_audio_ <= 0) return std::nullopt;
  return 1.0 / *engine_per_audio_;
}

}  // namespace podfleet
