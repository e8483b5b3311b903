#include "audio/chunks.h"

#include <algorithm>
#include <limits>

namespace podfleet {
namespace {

constexpr int64_t kFrameSamples = kSampleRate / 100;  // 10 ms

// Mean square of each 10 ms frame.
std::vector<double> FramePower(const std::vector<float>& samples) {
  const auto total = static_cast<int64_t>(samples.size());
  std::vector<double> power;
  power.reserve(static_cast<size_t>(total / kFrameSamples + 1));
  for (int64_t begin = 0; begin < total; begin += kFrameSamples) {
    const int64_t end = std::min(total, begin + kFrameSamples);
    double sum = 0;
    for (int64_t i = begin; i < end; ++i) sum += double{samples[i]} * samples[i];
    power.push_back(sum / static_cast<double>(end - begin));
  }
  return power;
}

// The frame in [lo, hi) at the centre of the `window`-frame stretch with the least energy.
int64_t QuietestFrame(const std::vector<double>& power, int64_t lo, int64_t hi, int64_t window) {
  const auto n = static_cast<int64_t>(power.size());
  const int64_t half = window / 2;
  double sum = 0;
  int64_t begin = std::max<int64_t>(0, lo - half);
  int64_t end = begin;
  double best = std::numeric_limits<double>::max();
  int64_t best_frame = lo;
  for (int64_t f = lo; f < hi; ++f) {
    const int64_t want_begin = std::max<int64_t>(0, f - half);
    const int64_t want_end = std::min(n, f + half + 1);
    while (end < want_end) sum += power[end++];
    while (begin < want_begin) sum -= power[begin++];
    if (sum < best) {
      best = sum;
      best_frame = f;
    }
  }
  return best_frame;
}

}  // namespace

std::vector<Piece> ChooseChunks(const PcmAudio& audio, const ChunkOptions& options) {
  const int64_t total = audio.size().count;
  const int64_t target = ToSamples(options.target).count;
  const int64_t search = std::clamp<int64_t>(ToSamples(options.search).count, 0, target / 4);
  std::vector<Piece> pieces;
  if (target <= 0 || total <= target + target / 4) {
    pieces.push_back({Samples{0}, Samples{total}});
    return pieces;
  }
  const std::vector<double> power = FramePower(audio.samples);
  const int64_t window = std::max<int64_t>(1, options.quiet_window.count() / 10);
  int64_t begin = 0;
  while (total - begin > target + target / 4) {
    const int64_t lo = std::max(begin + 1, begin + target - search) / kFrameSamples;
    const int64_t hi = std::min(total - target / 4, begin + target + search) / kFrameSamples;
    const int64_t cut =
        hi > lo ? QuietestFrame(power, lo, hi, window) * kFrameSamples : begin + target;
    pieces.push_back({Samples{begin}, Samples{cut}});
    begin = cut;
  }
  pieces.push_back({Samples{begin}, Samples{total}});
  return pieces;
}

Millis SpreadTarget(Millis duration, Millis target, int free_workers) {
  const int64_t total = duration.count();
  const int64_t length = target.count();
  if (free_workers < 2 || length <= 1 || total <= length + length / 4) return target;
  const int64_t pieces = (total + length - 1) / length;
  const int64_t rounds = (pieces + free_workers - 1) / free_workers;
  const int64_t spread = std::min(rounds * free_workers, total / (length / 2));
  if (spread <= pieces) return target;
  return Millis((total + spread - 1) / spread);
}

}  // namespace podfleet
