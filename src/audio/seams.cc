#include "audio/seams.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "audio/source_decoder.h"

namespace podfleet {
namespace {

constexpr int64_t kFrameSamples = kSampleRate / 100;  // 10 ms
// The mean difference of log frame energies (natural log) above which two decodes of a seam's
// audio are not taken for the same audio: about 4 dB.
constexpr double kMaxMatchDistance = 1.0;

// Mean square of each whole 10 ms frame.
std::vector<double> FramePower(std::span<const float> samples) {
  std::vector<double> out;
  out.reserve(samples.size() / kFrameSamples);
  for (size_t at = 0; at + kFrameSamples <= samples.size(); at += kFrameSamples) {
    double sum = 0;
    for (size_t i = at; i < at + kFrameSamples; ++i) sum += double{samples[i]} * samples[i];
    out.push_back(sum / kFrameSamples);
  }
  return out;
}

std::vector<double> LogEnergies(std::span<const float> samples) {
  std::vector<double> out = FramePower(samples);
  for (double& p : out) p = std::log(p + 1e-10);
  return out;
}

// The audio of one seam decode: [start, start + samples.size()) on its time line.
struct Window {
  int64_t start = 0;
  std::vector<float> samples;
};

// Decodes from `from` and keeps the time line's samples [keep, until) (keep none: from the first
// sample decoded; until none: to the end).
Result<Window> DecodeStretch(ByteSource& source, Millis from, std::optional<int64_t> keep,
                             std::optional<int64_t> until) {
  Window window;
  std::optional<int64_t> landed;  // where the decode's first sample lies
  auto sink = [&](Samples at, std::span<const float> block) {
    const int64_t first = at.count;
    if (!landed) {
      landed = first;
      window.start = keep.value_or(first);
      if (first > window.start) return false;  // the seek landed past what is to be kept
    }
    const int64_t block_end = first + std::ssize(block);
    const int64_t lo = std::clamp<int64_t>(window.start - first, 0, std::ssize(block));
    const int64_t hi =
        until ? std::clamp<int64_t>(*until - first, lo, std::ssize(block)) : std::ssize(block);
    window.samples.insert(window.samples.end(), block.begin() + lo, block.begin() + hi);
    return !until || block_end < *until;
  };
  if (auto r = DecodeByteSourceFrom(source, from, sink); !r) return std::unexpected(r.error());
  if (!landed)
    return Corruption(fmt::format("{}: no audio from {:.1f} s on", source.name(),
                                  static_cast<double>(from.count()) / 1000));
  if (*landed > window.start)
    return Corruption(fmt::format("{}: the seek to {:.1f} s landed at {:.1f} s, past {:.1f} s",
                                  source.name(), static_cast<double>(from.count()) / 1000,
                                  static_cast<double>(*landed) / kSampleRate,
                                  static_cast<double>(window.start) / kSampleRate));
  return window;
}

// The cut in `window` (its first 2 * search samples): on its time line, the start of the frame at
// the centre of its quietest `quiet` frames, frames counted from the window's start.
int64_t QuietestCut(const Window& window, int64_t quiet) {
  const std::vector<double> power = FramePower(window.samples);
  const auto n = std::ssize(power);
  const int64_t half = quiet / 2;
  double best = std::numeric_limits<double>::max();
  int64_t best_frame = n / 2;
  for (int64_t f = half; f + half < n; ++f) {
    double sum = 0;
    for (int64_t i = f - half; i <= f + half; ++i) sum += power[i];
    if (sum < best) {
      best = sum;
      best_frame = f;
    }
  }
  return window.start + best_frame * kFrameSamples;
}

// The seam at `boundary`: its window decoded as both chunks decode it.
Result<Window> SeamWindow(ByteSource& source, Millis boundary, const SeamOptions& options) {
  const Millis from = boundary - options.search - options.pre_roll;
  const int64_t keep = ToSamples(boundary - options.search).count;
  return DecodeStretch(source, from, keep, keep + 2 * ToSamples(options.search).count);
}

// How far past its place on `window`'s time line the same audio lies on `audio`'s, in samples,
// within +-drift: where their frame energies match best.
Result<int64_t> Lag(const Window& window, const Window& audio, int64_t drift,
                    const std::string& name) {
  const std::vector<double> seam = LogEnergies(window.samples);
  const std::vector<double> own = LogEnergies(audio.samples);
  const int64_t base = (window.start - audio.start) / kFrameSamples;  // lag 0, in frames
  const int64_t reach = drift / kFrameSamples;
  double best = std::numeric_limits<double>::max();
  int64_t best_lag = 0;
  for (int64_t lag = -reach; lag <= reach; ++lag) {
    const int64_t at = base + lag;
    if (at < 0 || at + std::ssize(seam) > std::ssize(own)) continue;
    double distance = 0;
    for (size_t i = 0; i < seam.size(); ++i) distance += std::abs(own[at + i] - seam[i]);
    distance /= static_cast<double>(seam.size());
    if (distance < best) {
      best = distance;
      best_lag = lag;
    }
  }
  if (best > kMaxMatchDistance)
    return Corruption(
        fmt::format("{}: the seam at {:.1f} s does not match this chunk's audio (distance {:.2f})",
                    name, static_cast<double>(window.start) / kSampleRate, best));
  return audio.start + (base + best_lag) * kFrameSamples - window.start;
}

}  // namespace

Millis SeamStart(const SeamPlan& plan, const SeamOptions& options) {
  return plan.begin ? *plan.begin - options.search : Millis(0);
}

Result<SeamedChunk> DecodeSeamedChunk(ByteSource& source, const SeamPlan& plan,
                                      const SeamOptions& options) {
  const int64_t quiet = std::max<int64_t>(1, options.quiet_window.count() / 10);
  const int64_t search = ToSamples(options.search).count;
  auto probe = ProbeByteSource(source);
  if (!probe) return std::unexpected(probe.error());
  const int64_t drift =
      ToSamples(probe->exact_seek ? std::min(options.max_drift, options.exact_drift)
                                  : options.max_drift)
          .count;
  // The right seam's window first: a header read again by the chunk's own decode (an M4A's moov,
  // megabytes in a long episode) is then still in the source's cache.
  std::optional<Window> seam;
  if (plan.end) {
    auto window = SeamWindow(source, *plan.end, options);
    if (!window) return std::unexpected(window.error());
    seam = std::move(*window);
  }
  // The chunk's own decode: from its left seam's window (the seam decode itself), or the start.
  Millis from{0};
  std::optional<int64_t> keep;
  if (plan.begin) {
    from = *plan.begin - options.search - options.pre_roll;
    keep = ToSamples(*plan.begin - options.search).count;
  }
  std::optional<int64_t> until;
  if (plan.end) until = ToSamples(*plan.end).count + search + drift;
  auto own = DecodeStretch(source, from, keep, until);
  if (!own) return std::unexpected(own.error());
  int64_t left = own->start;
  if (plan.begin) {
    if (std::ssize(own->samples) < 2 * search)
      return Corruption(fmt::format("{}: the audio ends before {:.1f} s", source.name(),
                                    static_cast<double>(own->start + 2 * search) / kSampleRate));
    left = QuietestCut(
        Window{own->start, {own->samples.begin(), own->samples.begin() + 2 * search}}, quiet);
  }
  int64_t right = own->start + std::ssize(own->samples);
  if (seam) {
    auto lag = Lag(*seam, *own, drift, source.name());
    if (!lag) return std::unexpected(lag.error());
    right = std::min(right, QuietestCut(*seam, quiet) + *lag);
  }
  if (right <= left)
    return Corruption(
        fmt::format("{}: the chunk's cuts cross ({} >= {})", source.name(), left, right));
  SeamedChunk chunk;
  chunk.audio.samples.assign(own->samples.begin() + (left - own->start),
                             own->samples.begin() + (right - own->start));
  chunk.offset = ToMillis(Samples{left}) - SeamStart(plan, options);
  return chunk;
}

}  // namespace podfleet
