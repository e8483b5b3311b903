// Whole episodes without holding them whole: the worker's audio of a whole episode (origin mode)
// is decoded as a stream and cut, at quiet points (audio/chunks.h ChunkCutter, as the relay cuts),
// into pieces of about ten minutes. Each piece is written to the work directory as a 16-bit WAV as
// soon as its end is settled; the engine later transcribes one piece at a time and the transcripts
// are stitched (core/stitch.h). Memory stays bounded by about two pieces (~80 MB) however long
// the episode; the disk holds ~115 MB per audio-hour until the engine is done. Audio short enough
// to be one piece is held in memory as before.
//
// Thread safety: free functions; different jobs may use them on different threads at once.
#pragma once

#include <filesystem>
#include <functional>
#include <stop_token>
#include <vector>

#include "audio/audio.h"
#include "audio/chunks.h"
#include "engines/engine.h"

namespace podfleet {

// One piece written to disk: where it lies in the episode and its file.
struct SpilledPiece {
  Millis start{0};
  Millis duration{0};
  std::filesystem::path file;
};

// What the engine gets for a job: the audio held, or (when `spilled` is not empty) its pieces.
struct PreparedAudio {
  PcmAudio held;
  std::vector<SpilledPiece> spilled;
  Millis duration() const;
};

// Decodes `source` (DecodeAudioStream) into a PreparedAudio, writing pieces as
// `<spill_prefix>-<i>.wav`. Errors as DecodeAudioStream's (a damaged or truncated file fails at
// the end); kUnavailable naming the file when a piece cannot be written (a full disk: the node's
// fault). On an error, the pieces written are removed.
Result<PreparedAudio> DecodeBounded(const std::filesystem::path& source,
                                    const std::filesystem::path& spill_prefix,
                                    const ChunkOptions& cuts,
                                    const std::function<bool(double)>& progress);

// Transcribes `audio` with `engine`: the held audio at once, or piece by piece, stitched onto the
// episode's time line. `progress` gets the fraction of the whole. Errors as Engine::Transcribe's;
// kUnavailable when a piece cannot be read back. `options` go to every Engine::Transcribe call.
Result<Transcript> TranscribePrepared(Engine& engine, const PreparedAudio& audio,
                                      const EngineProgress& progress, std::stop_token stop,
                                      const TranscribeOptions& options = {});

// Removes the pieces' files (after the engine, or when the job is dropped).
void RemoveSpilled(const PreparedAudio& audio);

}  // namespace podfleet
