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

}  // namespace podfleet
