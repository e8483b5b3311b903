// Cutting a long episode into chunks that workers transcribe separately: each cut lies in the
// quietest stretch near the target length, so no word is cut in two.
#pragma once

#include <vector>

#include "audio/audio.h"
#include "audio/pauses.h"

namespace podfleet {

struct ChunkOptions {
  Millis target{600'000};    // a chunk is about this long...
  Millis search{30'000};     // ...give or take this much: the cut is the quietest point in range
  Millis quiet_window{300};  // the stretch whose energy is judged quiet, centred on the cut
};

// Splits `audio` into consecutive pieces that cover all of it, in order. Audio up to 1.25 targets
// long is one piece; otherwise each cut lies within `search` of `target` past the previous one,
// at the centre of the quietest `quiet_window` there, and the last piece is at least a quarter
// of a target long. `search` is taken as at most a quarter of the target; a target of zero or
// less gives one piece.
std::vector<Piece> ChooseChunks(const PcmAudio& audio, const ChunkOptions& options = {});

// The chunk target for an episode of `duration` when `free_workers` workers would otherwise wait
// for it: the chunk count is rounded up to a multiple of the free workers, so that the chunks
// finish in whole rounds. A 3-hour episode on 8 idle pods becomes 24 chunks of 7.5 minutes
// (3 full rounds, 1/8 of one pod's time) rather than 18 of 10 (3 rounds, the last 2/8 full:
// 1/6). No chunk is made shorter than half of `target`, and with fewer than 2 free workers, or
// an episode that is one chunk at `target`, the target stands.
Millis SpreadTarget(Millis duration, Millis target, int free_workers);

}  // namespace podfleet
