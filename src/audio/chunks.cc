#include "audio/chunks.h"

#include <algorithm>
#include <limits>

namespace podfleet {
namespace {

constexpr int64_t kFrameSamples = kSampleRate / 100;  // 10 ms

// Mean square of each 10 ms frame.
std::vector<double> FramePower(std::span<const float> samples) {
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

// Mean square of a 10 ms frame under which audio counts as silent (-60 dBFS).
constexpr double kSilentPower = 1e-6;

// The frame in [lo, hi) nearest `aim` at the centre of a quiet `window`-frame stretch: one whose
// energy is at most twice the least in range, or silent throughout on average (kSilentPower).
// Speech has a pause every few seconds, so the cut lands near its aim rather than wherever the
// single quietest pause happens to be (chunks of even length spread evenly over workers).
int64_t QuietFrameNearest(const std::vector<double>& power, int64_t lo, int64_t hi, int64_t window,
                          int64_t aim) {
  const auto n = static_cast<int64_t>(power.size());
  const int64_t half = window / 2;
  double sum = 0;
  int64_t begin = std::max<int64_t>(0, lo - half);
  int64_t end = begin;
  std::vector<double> energy;  // of the stretch centred on frame lo + i
  energy.reserve(static_cast<size_t>(std::max<int64_t>(0, hi - lo)));
  for (int64_t f = lo; f < hi; ++f) {
    const int64_t want_begin = std::max<int64_t>(0, f - half);
    const int64_t want_end = std::min(n, f + half + 1);
    while (end < want_end) sum += power[end++];
    while (begin < want_begin) sum -= power[begin++];
    energy.push_back(std::max(0.0, sum));  // running sums may drift just below 0
  }
  if (energy.empty()) return lo;
  const double least = *std::min_element(energy.begin(), energy.end());
  const double quiet = std::max(2 * least, kSilentPower * static_cast<double>(window));
  int64_t best_frame = lo;
  int64_t best_distance = std::numeric_limits<int64_t>::max();
  for (int64_t f = lo; f < hi; ++f) {
    if (energy[static_cast<size_t>(f - lo)] > quiet) continue;
    const int64_t distance = f > aim ? f - aim : aim - f;
    if (distance < best_distance) {
      best_distance = distance;
      best_frame = f;
    }
  }
  return best_frame;
}

int64_t SearchOf(const ChunkOptions& options) {
  return std::clamp<int64_t>(ToSamples(options.search).count, 0,
                             ToSamples(options.target).count / 4);
}

int64_t WindowOf(const ChunkOptions& options) {
  return std::max<int64_t>(1, options.quiet_window.count() / 10);
}

// The length of the chunk that starts `audio` (the samples from its start on), in audio that has
// `left` samples from there to its end (at least those of `audio`): its end is the quiet point
// nearest `aim` samples from its start within `search` of it (QuietFrameNearest), leaving the
// last chunk a quarter of `target` at least.
int64_t ChunkLength(std::span<const float> audio, int64_t left, int64_t target, int64_t aim,
                    int64_t search, int64_t window) {
  const int64_t lo = std::max<int64_t>(1, aim - search) / kFrameSamples;
  const int64_t hi = std::min(left - target / 4, aim + search) / kFrameSamples;
  if (hi <= lo) return std::max<int64_t>(1, aim);
  const auto reach =
      std::min<size_t>(audio.size(), static_cast<size_t>(hi + window) * kFrameSamples);
  return QuietFrameNearest(FramePower(audio.first(reach)), lo, hi, window, aim / kFrameSamples) *
         kFrameSamples;
}

// The first chunk's target in samples, 0 when it is like the others.
int64_t FirstOf(const ChunkOptions& options) {
  const int64_t first = std::max<int64_t>(ToSamples(options.first).count, kSampleRate);
  const int64_t target = ToSamples(options.target).count;
  return options.first > Millis(0) && first < target ? first : 0;
}

int64_t FirstSearchOf(const ChunkOptions& options) {
  return std::min(SearchOf(options), FirstOf(options) / 4);
}

// A chunk of `left` samples is cut again while it is longer than this.
bool TooLong(int64_t left, int64_t target) { return target > 0 && left > target + target / 4; }

// The chunks (whole rounds over `workers`, none under half of `length`) that `total` is spread
// in, or 0 when `total` is cut at `length` in whole rounds already.
int64_t SpreadChunks(int64_t total, int64_t length, int64_t workers) {
  const int64_t pieces = (total + length - 1) / length;
  const int64_t rounds = (pieces + workers - 1) / workers;
  const int64_t spread = std::min(rounds * workers, total / (length / 2));
  return spread > pieces ? spread : 0;
}

}  // namespace

std::vector<Piece> ChooseChunks(const PcmAudio& audio, const ChunkOptions& options) {
  const int64_t total = audio.size().count;
  const int64_t target = ToSamples(options.target).count;
  std::vector<Piece> pieces;
  const int64_t first = FirstOf(options);
  int64_t begin = 0;
  int64_t anchor = 0;  // cut k after the short first chunk is aimed at anchor + k targets
  int64_t cuts = 0;
  while (TooLong(total - begin, target)) {
    const std::span<const float> rest(audio.samples.data() + begin,
                                      static_cast<size_t>(total - begin));
    int64_t length = 0;
    if (begin == 0 && first > 0) {
      length = ChunkLength(rest, total, first, first, FirstSearchOf(options), WindowOf(options));
      anchor = length;
    } else {
      ++cuts;
      length = ChunkLength(rest, total - begin, target, anchor + cuts * target - begin,
                           SearchOf(options), WindowOf(options));
    }
    pieces.push_back({Samples{begin}, Samples{begin + length}});
    begin += length;
  }
  pieces.push_back({Samples{begin}, Samples{total}});
  return pieces;
}

ChunkCutter::ChunkCutter(const ChunkOptions& options, Samples skip)
    : target_(ToSamples(options.target).count),
      search_(SearchOf(options)),
      window_(WindowOf(options)),
      first_(FirstOf(options)),
      first_search_(FirstSearchOf(options)),
      first_pending_(skip.count == 0 && first_ > 0),
      to_skip_(skip.count),
      begin_(skip.count),
      anchor_(skip.count) {}

std::vector<CutChunk> ChunkCutter::Push(std::span<const float> block) {
  const auto skipped = static_cast<size_t>(std::min<int64_t>(to_skip_, ssize(block)));
  to_skip_ -= static_cast<int64_t>(skipped);
  buffer_.insert(buffer_.end(), block.begin() + static_cast<std::ptrdiff_t>(skipped), block.end());
  std::vector<CutChunk> out;
  // With more than 1.25 targets in hand the audio is cut in several chunks, and with this much
  // the short first one's cut no longer depends on where the audio ends: as ChooseChunks cuts it.
  if (first_pending_ && ssize(buffer_) > target_ + target_ / 4 &&
      ssize(buffer_) > first_ + first_ / 4 + first_search_ + (window_ + 1) * kFrameSamples) {
    const int64_t far = std::numeric_limits<int64_t>::max() / 2;
    out.push_back(Take(ChunkLength(buffer_, far, first_, first_, first_search_, window_)));
  }
  // With this much in hand, the cut of ChooseChunks no longer depends on where the audio ends.
  while (!first_pending_ && target_ > 0 && ssize(buffer_) > Aim() + search_ + target_ / 4) {
    const int64_t far = std::numeric_limits<int64_t>::max() / 2;
    out.push_back(Take(ChunkLength(buffer_, far, target_, Aim(), search_, window_)));
  }
  return out;
}

std::vector<CutChunk> ChunkCutter::Finish() {
  std::vector<CutChunk> out;
  while (TooLong(ssize(buffer_), target_)) {
    const int64_t target = first_pending_ ? first_ : target_;
    const int64_t aim = first_pending_ ? first_ : Aim();
    const int64_t search = first_pending_ ? first_search_ : search_;
    out.push_back(Take(ChunkLength(buffer_, ssize(buffer_), target, aim, search, window_)));
  }
  out.push_back(Take(ssize(buffer_)));
  return out;
}

CutChunk ChunkCutter::Take(int64_t length) {
  CutChunk chunk;
  chunk.piece = {Samples{begin_}, Samples{begin_ + length}};
  chunk.samples.assign(buffer_.begin(), buffer_.begin() + length);
  buffer_.erase(buffer_.begin(), buffer_.begin() + length);
  begin_ += length;
  if (first_pending_) {
    anchor_ = begin_;
  } else {
    ++cuts_;
  }
  first_pending_ = false;
  return chunk;
}

bool ChunkCutter::LooksAt(Samples begin, Samples end) const {
  if (target_ <= 0) return true;
  // A cut aimed at `aim` and searched within `search` of it judges the window around each point.
  const int64_t margin = (window_ + 1) * kFrameSamples;
  // Whether [begin, end) meets [aim - radius, aim + radius) for an aim of base + k targets,
  // k >= k0 (the first such stretch that ends after `begin` is the only one that may).
  auto meets = [&](int64_t base, int64_t k0, int64_t radius) {
    const int64_t past = begin.count - radius - base;
    const int64_t k = std::max(k0, past <= 0 ? 0 : (past + target_ - 1) / target_);
    return base + k * target_ - radius < end.count;
  };
  if (!first_pending_) return meets(anchor_, cuts_ + 1, search_ + margin);
  // The first cut lies within first_search_ of first_, and the later ones are aimed from it.
  const int64_t first_reach = first_search_ + margin;
  if (begin.count < first_ + first_reach && end.count > first_ - first_reach) return true;
  return meets(first_, 1, search_ + first_search_ + margin);
}

int64_t ChunkCutter::Aim() const { return anchor_ + (cuts_ + 1) * target_ - begin_; }

Millis SpreadTarget(Millis duration, Millis target, int free_workers, Millis first) {
  const int64_t rest = duration.count();
  const int64_t length = target.count();
  if (free_workers < 2 || length <= 1 || rest <= length + length / 4) return target;
  if (first > Millis(0)) {
    // The first chunk takes part of a round's share: the rounds are of first + rest.
    const int64_t total = rest + first.count();
    const int64_t pieces = (total + length - 1) / length;
    const int64_t chunks = std::max(pieces, SpreadChunks(total, length, free_workers));
    const int64_t share = (total + chunks - 1) / chunks;
    // In whole rounds the first chunk's worker takes another chunk, the last one: the others'
    // share less the first chunk.
    if (chunks % free_workers == 0 && first.count() <= share / 2)
      return Millis(std::min(share, length));
  }
  const int64_t spread = SpreadChunks(rest, length, free_workers);
  if (spread == 0) return target;
  return Millis((rest + spread - 1) / spread);
}

Millis FirstChunk(const ChunkOptions& options) { return ToMillis(Samples{FirstOf(options)}); }

}  // namespace podfleet
