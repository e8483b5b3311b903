// Chunks of an episode decoded straight from its origin by the workers that transcribe them
// (doc/relay.md "Origin ranges"): each chunk is planned between two boundaries on the episode's
// time line, and each boundary becomes a cut in the quietest stretch near it that the chunk before
// and the chunk after find alike, without seeing each other, so that the stitched transcript loses
// and doubles no word.
//
// How both sides agree: the cut at boundary B is the centre of the quietest `quiet_window` (on
// 10 ms frame energies) within B +- `search`, computed on the audio of one fixed decode: the file
// opened afresh, seeked through its index to B - search - pre_roll (DecodeByteSourceFrom) and
// decoded to B + search. Same bytes, same procedure: same samples, same cut. The chunk after B
// starts its own decode exactly so, and keeps the audio from the cut on. The chunk before B has
// decoded up to there from its own start, on a time line that may differ from the seam decode's
// by the index's error (a VBR MP3's table is coarse): it decodes the seam window too and finds
// where that audio lies in its own by matching their frame energies (within `max_drift`), and
// ends at the cut there. A match that is not clean is an error, never a guess.
//
// Thread safety: free functions; a source is read by one call at a time.
#pragma once

#include <optional>

#include "audio/audio.h"
#include "core/byte_source.h"

namespace podfleet {

struct SeamOptions {
  Millis search{15'000};     // a cut lies within this of its planned boundary
  Millis pre_roll{2'000};    // decoded before the search and dropped (bit reservoir, priming)
  Millis quiet_window{300};  // the stretch judged quiet, centred on the cut
  // How far a decode's time line may stray from the seam decode's: a VBR MP3's Xing table places
  // a seek only to within about 1/256 of the file. A source that seeks exactly
  // (SourceProbe::exact_seek) is given at most `exact_drift`, and so fetches less past its end.
  Millis max_drift{30'000};
  Millis exact_drift{2'000};
};

// A chunk's place in the plan: between two boundaries on the episode's time line.
struct SeamPlan {
  std::optional<Millis> begin;  // none: the episode's start (no left seam)
  std::optional<Millis> end;    // none: its end (no right seam)
};

struct SeamedChunk {
  PcmAudio audio;  // from the cut at `begin` (or the start) to the cut at `end` (or the end)
  // Where `audio` starts past SeamStart(plan): its transcript's times are shifted by this so that
  // they count from SeamStart, the chunk's start in the plan.
  Millis offset{0};
};

// Where a chunk's times count from: the start of its left search, 0 for the first chunk. Always at
// or before its audio.
Millis SeamStart(const SeamPlan& plan, const SeamOptions& options = {});

// Decodes the chunk `plan` names from `source`, reading only its stretch (and the seam windows).
// REQUIRES: begin < end, and each boundary at least search + pre_roll from the episode's start.
// Errors: the source's own, as they were; DecodeByteSourceFrom's; kCorruption when a seam's audio
// cannot be found in the chunk's own decode (an index that strays past max_drift).
Result<SeamedChunk> DecodeSeamedChunk(ByteSource& source, const SeamPlan& plan,
                                      const SeamOptions& options = {});

}  // namespace podfleet
