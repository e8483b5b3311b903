#include "coordinator/origin_ranges.h"

#include <algorithm>
#include <cmath>

namespace podfleet {

std::string RangesRefusal(const SourceProbe& probe) {
  const bool mp3 = probe.format == "mp3";
  const bool mp4 = probe.format.find("mp4") != std::string::npos ||
                   probe.format.find("m4a") != std::string::npos;
  if (!mp3 && !mp4) return "format " + probe.format + " has no seek index ranges can use";
  if (probe.estimated)
    return "its duration is only estimated from its bit rate (an MP3 without Xing/Info/VBRI "
           "header): seeks would be guesses";
  if (probe.duration <= Millis(0)) return "no duration";
  return "";
}

std::vector<Chunk> PlanSeamChunks(Millis duration, const ChunkOptions& chunking, int free_workers) {
  const Millis target = chunking.target;
  if (target <= Millis(0) || duration <= target + target / 4) return {Chunk{}};
  const Millis seam = std::min(kMaxSeam, target / 5);
  std::vector<Millis> boundaries;
  Millis first = FirstChunk(chunking);
  if (first < seam + kSeamPreRoll || first >= target) first = Millis(0);
  if (first > Millis(0)) boundaries.push_back(first);
  const Millis left = duration - first;
  const Millis spread = SpreadTarget(left, target, free_workers, first);
  const auto pieces = std::max<int64_t>(
      1, std::llround(static_cast<double>(left.count()) / static_cast<double>(spread.count())));
  // Where the first chunk counts in its worker's rounds (SpreadTarget), the boundaries lie a
  // spread apart and the last chunk is the shorter one, as the relay cuts; else evenly.
  const bool first_counted = spread != SpreadTarget(left, target, free_workers);
  for (int64_t i = 1; i < pieces; ++i)
    boundaries.push_back(first + (first_counted ? spread * i : left * i / pieces));

  if (boundaries.empty()) return {Chunk{}};
  std::vector<Chunk> chunks;
  const int count = static_cast<int>(boundaries.size()) + 1;
  for (int i = 0; i < count; ++i) {
    Chunk c;
    c.index = i;
    c.count = count;
    c.seam = seam;
    if (i > 0) c.start = boundaries[i - 1] - seam;
    if (i + 1 < count) c.end = boundaries[i] + seam;
    chunks.push_back(c);
  }
  return chunks;
}

}  // namespace podfleet
