// Cutting long audio into chunks for engines that take one bounded request or one program run per
// chunk (remote servers, external commands), and putting their results back on one time line.
#pragma once

#include <string>
#include <vector>

#include "audio/audio.h"
#include "audio/pauses.h"
#include "core/model.h"

namespace podfleet {

// Groups SplitAtPauses' pieces into chunks no longer than `max_chunk`, cut only at pauses (a
// single piece is at most PauseOptions::max_piece, 20 s, so REQUIRES max_chunk >= 20 s). Leading,
// trailing and long inter-piece silence is left out; all-silent audio gives no chunks.
std::vector<Piece> PlanChunks(const PcmAudio& audio, Millis max_chunk);

// The samples of `piece`, as audio of its own.
PcmAudio Slice(const PcmAudio& audio, const Piece& piece);

// A time `seconds` into a chunk that starts at sample `chunk_begin`, in milliseconds from the start
// of the whole audio, rounded once (so chunk offsets add no error of their own).
Millis ChunkTime(Samples chunk_begin, double seconds);

// Appends `chunk`'s segments to `into`, dropping empty ones. Times must already be absolute.
void AppendSegments(std::vector<Segment>& into, std::vector<Segment> chunk);

}  // namespace podfleet
