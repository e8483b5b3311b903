#include "core/stitch.h"

#include <algorithm>

namespace podfleet {
namespace {

void Shift(Segment& s, Millis by) {
  s.start += by;
  s.end += by;
  for (Word& w : s.words) {
    w.start += by;
    w.end += by;
  }
}

}  // namespace

Transcript Stitch(std::vector<ChunkTranscript> chunks) {
  std::stable_sort(
      chunks.begin(), chunks.end(),
      [](const ChunkTranscript& a, const ChunkTranscript& b) { return a.start < b.start; });
  Transcript out;
  for (ChunkTranscript& c : chunks) {
    Transcript& t = c.transcript;
    if (out.language.empty()) out.language = t.language;
    if (out.engine.empty()) out.engine = t.engine;
    if (out.model.empty()) out.model = t.model;
    out.engine_time += t.engine_time;
    out.audio_duration = std::max(out.audio_duration, c.start + t.audio_duration);
    for (Segment& s : t.segments) {
      Shift(s, c.start);
      out.segments.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace podfleet
