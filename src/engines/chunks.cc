#include "engines/chunks.h"

#include <algorithm>
#include <cmath>

namespace podfleet {

std::vector<Piece> PlanChunks(const PcmAudio& audio, Millis max_chunk) {
  const int64_t limit = ToSamples(max_chunk).count;
  std::vector<Piece> chunks;
  for (const Piece& p : SplitAtPauses(audio)) {
    if (!chunks.empty() && p.end.count - chunks.back().begin.count <= limit) {
      chunks.back().end = p.end;
    } else {
      chunks.push_back(p);
    }
  }
  return chunks;
}

PcmAudio Slice(const PcmAudio& audio, const Piece& piece) {
  PcmAudio out;
  out.samples.assign(audio.samples.begin() + piece.begin.count,
                     audio.samples.begin() + piece.end.count);
  return out;
}

Millis ChunkTime(Samples chunk_begin, double seconds) {
  const double ms =
      static_cast<double>(chunk_begin.count) * 1000.0 / kSampleRate + seconds * 1000.0;
  return Millis(std::llround(std::max(0.0, ms)));
}

void AppendSegments(std::vector<Segment>& into, std::vector<Segment> chunk) {
  for (Segment& s : chunk) {
    if (s.text.find_first_not_of(" \t\r\n") == std::string::npos && s.words.empty()) continue;
    into.push_back(std::move(s));
  }
}

}  // namespace podfleet
