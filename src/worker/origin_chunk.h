// A seam chunk (Chunk::seam > 0, `serve --audio ranges`, doc/relay.md "Origin ranges") read
// straight from the episode's origin by HTTP Range requests and cut at its seams
// (audio/seams.h): only its stretch of the file is fetched, never the whole file, and nothing
// passes through the coordinator.
//
// Thread safety: free functions; each call uses its own RangeSource.
#pragma once

#include <string>

#include "audio/seams.h"
#include "core/model.h"
#include "net/range_source.h"

namespace podfleet {

// Where `chunk`'s planned boundaries lie (Chunk::seam): start + seam unless it is the first
// chunk, end - seam unless it runs to the end. REQUIRES: chunk.seam > 0.
SeamPlan SeamPlanOf(const Chunk& chunk);

struct OriginChunk {
  PcmAudio audio;
  Millis offset{0};  // where `audio` starts past chunk.start (SeamedChunk::offset)
  RangeTraffic traffic;
};

// Reads `chunk` of the file at `url` with `options` (the caller decides which headers the origin
// may see and which addresses it may connect to). Errors: RangeSource::Open's (the origin ignores
// or refuses Range: kInvalidArgument naming it; gone: kNotFound), DecodeSeamedChunk's
// (kCorruption when a seam cannot be found, or the origin answers wrong midway), kUnavailable
// "stopped" soon after `options.stop` is requested (within a block).
Result<OriginChunk> ReadOriginChunk(HttpClient& http, const std::string& url, const Chunk& chunk,
                                    RangeSourceOptions options);

// Moves a chunk's transcript onto its chunk's time line: segments and words shifted by `offset`,
// and the audio it covers counted from the chunk's start, so that the store's stitching (shift by
// chunk start) places it on the episode's.
void ShiftOntoChunk(Transcript& transcript, Millis offset);

}  // namespace podfleet
