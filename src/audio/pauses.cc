// SplitAtPauses works on 10 ms frames: a frame is quiet when its energy is pause_db below the
// loud reference (the 95th percentile of frame energies, so a few clicks do not set it), and a
// run of quiet frames at least min_pause long separates speech.
#include "audio/pauses.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace podfleet {
namespace {

constexpr int64_t kFrameSamples = kSampleRate / 100;
constexpr double kLoudPercentile = 0.95;
// When even the loud frames are this quiet, the audio is silence (16-bit dither sits near -90).
constexpr double kSilenceFloorDb = -70.0;
// Silence kept on each side of a piece: recognizers expect an utterance to start and end quietly.
constexpr int64_t kPadFrames = 10;

// A run of frames [begin, end).
struct Span {
  int64_t begin;
  int64_t end;
  int64_t size() const { return end - begin; }
};

int64_t ToFrames(Millis m) { return std::max<int64_t>(1, m.count() / 10); }

std::vector<double> FrameEnergyDb(const std::vector<float>& samples) {
  const auto total = static_cast<int64_t>(samples.size());
  std::vector<double> db;
  db.reserve(static_cast<size_t>((total + kFrameSamples - 1) / kFrameSamples));
  for (int64_t begin = 0; begin < total; begin += kFrameSamples) {
    const int64_t end = std::min(total, begin + kFrameSamples);
    double sum = 0;
    for (int64_t i = begin; i < end; ++i) sum += double{samples[i]} * samples[i];
    db.push_back(10.0 * std::log10(sum / static_cast<double>(end - begin) + 1e-12));
  }
  return db;
}

double Percentile(std::vector<double> values, double p) {
  const auto k = static_cast<size_t>(p * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

// The runs of frames between pauses. Quiet runs at the very start and end are silence whatever
// their length; inside, only runs of at least `min_pause` frames separate speech.
std::vector<Span> FindSpeech(const std::vector<double>& db, double quiet_below, int64_t min_pause) {
  const auto n = static_cast<int64_t>(db.size());
  std::vector<Span> speech;
  int64_t speech_begin = -1;
  int64_t f = 0;
  while (f < n) {
    if (db[f] >= quiet_below) {
      if (speech_begin < 0) speech_begin = f;
      ++f;
      continue;
    }
    const int64_t quiet_begin = f;
    while (f < n && db[f] < quiet_below) ++f;
    const bool separates = f - quiet_begin >= min_pause || f == n;
    if (separates && speech_begin >= 0) {
      speech.push_back({speech_begin, quiet_begin});
      speech_begin = -1;
    }
  }
  if (speech_begin >= 0) speech.push_back({speech_begin, n});
  return speech;
}

// Joins neighbouring runs until a piece is at least `min_size` long, without passing `max_size`.
std::vector<Span> GroupIntoPieces(const std::vector<Span>& speech, int64_t min_size,
                                  int64_t max_size) {
  std::vector<Span> pieces;
  for (const Span& run : speech) {
    if (!pieces.empty()) {
      Span& last = pieces.back();
      if (last.size() < min_size && run.end - last.begin <= max_size) {
        last.end = run.end;
        continue;
      }
    }
    pieces.push_back(run);
  }
  if (pieces.size() >= 2) {
    const Span& last = pieces.back();
    Span& previous = pieces[pieces.size() - 2];
    if (last.size() < min_size && last.end - previous.begin <= max_size) {
      previous.end = last.end;
      pieces.pop_back();
    }
  }
  return pieces;
}

// The mean energy of the 50 ms around frame f, so that one quiet frame inside a word does not
// attract a cut.
double SmoothedDb(const std::vector<double>& db, int64_t f) {
  const int64_t begin = std::max<int64_t>(0, f - 2);
  const int64_t end = std::min<int64_t>(static_cast<int64_t>(db.size()), f + 3);
  return std::accumulate(db.begin() + begin, db.begin() + end, 0.0) /
         static_cast<double>(end - begin);
}

// Cuts pieces longer than `max_size` at their quietest frame, each part at least `min_size`
// (or half of max_size, if that is smaller) and at most `max_size` long.
std::vector<Span> CutLongPieces(const std::vector<Span>& pieces, const std::vector<double>& db,
                                int64_t min_size, int64_t max_size) {
  const int64_t shortest = std::clamp<int64_t>(std::min(min_size, max_size / 2), 1, max_size);
  std::vector<Span> out;
  for (Span piece : pieces) {
    while (piece.size() > max_size) {
      int64_t cut = piece.begin + shortest;
      for (int64_t f = cut + 1; f < piece.begin + max_size; ++f) {
        if (SmoothedDb(db, f) < SmoothedDb(db, cut)) cut = f;
      }
      out.push_back({piece.begin, cut});
      piece.begin = cut;
    }
    out.push_back(piece);
  }
  return out;
}

// Extends each piece by up to kPadFrames into the silence around it, sharing a gap fairly with
// its neighbour, and converts frames to samples.
std::vector<Piece> PadToSamples(const std::vector<Span>& spans, int64_t frames, Samples total) {
  std::vector<Piece> pieces;
  pieces.reserve(spans.size());
  for (size_t i = 0; i < spans.size(); ++i) {
    const int64_t before = i == 0 ? spans[i].begin : (spans[i].begin - spans[i - 1].end) / 2;
    const int64_t after =
        i + 1 == spans.size() ? frames - spans[i].end : (spans[i + 1].begin - spans[i].end) / 2;
    const int64_t begin = spans[i].begin - std::min(kPadFrames, before);
    const int64_t end = spans[i].end + std::min(kPadFrames, after);
    pieces.push_back(
        {Samples{begin * kFrameSamples}, Samples{std::min(end * kFrameSamples, total.count)}});
  }
  return pieces;
}

}  // namespace

std::vector<Piece> SplitAtPauses(const PcmAudio& audio, const PauseOptions& options) {
  if (audio.samples.empty()) return {};
  const std::vector<double> db = FrameEnergyDb(audio.samples);
  const double loud = Percentile(db, kLoudPercentile);
  if (loud < kSilenceFloorDb) return {};
  const int64_t min_size = ToFrames(options.min_piece);
  const int64_t max_size = std::max(ToFrames(options.max_piece), min_size);
  const std::vector<Span> speech =
      FindSpeech(db, loud - options.pause_db, ToFrames(options.min_pause));
  const std::vector<Span> pieces =
      CutLongPieces(GroupIntoPieces(speech, min_size, max_size), db, min_size, max_size);
  return PadToSamples(pieces, static_cast<int64_t>(db.size()), audio.size());
}

}  // namespace podfleet
