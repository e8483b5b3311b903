#include "worker/origin_chunk.h"

#include "core/stitch.h"

namespace podfleet {

SeamPlan SeamPlanOf(const Chunk& chunk) {
  SeamPlan plan;
  if (chunk.index > 0) plan.begin = chunk.start + chunk.seam;
  if (chunk.end) plan.end = *chunk.end - chunk.seam;
  return plan;
}

Result<OriginChunk> ReadOriginChunk(HttpClient& http, const std::string& url, const Chunk& chunk,
                                    RangeSourceOptions options) {
  auto source = RangeSource::Open(http, url, std::move(options));
  if (!source) return std::unexpected(source.error());
  // SeamStart of this plan is chunk.start, so the cut's offset counts from the chunk's start.
  auto cut = DecodeSeamedChunk(**source, SeamPlanOf(chunk), SeamOptions{.search = chunk.seam});
  if (!cut) return std::unexpected(cut.error());
  return OriginChunk{std::move(cut->audio), cut->offset, (*source)->traffic()};
}

void ShiftOntoChunk(Transcript& transcript, Millis offset) {
  if (offset == Millis(0)) return;
  transcript = Stitch({ChunkTranscript{offset, std::move(transcript)}});
}

}  // namespace podfleet
