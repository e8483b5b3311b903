// Origin-range mode (`serve --audio ranges`, doc/relay.md "Origin ranges"): the coordinator only
// probes an episode's header at its origin and plans its chunks; each worker reads its chunk's
// byte ranges from the origin and cuts its edges at seams (worker/origin_chunk.h), so no audio
// passes through the coordinator. Pure functions; the relay (relay.h) calls them.
#pragma once

#include <string>
#include <vector>

#include "audio/chunks.h"
#include "audio/source_decoder.h"
#include "core/model.h"

namespace podfleet {

// The most a seam is searched either side of a planned boundary.
inline constexpr Millis kMaxSeam{15'000};
// Decoded before a seam's search and dropped (SeamOptions::pre_roll): no boundary lies closer to
// the start than a seam and this.
inline constexpr Millis kSeamPreRoll{2'000};

// Why an episode whose header `probe` describes cannot be read by ranges, or empty when it can:
// MP3 whose seeks have an index or a constant bit rate behind them (Xing/Info/VBRI header), and
// MP4/M4A (sample tables). Anything else, or a duration the header only guesses, is relayed.
std::string RangesRefusal(const SourceProbe& probe);

// The chunks of an episode `duration` long, planned as `chunking` and the relay would cut them (a
// short first chunk of about chunking.first, the rest spread over `free_workers` by
// SpreadTarget), as seam chunks: each boundary is searched min(kMaxSeam, a fifth of the target)
// either side, chunk i spans from its left boundary less the seam to its right boundary plus the
// seam (Chunk::seam). An episode that is one chunk gives one whole chunk with exact edges (its
// worker fetches the whole file from the origin). Index and count are set.
std::vector<Chunk> PlanSeamChunks(Millis duration, const ChunkOptions& chunking, int free_workers);

}  // namespace podfleet
