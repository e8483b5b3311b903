// Cutting speech into pause-delimited pieces: PocketSphinx decodes each piece as one utterance,
// and the same cuts let one engine run several decoders on one file.
#pragma once

#include <vector>

#include "audio/audio.h"

namespace podfleet {

struct PauseOptions {
  Millis min_pause{250};   // a pause is at least this long...
  double pause_db = 25.0;  // ...and this many dB below the loud frames
  Millis min_piece{5'000};
  Millis max_piece{20'000};  // a piece longer than this is cut at its quietest frame
};

// A piece of audio [begin, end) in samples.
struct Piece {
  Samples begin;
  Samples end;
};

// Splits `audio` into pieces covering all of it except leading, trailing and inter-piece silence.
std::vector<Piece> SplitAtPauses(const PcmAudio& audio, const PauseOptions& options = {});

}  // namespace podfleet
