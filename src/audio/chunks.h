// Cutting a long episode into chunks that workers transcribe separately: each cut lies in the
// quiet stretch near the target length, so no word is cut in two.
#pragma once

#include <span>
#include <vector>

#include "audio/audio.h"
#include "audio/pauses.h"

namespace podfleet {

struct ChunkOptions {
  Millis target{600'000};    // a chunk is about this long...
  Millis search{30'000};     // ...give or take this much: the cut is a quiet point in range
  Millis quiet_window{300};  // the stretch whose energy is judged quiet, centred on the cut
  // When set, audio cut in several chunks starts with one about this long (its search a quarter
  // of it at most), so that its first chunk is ready early (the relay's first lease). Not below
  // 1 s; 0, or at or above `target`: the first chunk is like the others.
  Millis first{0};
};

// Splits `audio` into consecutive pieces that cover all of it, in order. Audio up to 1.25 targets
// long is one piece; otherwise the first cut lies within the search of `first` from the start
// (when shorter than the target) and cut k after it within `search` of k targets past it (not
// of a target past the previous cut: the errors of snapping to pauses do not add up, so audio
// of n targets becomes n pieces), at the centre of the quiet `quiet_window` there nearest that
// aim: quiet is at most twice the energy of the quietest in range, or silent on average (under
// -60 dBFS), so that on speech, which pauses every few seconds, chunks come out about as long as
// their aim says and spread evenly over workers. The last piece is at least a quarter of a target
// long. `search` is taken as at most a quarter of
// the target; a target of zero or less gives one piece.
std::vector<Piece> ChooseChunks(const PcmAudio& audio, const ChunkOptions& options = {});

// A chunk cut from audio that arrives as a stream: where it lies and its samples.
struct CutChunk {
  Piece piece;  // in samples from the start of the file
  std::vector<float> samples;
};

// ChooseChunks on audio that arrives block by block (DecodeAudioStream): makes the same cuts as
// ChooseChunks on the whole audio, handing each chunk over as soon as its end is settled, so that
// it holds at most about target + 2 x search + target/4 of audio however long the episode.
// Not thread-safe; one per stream.
class ChunkCutter {
 public:
  // `skip`: the samples before this are dropped and cutting starts there (an episode whose first
  // chunks were queued before a restart resumes at its next one).
  explicit ChunkCutter(const ChunkOptions& options, Samples skip = Samples{0});

  // Takes the next samples; returns the chunks now settled, in order.
  std::vector<CutChunk> Push(std::span<const float> block);
  // The end of the audio: returns the chunks left (at least one, possibly empty).
  std::vector<CutChunk> Finish();

  // Whether a cut still to make may look at any of the samples [begin, end) (from the start of
  // the file): false only for audio that no later cut can fall in or judge the quiet of, which
  // may then be pushed as silence (DecodeGrowingFile's `wanted`: only the chunks' ends are
  // kept, as on the relay's copy path). Until the short first chunk is cut, the stretches
  // around the later cuts are wider by its search, since those are aimed from where it ends.
  bool LooksAt(Samples begin, Samples end) const;

 private:
  CutChunk Take(int64_t end);
  // Where the next cut (after the short first chunk) is aimed, in samples from begin_.
  int64_t Aim() const;

  const int64_t target_;
  const int64_t search_;
  const int64_t window_;
  const int64_t first_;         // the first chunk's target, 0 when like the others
  const int64_t first_search_;  // and its search
  bool first_pending_;          // the first chunk is still to be cut
  int64_t to_skip_;
  int64_t begin_;              // where buffer_ starts, in samples from the start of the file
  std::vector<float> buffer_;  // the audio not yet handed over
  int64_t anchor_;             // where the cuts at whole targets are counted from
  int64_t cuts_ = 0;           // cuts made since anchor_
};

// The chunk target for an episode of `duration` when `free_workers` workers would otherwise wait
// for it: the chunk count is rounded up to a multiple of the free workers, so that the chunks
// finish in whole rounds. A 3-hour episode on 8 idle pods becomes 24 chunks of 7.5 minutes
// (3 full rounds, 1/8 of one pod's time) rather than 18 of 10 (3 rounds, the last 2/8 full:
// 1/6). No chunk is made shorter than half of `target`, and with fewer than 2 free workers, or
// an episode that is one chunk at `target`, the target stands.
//
// `first`: the length of a short first chunk cut before the `duration` spread here
// (ChunkOptions::first), 0 if none. When the chunks of first + duration come in whole rounds, a
// first chunk of at most half a chunk counts in its worker's rounds: the rounds are planned over
// first + duration, so the chunks after it are each a round's share and the last one is shorter
// by about the first chunk, for the worker that had the first chunk (as the claims come round,
// the last chunk goes to the worker that fell behind by the first one). A 1-minute first chunk and
// 179 minutes on 8 pods: 24 chunks of 7.5 minutes, the last 6.5 (every pod 22.5 minutes), not 24
// of 7.46 (the pod with the first 23.4). A longer first chunk is spread as a chunk of its own would
// be: the target of `duration` alone.
Millis SpreadTarget(Millis duration, Millis target, int free_workers, Millis first = Millis(0));

// The length of the short first chunk that ChooseChunks and ChunkCutter make of audio longer than
// 1.25 targets (ChunkOptions::first, about: it is cut at a pause); 0 when the first chunk is like
// the others.
Millis FirstChunk(const ChunkOptions& options);

}  // namespace podfleet
