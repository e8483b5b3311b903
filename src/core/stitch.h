// Stitching the transcripts of an episode's chunks into one episode transcript.
#pragma once

#include <vector>

#include "core/model.h"

namespace podfleet {

// One chunk's transcript, its times relative to the chunk's start in the episode.
struct ChunkTranscript {
  Millis start{0};
  Transcript transcript;
};

// Joins chunk transcripts into the episode's: segments and words are shifted by their chunk's
// start and ordered by chunk start; engine time is the sum, audio duration runs to the end of the
// last chunk. Language, engine and model are the first chunk's (a chunk that names none takes
// nothing away). An empty input gives an empty transcript.
Transcript Stitch(std::vector<ChunkTranscript> chunks);

}  // namespace podfleet
